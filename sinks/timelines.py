"""Home timelines: the :class:`Timelines` facade that keeps Redis (hot) and Cassandra
(durable) together.

The halves live in their own modules: :mod:`sinks.redis_timelines` (hot, capped, only
for active readers), :mod:`sinks.durable_timelines` (the source of truth every hot
timeline is rebuilt from) and :mod:`sinks.reader_activity` (who counts as active).
What this facade adds is the order between them, and the rebuild of a hot timeline from
the durable one.

Redis Cluster: nothing here sends a multi-key command spanning two ``{bucket}`` hash
tags. Edits of many timelines go through :class:`~sinks.redis_timelines.RedisTimelines`
(one script call per bucket); activity lookups are one ``HMGET`` per bucket hash; drops
are one ``UNLINK`` per key, pipelined without a transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from sinks.durable_timelines import (
    WRITE_CONCURRENCY,
    Entry,
    add_entries,
    add_to_timelines,
    newest_ids,
    newest_many,
    remove_entries,
    remove_from_timelines,
)
from sinks.reader_activity import (
    ACTIVITY_GRANULARITY,
    mirrored_activity,
    set_activity,
    set_mirror,
    stored_activity,
)
from sinks.redis_timelines import RedisTimelines
from sinks.replica_batches import replica_groups

#: Grouped ``IN`` reads in flight during a bulk rebuild.
REBUILD_CONCURRENCY = 16
#: Timelines per grouped ``IN`` read (up to ``cap`` rows each come back in one page).
REBUILD_GROUP = 16




class Timelines:
    """Redis (hot) + Cassandra (durable) timelines, written together.

    Order of every write: Cassandra first, then Redis. Redis is a cache rebuilt from
    Cassandra, so a crash between the two leaves Redis behind (repaired by the
    redelivery, which repeats both), never Cassandra behind Redis.
    """

    def __init__(self, session: Session, redis: RedisClient, hot: RedisTimelines, *,
                 inactive_after_days: int = 30,
                 write_concurrency: int = WRITE_CONCURRENCY) -> None:
        self.session = session
        self.redis = redis
        self.hot = hot
        self.inactive_after = inactive_after_days * 86_400.0
        self.write_concurrency = write_concurrency

    # fan-out ---------------------------------------------------------------------

    async def push(self, user_ids: Sequence[int], photo_id: int, author_id: int,
                   at: datetime | None = None) -> tuple[int, int]:
        """Add a photo to these timelines: durable for all, hot for active users only.

        Inactive users' hot timelines are dropped (they are rebuilt from Cassandra on
        return), which is also how Redis memory is reclaimed. Returns (hot timelines
        delivered to, hot timelines dropped).
        """
        await add_to_timelines(self.session, user_ids, photo_id, author_id, at,
                               concurrency=self.write_concurrency)
        inactive = await self.inactive_among(user_ids)
        if inactive:
            await self.drop_hot(inactive)
            active = [u for u in user_ids if u not in inactive]
        else:
            active = list(user_ids)
        delivered = await self.hot.deliver(active, photo_id) if active else 0
        return delivered, len(inactive)

    async def unpush(self, user_ids: Sequence[int], photo_id: int,
                     at: datetime | None = None) -> int:
        """Remove a photo from these timelines (both halves); returns hot hits."""
        await remove_from_timelines(self.session, user_ids, photo_id, at,
                                    concurrency=self.write_concurrency)
        return await self.hot.remove(user_ids, photo_id) if user_ids else 0

    async def backfill(self, user_id: int, entries: Sequence[Entry],
                       at: datetime | None = None) -> None:
        """Merge a new followee's recent photos into one timeline (both halves)."""
        if not entries:
            return
        await add_entries(self.session, user_id, entries, at)
        await self.hot.backfill(user_id, [e.photo_id for e in entries])

    async def forget(self, user_id: int, photo_ids: Sequence[int],
                     at: datetime | None = None) -> None:
        """Remove several photos from one timeline (an unfollow; both halves)."""
        if not photo_ids:
            return
        await remove_entries(self.session, user_id, photo_ids, at)
        await self.hot.remove_many(user_id, photo_ids)

    # activity --------------------------------------------------------------------

    async def inactive_among(self, user_ids: Sequence[int],
                             now: float | None = None) -> set[int]:
        """Users whose mirrored ``last_active`` is older than ``inactive_after_days``."""
        horizon = (time.time() if now is None else now) - self.inactive_after
        seen = await mirrored_activity(self.redis, self.hot, user_ids)
        return {uid for uid, at in seen.items() if at is not None and at < horizon}

    async def drop_hot(self, user_ids: Iterable[int]) -> None:
        """Drop hot timelines: one ``UNLINK`` per key (never multi-key across slots)."""
        pipe = self.redis.pipeline(transaction=False)
        count = 0
        for uid in user_ids:
            pipe.unlink(self.hot.key(uid))
            count += 1
        if count:
            await pipe.execute()

    async def touch(self, user_id: int, now: float | None = None) -> float | None:
        """Mark ``user_id`` active now; returns the previous ``last_active`` (or None).

        The mirror answers first; Cassandra is read only when the mirror has nothing
        (Redis flushed or a first read) and written at most once per
        :data:`ACTIVITY_GRANULARITY`, so a feed read normally costs one ``HGET``.
        """
        now = time.time() if now is None else now
        previous = (await mirrored_activity(self.redis, self.hot, [user_id]))[user_id]
        mirrored = previous is not None
        if not mirrored:
            previous = await stored_activity(self.session, user_id)
        if previous is None or now - previous >= ACTIVITY_GRANULARITY.total_seconds():
            await set_activity(self.session, self.redis, self.hot, user_id, now)
        elif not mirrored:
            await set_mirror(self.redis, self.hot, {user_id: previous})
        return previous

    def is_inactive(self, last_active: float | None, now: float | None = None) -> bool:
        """Whether a user last seen at ``last_active`` had gone inactive by ``now``."""
        if last_active is None:
            return False
        return (time.time() if now is None else now) - last_active > self.inactive_after

    # rebuilds ----------------------------------------------------------------------

    async def rebuild(self, user_id: int) -> list[int]:
        """Rebuild one hot timeline from Cassandra; returns what it now holds.

        A delivery racing the rebuild (written to Cassandra after our read, delivered
        to Redis before our ``SET``) would be lost, so the newest durable entries are
        read again after the ``SET`` and merged in (``backfill`` is an idempotent
        merge): anything durable before the second read is in the hot timeline.
        """
        ids = await newest_ids(self.session, user_id, self.hot.cap)
        await self.hot.replace(user_id, ids)
        again = await newest_ids(self.session, user_id, min(self.hot.cap, 200))
        if set(again) - set(ids):
            await self.hot.backfill(user_id, again)
        return ids

    async def rebuild_many(self, user_ids: Sequence[int], *,
                           concurrency: int = REBUILD_CONCURRENCY,
                           group: int = REBUILD_GROUP) -> int:
        """Rebuild many hot timelines: grouped ``IN`` reads in parallel, pipelined ``SET``s.

        Each read covers ``group`` users of one replica set; each result is written
        back at once with ``replace_many`` (a non-transactional pipeline of single-key
        ``SET``s, which the cluster client splits per node) while other groups' reads
        are in flight. Returns how many timelines were written. (An operator's bulk warm-up:
        unlike :meth:`rebuild` it does not re-read to catch racing deliveries.)
        """
        gate = asyncio.Semaphore(concurrency)
        cap = self.hot.cap

        async def one(uids: list[int]) -> int:
            async with gate:  # also bounds Redis connections in use
                built = await newest_many(self.session, uids, cap)
                await self.hot.replace_many(built)
            return len(built)

        parts = replica_groups(self.session, user_ids, group)
        return sum(await asyncio.gather(*(one(p) for p in parts)))
