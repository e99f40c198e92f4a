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

Follow events are applied a partition's run at a time (:mod:`processors.follow_runs`):
this process owns its followees' partitions of the follows topic, so it is the single
writer of their ``followers`` rows and counts and of their pending requests, and writes
them without Paxos (:func:`sinks.graph.apply_followers`). The follower side
(``following``) has one writer per follower instead: for every edge a run touched, a
``following.changed`` is published onto ``photostream.following`` (keyed by follower)
before the run's offsets are committed, and the following processor
(:mod:`processors.following`) mirrors it. Every touched edge is published, changed or
not: a redelivery after a crash between the write and the publish finds the edge
already in place and must still tell the mirror.

The promotion of pending requests when an account turns public arrives on the users
topic, whose partition is not the followee's follows partition (another writer): it is
published as ``follow.approved`` events onto the follows topic instead (event ids fixed
by the profile event), where the single writer applies them in order with the rest.

The fan-out processor consumes the follows topic itself, in its own group, and asks
:func:`sinks.graph.is_following` whether an edge is active.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from processors import follow_runs
from processors.erasure import Sweep
from processors.follow_runs import DROP, REQUEST, REQUEST_UNLESS_EDGE, Facts, Pair, PairOutcome
from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.envelope import make
from schemas.graph import FollowApproved, FollowingChanged, FollowRequested
from schemas.topics import FOLLOWS, GRAPH_GROUP
from schemas.users import UserDeleted, UserProfileUpdated, UserRegistered, UserSessionsRevoked
from sinks import blocks, cache, graph, identity, owned_edges, search, users
from sinks.objects import ObjectStore
from sinks.owned_edges import EdgeChange
from sinks.photo_objects import remove_profile_images
from sinks.statements import micros


