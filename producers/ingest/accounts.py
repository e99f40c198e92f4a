"""Writes about accounts: follows, follow-request decisions, profile edits, dev sign-in.

``follow.requested`` is published for every follow: the graph processor turns it into
an edge at once for a public account and into a pending request for a private one, so
ingest never has to decide (and cannot race a private -> public switch). Approving or
rejecting needs a pending request: without that check any private user could add
followers to themselves.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass

from cassandra.cluster import Session

from infra.http.auth import mint
from infra.settings import Settings
from producers.ingest.events import Emitter, event, invalid
from producers.ingest.lookups import existing_user, not_found
from schemas.envelope import Event
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.ids import SHARDS, IdGenerator
from schemas.users import UserProfileUpdated, UserRegistered
from sinks import graph, users

#: How long a dev sign-in waits for a new account to be stored by the graph processor.
REGISTRATION_WAIT_SECONDS = 10.0


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
                 settings: Settings) -> None:
        self.session = session
        self.emitter = emitter
        self.ids = ids
        self.settings = settings

    async def follow(self, user: int, target: int) -> None:
        if target == user:
            raise invalid("path.user_id", "you cannot follow yourself")
        await existing_user(self.session, target)
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

    async def dev_session(self, username: str) -> DevSession:
        """Sign in as ``username`` (development only), registering it if it is new.

        A new account is waited for until the graph processor has stored it (a few
        hundred ms on the local stack), so the client's next read finds the profile and
        a second sign-in with the same name does not register it twice.
        """
        name = username.strip().lower()
        self._registration(0, name)  # 422 for a bad name before any lookup
        existing = await users.user_id_for(self.session, name)
        if existing is not None:
            return DevSession(mint(existing, self.settings), existing, name, created=False)
        shard = zlib.crc32(name.encode()) % SHARDS  # spread new accounts over shards
        user_id = await self.ids.anext_id(shard)
        await self.emitter.emit(self._registration(user_id, name).payload)
        await self._stored(name, user_id)
        return DevSession(mint(user_id, self.settings), user_id, name, created=True)

    @staticmethod
    def _registration(user_id: int, username: str) -> Event[UserRegistered]:
        return event(UserRegistered(user_id=user_id, username=username, display_name=username,
                                    bio="", private=False))

    async def _stored(self, username: str, user_id: int) -> None:
        deadline = time.monotonic() + REGISTRATION_WAIT_SECONDS
        while time.monotonic() < deadline:
            if await users.user_id_for(self.session, username) == user_id:
                return
            await asyncio.sleep(0.1)
