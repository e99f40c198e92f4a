"""Home timelines: the durable Cassandra half, reader activity, pull authors, and the
:class:`Timelines` facade that keeps Redis (hot) and Cassandra (durable) together.

Durable timelines (``timelines (user_id, photo_id DESC, author_id)``)
    The source of truth every hot timeline is rebuilt from. Every write carries
    ``USING TIMESTAMP`` of the *event* that caused it (the ``photo.processed``, the
    ``photo.deleted``, the follow or unfollow), so adds and removals of one row resolve
    last-writer-wins by event time whatever order they land in: a redelivered add
    chunk cannot resurrect a photo a later deletion removed, and a re-follow (a later
    event) re-adds what an earlier unfollow removed.

    Why replica-grouped unlogged batches: the Python driver spends ~300 us of CPU per
    request (measured, ``python -m bench.timelines``), so one statement per follower
    caps a fan-out at a few thousand rows/s. Rows are grouped by *replica set* (the
    token map of the partition key) and sent as ``UNLOGGED`` batches of
    :data:`BATCH_ROWS`, token-aware, so the coordinator is a replica of every row in
    its batch: no extra hop, no batch log, and 5-8x fewer requests. Reads for bulk
    rebuilds use the same grouping with ``IN ? PER PARTITION LIMIT ?``. A retried
    batch is harmless: every row write is an idempotent upsert or tombstone.

Activity
    ``user_activity.last_active`` (Cassandra) with a Redis mirror, one hash per timeline
    bucket (``<prefix>:act:{<bucket>}``, same ``{bucket}`` hash tag as the timelines).
    The fan-out worker asks the mirror, never Cassandra, which followers are active;
    a follower with no mirror entry counts as active (their timeline, if any, is
    edited; ``deliver`` skips a missing key anyway). Readers refresh the Cassandra row
    at most once per :data:`ACTIVITY_GRANULARITY`, so reading a feed is not a write.

Pull authors
    Authors whose posts were not pushed (above ``celebrity_threshold`` when posted).
    Sticky, see ``operate/provision/cql/0004_timelines.cql`` and :mod:`processors.fanout`.

Redis Cluster: nothing here sends a multi-key command spanning two ``{bucket}`` hash
tags. Edits of many timelines go through :class:`~sinks.redis_timelines.RedisTimelines`
(one script call per bucket); activity lookups are one ``HMGET`` per bucket hash; drops
are one ``UNLINK`` per key, pipelined without a transaction.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from infra.connect.cassandra import TUPLES, execute, execute_many
from infra.connect.redis import RedisClient
from sinks.redis_timelines import RedisTimelines
from sinks.statements import QUORUM, SERIAL, applied, micros, prepared

#: Requests (batches) in flight per durable write.
WRITE_CONCURRENCY = 32
#: Rows per unlogged batch (~40 bytes each: far below batch_size_warn_threshold 5 KiB).
BATCH_ROWS = 48
#: Grouped ``IN`` reads in flight during a bulk rebuild.
REBUILD_CONCURRENCY = 16
#: Timelines per grouped ``IN`` read (up to ``cap`` rows each come back in one page).
REBUILD_GROUP = 16
#: How stale the durable ``last_active`` may get before a read refreshes it.
ACTIVITY_GRANULARITY = timedelta(hours=1)
PULL_BUCKETS = 16

_ADD = ("INSERT INTO timelines (user_id, photo_id, author_id) VALUES (?, ?, ?) "
        "USING TIMESTAMP ?")
_REMOVE = "DELETE FROM timelines USING TIMESTAMP ? WHERE user_id = ? AND photo_id = ?"
_DROP = "DELETE FROM timelines WHERE user_id = ?"
_NEWEST = "SELECT photo_id FROM timelines WHERE user_id = ? LIMIT ?"
_NEWEST_MANY = ("SELECT user_id, photo_id FROM timelines WHERE user_id IN ? "
                "PER PARTITION LIMIT ?")
_PAGE = "SELECT photo_id, author_id FROM timelines WHERE user_id = ? LIMIT ?"
_PAGE_BEFORE = ("SELECT photo_id, author_id FROM timelines WHERE user_id = ? AND photo_id < ? "
                "LIMIT ?")
_SET_ACTIVE = "UPDATE user_activity SET last_active = ? WHERE user_id = ?"
_GET_ACTIVE = "SELECT last_active FROM user_activity WHERE user_id = ?"
_ALL_ACTIVE = "SELECT user_id, last_active FROM user_activity"
_MARK_PULLED = ("INSERT INTO pull_authors (bucket, author_id, pulled_since) VALUES (?, ?, ?) "
                "IF NOT EXISTS")
_PULLED = "SELECT author_id FROM pull_authors WHERE bucket = ?"
_PHOTO_STATE = "SELECT owner_id, status FROM photos WHERE photo_id = ?"
_PHOTO_STATES = "SELECT photo_id, owner_id, status FROM photos WHERE photo_id IN ?"


@dataclass(frozen=True)
class Entry:
    """One durable timeline row."""

    photo_id: int
    author_id: int | None


def _stamp(at: datetime | None) -> int:
    return micros(at if at is not None else datetime.now(UTC))


# -- durable timelines (Cassandra) -------------------------------------------------


def replica_groups(session: Session, user_ids: Iterable[int], size: int) -> list[list[int]]:
    """``user_ids`` (any ``bigint`` partition keys) split into groups of at most ``size``
    sharing one replica set.

    Falls back to plain slices when the driver has no token map (metadata disabled).
    """
    metadata = session.cluster.metadata
    keyspace = session.keyspace
    groups: dict[Any, list[int]] = {}
    try:
        for uid in user_ids:
            hosts = metadata.get_replicas(keyspace, struct.pack(">q", uid))
            key = tuple(sorted(str(h.endpoint) for h in hosts))
            groups.setdefault(key, []).append(uid)
    except Exception:  # no token map: correctness does not depend on the grouping
        groups = {(): list(user_ids)}
    return [ids[i:i + size] for ids in groups.values() for i in range(0, len(ids), size)]


async def write_rows(session: Session, statement: PreparedStatement,
                      rows: Mapping[int, Sequence[Sequence[Any]]], *,
                      concurrency: int, batch_rows: int) -> int:
    """Write ``rows`` (params per partition key) in replica-grouped unlogged batches.

    Works for any table partitioned by one ``bigint`` (the bulk loader of
    ``bench.read_api`` uses it for photos, users and the graph too).
    ``batch_rows=1`` sends one plain statement per row (the benchmark's baseline).
    """
    if batch_rows <= 1:
        return await execute_many(session, statement,
                                  (p for params in rows.values() for p in params),
                                  concurrency=concurrency)
    gate = asyncio.Semaphore(concurrency)
    batches: list[BatchStatement] = []
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
    size = 0
    for group in replica_groups(session, rows.keys(), batch_rows):
        for uid in group:
            for params in rows[uid]:
                batch.add(statement, params)
                size += 1
                if size >= batch_rows:
                    batches.append(batch)
                    batch = BatchStatement(batch_type=BatchType.UNLOGGED,
                                           consistency_level=QUORUM)
                    size = 0
        if size:  # never mix replica sets in one batch
            batches.append(batch)
            batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
            size = 0

    async def send(b: BatchStatement) -> None:
        async with gate:
            await execute(session, b)

    await asyncio.gather(*(send(b) for b in batches))
    return sum(len(params) for params in rows.values())


async def add_to_timelines(session: Session, user_ids: Iterable[int], photo_id: int,
                           author_id: int, at: datetime | None = None, *,
                           concurrency: int = WRITE_CONCURRENCY,
                           batch_rows: int = BATCH_ROWS) -> int:
    """Upsert ``photo_id`` into each user's durable timeline (written at ``at``)."""
    statement = await prepared(session, _ADD)
    stamp = _stamp(at)
    rows = {uid: [(uid, photo_id, author_id, stamp)] for uid in user_ids}
    return await write_rows(session, statement, rows, concurrency=concurrency,
                             batch_rows=batch_rows)


async def remove_from_timelines(session: Session, user_ids: Iterable[int], photo_id: int,
                                at: datetime | None = None, *,
                                concurrency: int = WRITE_CONCURRENCY) -> int:
    """Delete ``photo_id`` from each user's durable timeline (a tombstone at ``at``)."""
    statement = await prepared(session, _REMOVE)
    stamp = _stamp(at)
    rows = {uid: [(stamp, uid, photo_id)] for uid in user_ids}
    return await write_rows(session, statement, rows, concurrency=concurrency,
                             batch_rows=BATCH_ROWS)


async def add_entries(session: Session, user_id: int, entries: Iterable[Entry],
                      at: datetime | None = None) -> int:
    """Upsert several photos into one durable timeline (a follow's backfill)."""
    statement = await prepared(session, _ADD)
    stamp = _stamp(at)
    rows = {user_id: [(user_id, e.photo_id, e.author_id, stamp) for e in entries]}
    return await write_rows(session, statement, rows, concurrency=WRITE_CONCURRENCY,
                             batch_rows=BATCH_ROWS)


async def remove_entries(session: Session, user_id: int, photo_ids: Iterable[int],
                         at: datetime | None = None) -> int:
    """Delete several photos from one durable timeline (an unfollow)."""
    statement = await prepared(session, _REMOVE)
    stamp = _stamp(at)
    rows = {user_id: [(stamp, user_id, pid) for pid in photo_ids]}
    return await write_rows(session, statement, rows, concurrency=WRITE_CONCURRENCY,
                             batch_rows=BATCH_ROWS)


async def delete_timelines(session: Session, user_ids: Iterable[int]) -> int:
    """Delete whole durable timelines (account deletion, benchmark clean-up)."""
    statement = await prepared(session, _DROP)
    return await execute_many(session, statement, ((uid,) for uid in user_ids),
                              concurrency=WRITE_CONCURRENCY)


async def read_page(session: Session, user_id: int, limit: int = 50,
                    before: int | None = None) -> list[Entry]:
    """Up to ``limit`` durable entries, newest first, older than ``before`` if given."""
    if limit <= 0:
        return []
    if before is None:
        statement = await prepared(session, _PAGE)
        rows = await execute(session, statement, (user_id, limit))
    else:
        statement = await prepared(session, _PAGE_BEFORE)
        rows = await execute(session, statement, (user_id, before, limit))
    return [Entry(r["photo_id"], r["author_id"]) for r in rows]


async def newest_ids(session: Session, user_id: int, limit: int) -> list[int]:
    """The newest ``limit`` photo ids of a durable timeline (what a rebuild needs)."""
    statement = await prepared(session, _NEWEST)
    return [r["photo_id"] for r in await execute(session, statement, (user_id, limit))]


async def newest_many(session: Session, user_ids: Sequence[int],
                      limit: int) -> dict[int, list[int]]:
    """The newest ``limit`` ids of several durable timelines in one request.

    Callers pass users of one replica set (:func:`replica_groups`), so the
    coordinator reads only local partitions. Every user gets an entry (maybe empty).
    """
    statement = await prepared(session, _NEWEST_MANY)
    bound = statement.bind((list(user_ids), limit))
    bound.fetch_size = None  # at most len(user_ids) * limit rows: one response
    out: dict[int, list[int]] = {uid: [] for uid in user_ids}
    for user_id, photo_id in await execute(session, bound, profile=TUPLES):
        out[user_id].append(photo_id)
    for ids in out.values():
        ids.sort(reverse=True)  # IN returns partitions in token order; keep newest first
    return out


# -- photo state (what decides whether a timeline entry may be shown) ------------------


async def photo_status(session: Session, photo_id: int, *, serial: bool = True) -> str | None:
    """The photo row's status; ``serial`` makes it linearizable with the tombstone LWT.

    The fan-out worker checks it before and after an add chunk (see
    :mod:`processors.fanout`) so a deletion racing the delivery always wins.
    """
    statement = await prepared(session, _PHOTO_STATE, consistency=SERIAL if serial else QUORUM)
    rows = await execute(session, statement, (photo_id,))
    return rows[0]["status"] if rows else None


async def photo_states(session: Session, photo_ids: Iterable[int], *,
                       group: int = 8) -> dict[int, tuple[int | None, str | None]]:
    """(owner_id, status) per photo (missing rows are absent), for the feed's filter.

    One ``IN`` read per replica group of photo ids, in parallel: a feed page of 50
    photos costs a request or two instead of 50 (the driver's per-request CPU is what
    a feed read would otherwise spend most of its time on).
    """
    statement = await prepared(session, _PHOTO_STATES)
    ids = list(dict.fromkeys(photo_ids))

    async def one(part: list[int]) -> list[dict[str, Any]]:
        return await execute(session, statement, (part,))

    found = await asyncio.gather(*(one(part) for part in replica_groups(session, ids, group)))
    return {row["photo_id"]: (row["owner_id"], row["status"]) for rows in found for row in rows}


# -- activity --------------------------------------------------------------------------


def _activity_key(tl: RedisTimelines, user_id: int) -> str:
    """Same ``{bucket}`` hash tag as the user's timeline key: same cluster slot."""
    return f"{tl.prefix}:act:{{{user_id % tl.buckets}}}"


async def mirrored_activity(redis: RedisClient, tl: RedisTimelines,
                            user_ids: Sequence[int]) -> dict[int, float | None]:
    """``last_active`` (epoch seconds) from the Redis mirror; None where it has none.

    One ``HMGET`` per bucket hash, pipelined (no transaction): Cluster-safe.
    """
    groups: dict[str, list[int]] = {}
    for uid in user_ids:
        groups.setdefault(_activity_key(tl, uid), []).append(uid)
    if not groups:
        return {}
    pipe = redis.pipeline(transaction=False)
    for key, uids in groups.items():
        pipe.hmget(key, [str(u) for u in uids])
    replies = await pipe.execute()
    out: dict[int, float | None] = {}
    for uids, values in zip(groups.values(), replies, strict=True):
        for uid, value in zip(uids, values, strict=True):
            out[uid] = float(value) if value is not None else None
    return out


async def set_mirror(redis: RedisClient, tl: RedisTimelines,
                     seen: Mapping[int, float]) -> None:
    """Write ``last_active`` values (epoch seconds) into the Redis mirror."""
    if not seen:
        return
    groups: dict[str, dict[Any, Any]] = {}
    for uid, at in seen.items():
        groups.setdefault(_activity_key(tl, uid), {})[str(uid)] = repr(float(at))
    pipe = redis.pipeline(transaction=False)
    for key, mapping in groups.items():
        pipe.hset(key, mapping=mapping)
    await pipe.execute()


async def stored_activity(session: Session, user_id: int) -> float | None:
    """``last_active`` from Cassandra (epoch seconds), None if the user never read."""
    statement = await prepared(session, _GET_ACTIVE)
    rows = await execute(session, statement, (user_id,))
    if not rows or rows[0]["last_active"] is None:
        return None
    moment: datetime = rows[0]["last_active"]
    return moment.replace(tzinfo=UTC).timestamp()


async def set_activity(session: Session, redis: RedisClient, tl: RedisTimelines,
                       user_id: int, at: float) -> None:
    """Record ``user_id`` active at ``at`` (epoch seconds) in Cassandra, then the mirror."""
    statement = await prepared(session, _SET_ACTIVE)
    await execute(session, statement, (datetime.fromtimestamp(at, UTC), user_id))
    await set_mirror(redis, tl, {user_id: at})


async def all_activity(session: Session) -> list[tuple[int, float]]:
    """Every (user_id, last_active) pair: a full scan, for bulk rebuilds only."""
    statement = await prepared(session, _ALL_ACTIVE)
    bound = statement.bind(())
    bound.fetch_size = 5_000
    out: list[tuple[int, float]] = []
    paging: bytes | None = None
    while True:
        result = await asyncio.to_thread(session.execute, bound, paging_state=paging)
        for row in result.current_rows:
            if row["last_active"] is not None:
                out.append((row["user_id"], row["last_active"].replace(tzinfo=UTC).timestamp()))
        paging = result.paging_state
        if not paging:
            return out


# -- pull authors ----------------------------------------------------------------------


async def mark_pulled(session: Session, author_id: int, photo_id: int) -> bool:
    """Record that ``author_id``'s posts (from ``photo_id`` on) are pulled; True if new."""
    statement = await prepared(session, _MARK_PULLED)
    rows = await execute(session, statement, (author_id % PULL_BUCKETS, author_id, photo_id))
    return applied(rows)


async def pulled_authors(session: Session) -> set[int]:
    """Every author ever pulled (small: accounts that once had a celebrity's audience)."""
    statement = await prepared(session, _PULLED)
    pages = await asyncio.gather(*(execute(session, statement, (b,))
                                   for b in range(PULL_BUCKETS)))
    return {row["author_id"] for rows in pages for row in rows}


# -- the facade ------------------------------------------------------------------------


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
