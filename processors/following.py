"""photostream-following: the follower side of the follow graph (``following`` + count).

``following`` is partitioned by the follower, but the follows topic is keyed by the
followee, so no consumer of it could be the single writer of a follower's rows. The graph
processor therefore repartitions every edge it applies onto ``photostream.following``,
keyed by the follower (Kafka Streams' repartition step), and this process, owning the
follower's partition of that topic, is the single writer of its ``following`` rows and
count: a run is one read of the touched edges' state in ``followers`` (the source of
truth, written before the record was published), one read of the followers' counts and
absolute-count batches without Paxos (:func:`sinks.graph.mirror_following`).

Because records name an edge and the state is read, not carried, their order does not
matter: a duplicate, a replay, or a late record from a zombie copy of the graph
processor finds the edge as it is now and writes nothing new.

A follower whose account was deleted while the record was in flight may have an edge
the deletion sweep did not list (the sweep reads ``following``, which did not have it
yet): its unfollow is published here, with the sweep's event id, so the graph processor
removes it as it would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.envelope import make
from schemas.graph import FollowingChanged, FollowRemoved
from schemas.topics import FOLLOWING_GROUP
from sinks import cache, graph, users
from sinks.owned_edges import Applied


class FollowingProcessor(StoreProcessor):
    name: ClassVar[str] = FOLLOWING_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = FOLLOWING_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True
    batched: ClassVar[bool] = True
    max_records: ClassVar[int] = 2000

    async def handle(self, message: Message) -> None:
        await self.handle_run([message])

    async def handle_run(self, messages: Sequence[Message]) -> None:
        """Mirror a run's edges (module doc), then drop the followers' cached lists."""
        pairs = {(p.follower_id, p.followee_id) for m in messages
                 if isinstance(p := m.event.payload, FollowingChanged)}
        if not pairs:
            return
        plans = await graph.mirror_following(self.session, pairs)
        await self._unfollow_deleted(plans)
        followers = sorted(plans)
        # Always, even for duplicates: a redelivery may follow a crash before this line.
        await asyncio.gather(cache.invalidate(self.redis, cache.FOLLOWING, followers),
                             cache.invalidate(self.redis, cache.USER_COUNTS, followers))

    async def _unfollow_deleted(self, plans: dict[int, Applied]) -> None:
        """Publish the unfollows of edges just mirrored for deleted followers (module doc)."""
        added = {follower: [c.member for c in plan.changes if c.present]
                 for follower, plan in plans.items()}
        gone = await users.deleted_among(self.session, [f for f, ids in added.items() if ids])
        await self.publisher.publish_many([
            make(FollowRemoved(follower_id=follower, followee_id=followee), producer=self.name,
                 event_id=f"follow.removed:{follower}:{followee}:account")
            for follower in sorted(gone) for followee in added[follower]])