class GraphProcessor(StoreProcessor):
    name: ClassVar[str] = GRAPH_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = GRAPH_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True

    batched: ClassVar[bool] = True
    max_records: ClassVar[int] = 2000

    async def start(self) -> None:
        await super().start()
        self.store = ObjectStore.from_settings(self.settings)

    async def handle(self, message: Message) -> None:
        event = message.event
        payload = event.payload
        if isinstance(payload, UserRegistered | UserProfileUpdated):
            async with self.lock(payload.user_id):
                await self._profile(payload, event.occurred_at, event.event_id)
        elif isinstance(payload, UserDeleted):
            async with self.lock(payload.user_id):
                await self._erase(payload.user_id, event.occurred_at)
        elif isinstance(payload, UserSessionsRevoked):
            await identity.store_revocation(self.session, payload.user_id,
                                            payload.tokens_valid_after)
            await identity.invalidate(self.redis, [payload.user_id])
        elif isinstance(payload, follow_runs.Follow):
            await self._follows([message])

    async def handle_run(self, messages: Sequence[Message]) -> None:
        """A follows partition's run at once (module doc); other topics event by event."""
        if messages[0].record.topic == FOLLOWS.name:
            await self._follows(messages)
            return
        for message in messages:
            await self.handle(message)

    async def _profile(self, p: UserRegistered | UserProfileUpdated, at: datetime,
                       event_id: str) -> None:
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
            # Approved on the follows topic, by the followee's single writer (module doc).
            promoted = await graph.pending_requests(self.session, p.user_id)
            await self.publisher.publish_many([
                make(FollowApproved(follower_id=f, followee_id=p.user_id), producer=self.name,
                     event_id=f"follow.approved:{f}:{p.user_id}:{event_id}"[:128],
                     occurred_at=at)
                for f in promoted])

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

    async def _follows(self, messages: Sequence[Message]) -> None:
        """Apply a follows run (module doc): read the facts, reduce, write followers and
        requests, publish every touched edge for the following side, drop caches."""
        events = follow_runs.follows(messages)
        if not events:
            return
        outcomes, newest = follow_runs.reduce_run(events, await self._facts(events))
        edges: dict[int, dict[int, EdgeChange]] = {}
        for (follower, followee), out in outcomes.items():
            if out.edge is not None:
                edges.setdefault(followee, {})[follower] = graph.edge_change(
                    follower, out.since, present=out.edge)
        requested = await self._requests(outcomes)
        if edges:
            await graph.apply_followers(self.session, edges,
                                        {k: newest[k] for k in edges})
        touched = [pair for pair, out in outcomes.items() if out.edge is not None]
        await asyncio.gather(  # independent of each other; both before the commit
            graph.write_requests(self.session, requested, [
                pair for pair, out in outcomes.items() if out.request == DROP]),
            self.publisher.publish_many([
                make(FollowingChanged(follower_id=follower, followee_id=followee),
                     producer=self.name, event_id=f"following.changed:{follower}:{followee}:"
                     f"{newest[followee]}"[:128])
                for follower, followee in touched]))
        await self._edges_changed(outcomes)
        await self._approve_if_public_now(requested)

    async def _approve_if_public_now(self, requested: Sequence[tuple[Pair, datetime]]
                                     ) -> None:
        """Approve the requests just recorded for accounts that are public after all.

        A request to an account whose registration this process has not stored yet waits
        as a request; the registration's handler promotes the pending requests it reads
        (:meth:`_profile`). The two run concurrently (users and follows are different
        partitions, and a follows run takes no per-user lock), so each reads after its
        own write: the registration reads requests after storing the profile, and this
        reads the profiles after storing the requests. With quorum writes and reads at
        least one of the two sees the other's write; an approval made by both is one
        edge. Seen with a Cassandra node down, where slower writes widen the window.
        """
        followees = {followee for (_, followee), _ in requested}
        if not followees:
            return
        public = followees - await users.private_among(self.session, followees)
        await self.publisher.publish_many([  # ids fixed per request: a redelivery repeats them
            make(FollowApproved(follower_id=follower, followee_id=followee), producer=self.name,
                 event_id=f"follow.approved:{follower}:{followee}:public:{micros(at)}"[:128])
            for (follower, followee), at in requested if followee in public])

    async def _facts(self, events: Sequence[tuple[follow_runs.Follow, datetime]]) -> Facts:
        """Who is deleted, which pairs are blocked, which followees are private: the
        reads that decide what a run's requests and approvals mean (three at most)."""
        making = {(p.follower_id, p.followee_id) for p, _ in events
                  if isinstance(p, FollowRequested | FollowApproved)}
        if not making:
            return Facts()
        requested = {p.followee_id for p, _ in events
                     if isinstance(p, FollowRequested)}
        session = self.session
        deleted, blocked, private = await asyncio.gather(
            users.deleted_among(session, {u for pair in making for u in pair}),
            blocks.blocked_pairs(session, making),
            users.private_among(session, requested))
        return Facts(deleted, blocked, private)

    async def _requests(self, outcomes: dict[Pair, PairOutcome]) -> list[tuple[Pair, datetime]]:
        """The requests to record: each REQUEST, and each REQUEST_UNLESS_EDGE whose edge
        does not exist (one read per followee that has such requests)."""
        maybe: dict[int, list[int]] = {}
        for (follower, followee), out in outcomes.items():
            if out.request == REQUEST_UNLESS_EDGE:
                maybe.setdefault(followee, []).append(follower)
        found = await asyncio.gather(*(owned_edges.present(
            self.session, graph.FOLLOWERS, followee, followers)
            for followee, followers in maybe.items()))
        existing = {(follower, followee) for followee, there in zip(maybe, found, strict=True)
                    for follower in there}
        return [(pair, out.requested_at) for pair, out in outcomes.items()
                if out.requested_at is not None and (out.request == REQUEST or (
                    out.request == REQUEST_UNLESS_EDGE and pair not in existing))]

    async def _edges_changed(self, outcomes: dict[Pair, PairOutcome]) -> None:
        """Invalidate what the read API caches about these edges: both sides' counts and
        the followers' following lists (their mirror invalidates them again once it is
        written: :mod:`processors.following`). Always, even for duplicates: a
        redelivery may follow a crash before this line."""
        await asyncio.gather(
            cache.invalidate(self.redis, cache.FOLLOWING, sorted({f for f, _ in outcomes})),
            cache.invalidate(self.redis, cache.USER_COUNTS,
                             sorted({u for pair in outcomes for u in pair})))
