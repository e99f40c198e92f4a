"""When each reader last read their feed: ``user_activity.last_active`` plus a Redis mirror.

The mirror is one hash per timeline bucket (``<prefix>:act:{<bucket>}``, the same
``{bucket}`` hash tag as the timelines, so the same Redis Cluster slot). The fan-out
worker asks the mirror, never Cassandra, which followers are active; a follower with no
mirror entry counts as active (their timeline, if any, is edited; ``deliver`` skips a
missing key anyway). Readers refresh the Cassandra row at most once per
:data:`ACTIVITY_GRANULARITY` (see :meth:`sinks.timelines.Timelines.touch`), so reading
a feed is not a write.

Redis Cluster: lookups are one ``HMGET`` per bucket hash, pipelined without a
transaction; nothing sends a multi-key command spanning two hash tags.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.redis import RedisClient
from sinks.redis_timelines import RedisTimelines
from sinks.statements import prepared

#: How stale the durable ``last_active`` may get before a read refreshes it.
ACTIVITY_GRANULARITY = timedelta(hours=1)

_SET_ACTIVE = "UPDATE user_activity SET last_active = ? WHERE user_id = ?"
_GET_ACTIVE = "SELECT last_active FROM user_activity WHERE user_id = ?"
_ALL_ACTIVE = "SELECT user_id, last_active FROM user_activity"


def activity_key(tl: RedisTimelines, user_id: int) -> str:
    """Same ``{bucket}`` hash tag as the user's timeline key: same cluster slot."""
    return f"{tl.prefix}:act:{{{user_id % tl.buckets}}}"


async def mirrored_activity(redis: RedisClient, tl: RedisTimelines,
                            user_ids: Sequence[int]) -> dict[int, float | None]:
    """``last_active`` (epoch seconds) from the Redis mirror; None where it has none.

    One ``HMGET`` per bucket hash, pipelined (no transaction): Cluster-safe.
    """
    groups: dict[str, list[int]] = {}
    for uid in user_ids:
        groups.setdefault(activity_key(tl, uid), []).append(uid)
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
        groups.setdefault(activity_key(tl, uid), {})[str(uid)] = repr(float(at))
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
