"""Writes about accounts: follows, follow-request decisions, profile edits, sign-outs,
account deletion, dev sign-in.

``follow.requested`` is published for every follow: the graph processor turns it into
an edge at once for a public account and into a pending request for a private one, so
ingest never has to decide (and cannot race a private -> public switch). Approving or
rejecting needs a pending request: without that check any private user could add
followers to themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session

from infra.http.auth import mint
from infra.settings import Settings
from producers.ingest.events import Emitter, invalid
from producers.ingest.lookups import BlockGuard, existing_user, not_found
from producers.ingest.registration import new_user_id, registration, wait_until_stored
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.ids import IdGenerator
from schemas.users import UserDeleted, UserProfileUpdated, UserSessionsRevoked
from sinks import credentials, graph, users
from sinks.identity import Identities


@dataclass(frozen=True)
class DevSession:
    """The answer of a dev sign-in."""

    token: str
    user_id: int
    username: str
    created: bool


@dataclass(frozen=True)
class ProfileChange:
    """Fields of ``PATCH /v1/me``; None keeps the stored value."""

    display_name: str | None = None
    bio: str | None = None
    private: bool | None = None


class Accounts:
    def __init__(self, session: Session, emitter: Emitter, ids: IdGenerator,
                 settings: Settings, identities: Identities, guard: BlockGuard) -> None:
        self.session = session
        self.guard = guard
        self.emitter = emitter
        self.ids = ids
        self.settings = settings
        self.identities = identities

    async def follow(self, user: int, target: int) -> None:
        if target == user:
            raise invalid("path.user_id", "you cannot follow yourself")
        await existing_user(self.session, target)
        await self.guard.check(user, target, "follow")
        await self.emitter.emit(FollowRequested(follower_id=user, followee_id=target))

    async def unfollow(self, user: int, target: int) -> None:
        """Unfollow, or withdraw a pending request (``follow.removed`` covers both)."""
        await existing_user(self.session, target)
        await self.emitter.emit(FollowRemoved(follower_id=user, followee_id=target))

    async def decide(self, user: int, follower: int, *, approve: bool) -> None:
        """Approve or reject ``follower``'s pending request to follow ``user``."""
        if not await graph.has_request(self.session, follower, user):
            raise not_found("follow request")
        kind = FollowApproved if approve else FollowRejected
        await self.emitter.emit(kind(follower_id=follower, followee_id=user))

    async def update_profile(self, user: int, change: ProfileChange) -> None:
        """``user.profile_updated`` carries the whole profile: the stored one, merged."""
        current = await existing_user(self.session, user)
        await self.emitter.emit(UserProfileUpdated(
            user_id=user, username=current.username,
            display_name=current.display_name if change.display_name is None
            else change.display_name.strip(),
            bio=current.bio if change.bio is None else change.bio.strip(),
            private=current.private if change.private is None else change.private,
        ))

    async def revoke_sessions(self, user: int) -> None:
        """Sign out everywhere: every token of ``user`` issued before now stops working.

        The event is the durable record (the graph processor stores it); the cached
        identity is updated here too, so the revocation holds from this answer on, on
        every replica, instead of once the processor has caught up.
        """
        now = datetime.now(UTC)
        await self.emitter.emit(UserSessionsRevoked(user_id=user, tokens_valid_after=now))
        await self.identities.revoke(user, now)

    async def delete_account(self, user: int) -> None:
        """Delete ``user``'s account: ``user.deleted``, and the account stops working now.

        The event goes first: once Kafka has it, the deletion will happen (the processors
        erase the profile and sweep everything else, :mod:`processors.erasure`), so a
        failure after it (503) never leaves a half-deleted account that can no longer ask
        again. Then the marker is stored (``users.deleted_at``, as of the event) and the
        cached identity says "unknown": from this answer on, every token of the account
        is refused by both services, however far behind the processors are. Last, the
        password hash is forgotten and the username and email claims freed
        (:func:`sinks.credentials.erase`); a retry of a request that failed there redoes
        it all harmlessly.
        """
        deleted = await self.emitter.emit(UserDeleted(user_id=user))
        await users.mark_deleted(self.session, user, deleted.occurred_at)
        await self.identities.forget(user)
        await credentials.erase(self.session, user)

    async def dev_session(self, username: str) -> DevSession:
        """Sign in as ``username`` (development only), registering it if it is new.

        A new account is waited for until the graph processor has stored its ``users``
        row (a few hundred ms on the local stack), so the client's next request passes
        the identity check (:mod:`sinks.identity`, which reads that row), its next read
        finds the profile, and a second sign-in with the same name does not register it
        twice. A new name is claimed like a sign-up's (:mod:`sinks.credentials`), so a dev
        account and a password account can never share a name; a sign-in that finds the
        name claimed waits for its row too. Any account may be entered this way: the dev
        sign-in is a development convenience that production does not have.
        """
        name = username.strip().lower()
        registration(0, name)  # 422 for a bad name before any lookup
        existing = await self._holder(name)
        if existing is None:
            user_id = await new_user_id(self.ids, name)
            existing = await credentials.claim(self.session, "username_claims", name, user_id)
            if existing == user_id:
                await self.emitter.emit(registration(user_id, name).payload)
                await wait_until_stored(self.session, user_id)
                return DevSession(mint(user_id, self.settings), user_id, name, created=True)
        await wait_until_stored(self.session, existing)
        return DevSession(mint(existing, self.settings), existing, name, created=False)

    async def _holder(self, name: str) -> int | None:
        """Who has ``name``: a claim, or (accounts from before claims) the stored profile."""
        holder = await credentials.holder(self.session, "username_claims", name)
        return holder if holder is not None else await users.user_id_for(self.session, name)
