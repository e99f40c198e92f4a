"""The durable half of home timelines: ``timelines (user_id, photo_id DESC, author_id)``.

The source of truth every hot (Redis) timeline is rebuilt from. Every write carries
``USING TIMESTAMP`` of the *event* that caused it (the ``photo.processed``, the
``photo.deleted``, the follow or unfollow), so adds and removals of one row resolve
last-writer-wins by event time whatever order they land in: a redelivered add chunk
cannot resurrect a photo a later deletion removed, and a re-follow (a later event)
re-adds what an earlier unfollow removed.

Writes go out as replica-grouped unlogged batches of :data:`BATCH_ROWS`
(:mod:`sinks.replica_batches` says why); reads for bulk rebuilds use the same grouping
with ``IN ? PER PARTITION LIMIT ?``. :class:`sinks.timelines.Timelines` keeps this half
and the hot half together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session

from infra.connect.cassandra import TUPLES, execute, execute_many
from sinks.replica_batches import write_rows
from sinks.statements import micros, prepared

#: Requests (batches) in flight per durable write.
WRITE_CONCURRENCY = 32
#: Rows per unlogged batch (~40 bytes each: far below batch_size_warn_threshold 5 KiB).
BATCH_ROWS = 48

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


@dataclass(frozen=True)
class Entry:
    """One durable timeline row."""

    photo_id: int
    author_id: int | None


def _stamp(at: datetime | None) -> int:
    return micros(at if at is not None else datetime.now(UTC))


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

    Callers pass users of one replica set (:func:`sinks.replica_batches.replica_groups`),
    so the coordinator reads only local partitions. Every user gets an entry (maybe empty).
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
