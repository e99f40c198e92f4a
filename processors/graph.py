"""photostream-graph: user profiles and the follow graph.

Consumes users (registered / profile updated), sessions (sign-outs everywhere) and
follows (requested, approved, rejected, removed). A request to a public account becomes
an edge at once; to a private account (or one whose registration we have not seen yet)
it waits in ``follow_requests``. When an account turns public, its pending requests
become edges (as Instagram does). A sign-out everywhere is stored on the user's row
(:func:`sinks.identity.store_revocation`) for the services' identity check.

The fan-out processor consumes the follows topic itself, in its own group, and asks
:func:`sinks.graph.is_following` whether an edge is active; nothing extra is published
here. Edges created by a private -> public switch have no follow event of their own, so
the fan-out's lazy timeline rebuild covers their backfill.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.topics import GRAPH_GROUP
from schemas.users import UserProfileUpdated, UserRegistered, UserSessionsRevoked
from sinks import cache, graph, identity, search, users
from sinks.statements import micros


class GraphProcessor(StoreProcessor):
    name: ClassVar[str] = GRAPH_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = GRAPH_GROUP.topic_names
    uses_redis: ClassVar[bool] = True

    async def handle(self, message: Message) -> None:
        event = message.event
        payload = event.payload
        if isinstance(payload, UserRegistered | UserProfileUpdated):
            async with self.lock(payload.user_id):
                await self._profile(payload, event.occurred_at)
        elif isinstance(payload, UserSessionsRevoked):
            await identity.store_revocation(self.session, payload.user_id,
                                            payload.tokens_valid_after)
            await identity.invalidate(self.redis, [payload.user_id])
        elif isinstance(payload, FollowRequested | FollowApproved | FollowRejected
                        | FollowRemoved):
            # Locked by followee: a private -> public switch promotes its requests.
            async with self.lock(payload.followee_id):
                await self._edge(payload, event.occurred_at)

    async def _profile(self, p: UserRegistered | UserProfileUpdated, at: datetime) -> None:
        previous = await users.upsert_profile(
            self.session, p.user_id, p.username, p.display_name, p.bio, p.private, at,
            registered=isinstance(p, UserRegistered))
        await search.index_username(self.session, p.user_id, p.username,
                                    previous.username if previous else None, micros(at))
        # The read API's cached profile (private flag included) goes stale now; always,
        # even if nothing changed: a redelivery may follow a crash before this line. So
        # does the cached identity: a new account must not stay "unknown" to the checks.
        await cache.invalidate(self.redis, cache.PROFILE, [p.user_id])
        await identity.invalidate(self.redis, [p.user_id])
        if not p.private and not await users.is_private(self.session, p.user_id):
            # Public now (and the stored profile agrees, so this is not a stale replay).
            promoted = await graph.pending_requests(self.session, p.user_id)
            for follower_id in promoted:
                await graph.follow(self.session, follower_id, p.user_id, at)
            await self._edges_changed(promoted, p.user_id)

    async def _edge(self, p: FollowRequested | FollowApproved | FollowRejected | FollowRemoved,
                    at: datetime) -> None:
        session = self.session
        if isinstance(p, FollowRequested):
            if await users.is_private(session, p.followee_id):
                await graph.request_follow(session, p.follower_id, p.followee_id, at)
            else:
                await graph.follow(session, p.follower_id, p.followee_id, at)
        elif isinstance(p, FollowApproved):
            await graph.follow(session, p.follower_id, p.followee_id, at)
        elif isinstance(p, FollowRejected):
            await graph.drop_request(session, p.follower_id, p.followee_id)
        else:
            await graph.unfollow(session, p.follower_id, p.followee_id)
        await self._edges_changed([p.follower_id], p.followee_id)

    async def _edges_changed(self, follower_ids: list[int], followee_id: int) -> None:
        """Invalidate what the read API caches about these edges: the followers' following
        lists (the visibility rule reads them) and both sides' counts."""
        if not follower_ids:
            return
        await cache.invalidate(self.redis, cache.FOLLOWING, follower_ids)
        await cache.invalidate(self.redis, cache.USER_COUNTS, [*follower_ids, followee_id])
