"""A Redis mirror of photo tombstones, so the fan-out worker never reads a photo's row.

Why it exists: a fan-out worker may apply a photo's *add* chunk after the chunks that
removed it (chunks are spread over partitions, and a deletion can even overtake its
photo's ``photo.processed`` to the planner). Its Cassandra rows cannot come back (they
carry the post's event time, older than the deletion's), but its Redis copy would, so
the worker asks, after each add, whether the photo was withdrawn meanwhile and undoes
the add if so. It used to ask Cassandra (a second read of the photo's row per photo);
it asks this key instead:

    deleter: tombstone in Cassandra -> SET withdrawn -> publish the removal chunks
    worker:  push to Redis          -> EXISTS withdrawn -> undo if set

Either the push happened before the ``SET`` (then a removal chunk, published after it,
removes the push) or after it (then the ``EXISTS`` sees it). The key lives as long as
an add chunk can still be applied: ``media.processed`` retention (a replay re-plans the
adds) plus ``fanout.tasks`` retention. Losing it (Redis flushed or failed over) only
leaves an id in a hot timeline that the reader's visibility rule hides anyway (the
photo's status is read at serve time) and the next rebuild from Cassandra drops.

Key: ``wd:{<photo_id>}``, one slot per photo (single-key commands only).
"""

from __future__ import annotations

from infra.connect.redis import RedisClient
from schemas.topics import FANOUT_TASKS, MEDIA_PROCESSED

TTL_SECONDS = (MEDIA_PROCESSED.retention_ms + FANOUT_TASKS.retention_ms) // 1000


def key(photo_id: int) -> str:
    return f"wd:{{{photo_id}}}"


async def mark(redis: RedisClient, photo_id: int) -> None:
    """Record that ``photo_id`` is deleted (after its Cassandra tombstone is written)."""
    await redis.set(key(photo_id), b"1", ex=TTL_SECONDS)


async def is_withdrawn(redis: RedisClient, photo_id: int) -> bool:
    """True when ``photo_id`` was deleted within the key's lifetime."""
    return bool(await redis.exists(key(photo_id)))
