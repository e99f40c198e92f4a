"""photostream-graph: user profiles and the follow graph.

Consumes users (registered / profile updated), sessions (sign-outs everywhere) and
follows (requested, approved, rejected, removed). A request to a public account becomes
an edge at once; to a private account (or one whose registration we have not seen yet)
it waits in ``follow_requests``. When an account turns public, its pending requests
become edges (as Instagram does). A sign-out everywhere is stored on the user's row
(:func:`sinks.identity.store_revocation`) for the services' identity check.

An account deletion (``user.deleted``) erases the profile here: the username is
released (free for a new account), the row's profile columns are tombstoned as of the
deletion, the username leaves user search, and the cached profile and identity are
dropped, so the account reads as unknown everywhere (404 profile, 401 tokens); its
avatars and headers leave MinIO (originals and renditions, by prefix). Then the
sweep (:mod:`processors.erasure`) publishes the per-item deletions of everything the
person did, which every processor applies on its usual path. A follow involving a
deleted account that was still in flight (or a request from it approved later) makes
no edge, and neither does one across a block (:mod:`processors.blocks` publishes the
unfollows of a block; a follow appended after them finds the stored block here).

The fan-out processor consumes the follows topic itself, in its own group, and asks
:func:`sinks.graph.is_following` whether an edge is active; nothing extra is published
here. Edges created by a private -> public switch have no follow event of their own, so
the fan-out's lazy timeline rebuild covers their backfill.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from processors.erasure import Sweep
from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.topics import GRAPH_GROUP
from schemas.users import UserDeleted, UserProfileUpdated, UserRegistered, UserSessionsRevoked
from sinks import blocks, cache, graph, identity, search, users
from sinks.objects import ObjectStore
from sinks.photo_objects import remove_profile_images
from sinks.statements import micros


class GraphProcessor(StoreProcessor):
    name: ClassVar[str] = GRAPH_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = GRAPH_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True

    async def start(self) -> None:
        await super().start()
        self.store = ObjectStore.from_settings(self.settings)

    async def handle(self, message: Message) -> None:
        event = message.event
        payload = event.payload
        if isinstance(payload, UserRegistered | UserProfileUpdated):
            async with self.lock(payload.user_id):
                await self._profile(payload, event.occurred_at)
        elif isinstance(payload, UserDeleted):
            async with self.lock(payload.user_id):
                await self._erase(payload.user_id, event.occurred_at)
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

    async def _erase(self, user_id: int, at: datetime) -> None:
        """Erase the profile, then publish the sweep (module doc). Idempotent: a second
        run finds no profile and publishes the same per-item events again."""
        session = self.session
        await users.mark_deleted(session, user_id, at)  # refused from here on
        profile = await users.get_user(session, user_id)
        if profile is not None:  # before the row loses the name (sinks.users)
            await search.drop_username(session, profile.username, micros(at))
        await users.erase(session, user_id, at)
        await identity.invalidate(self.redis, [user_id])
        for kind in (cache.PROFILE, cache.USER_COUNTS, cache.FOLLOWING, cache.RECENT):
            await cache.invalidate(self.redis, kind, [user_id])
        await remove_profile_images(self.store, self.settings, user_id)
        sweep = Sweep(session, self.publisher, producer=self.name,
                      chunk_size=self.settings.timelines.fanout_chunk)
        await sweep.run(user_id, at)

    async def _edge(self, p: FollowRequested | FollowApproved | FollowRejected | FollowRemoved,
                    at: datetime) -> None:
        session = self.session
        if isinstance(p, FollowRequested | FollowApproved) and (
                await users.is_deleted(session, p.follower_id)
                or await users.is_deleted(session, p.followee_id)):
            await graph.drop_request(session, p.follower_id, p.followee_id)
            return  # an account at either end is gone (module doc)
        if isinstance(p, FollowRequested | FollowApproved) and await blocks.blocked_durably(
                session, p.follower_id, p.followee_id):
            await graph.drop_request(session, p.follower_id, p.followee_id)
            return  # across a block: never an edge (module doc)
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
