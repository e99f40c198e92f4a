"""Explore: trending hashtags (distinct photos per hour and tag) and popular recent photos.

Why distinct photos, kept as sets: an at-least-once consumer sees some events twice, so a
count must be a *function of the state*, never a running increment. Each (hour, tag) has a
Redis set of the photo ids carrying the tag, and the hour's sorted set holds, per tag,
``SCARD`` of that set as an absolute score; a Lua script changes both at once, so a
redelivery, a crash between two writes or two writers of one tag (photos of one tag come
from every partition) all converge to the true count. The hour is the photo's posting hour
(from its time-ordered id), so a reprocessed photo never counts in another hour.

Redis Cluster: every key of the window and of the popular ranking has the hash tag
``{explore}`` (one slot), so the scripts and ``ZUNIONSTORE`` over the hour keys run on a
cluster unchanged. Per-photo engagement sets use the photo id as their hash tag (one
writer per photo: likes and comments are keyed by photo id).

Popular photos are ranked by likes + comments (distinct likers and live comments, again
sets, so a duplicate like counts once); equal scores fall back to the newer photo. Only
photos posted in the last :data:`KEEP_HOURS` hours are kept.

Cassandra keeps, per photo, the tags it was counted under and a deletion tombstone
(``trending_photos``): a ``photo.deleted`` carries no caption, and it may arrive before the
``photo.processed`` it deletes (two topics, no order between them). Redis itself is
derived state: after losing it, rewinding the ``photostream-trending`` group by
:data:`KEEP_HOURS` (``photostream topics reset-offsets``) rebuilds it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.redis import RedisClient
from schemas.ids import EPOCH_MS, id_ms
from sinks.statements import prepared

HOUR_S = 3600
#: Hours of hashtag windows and of popular photos kept; reads may ask for up to this.
KEEP_HOURS = 48
#: Cassandra rows outlive the Redis window, so a late deletion still finds its tags.
ROW_TTL_S = (KEEP_HOURS + 24) * HOUR_S

_SLOT = "{explore}"
POPULAR_KEY = f"trend:{_SLOT}:popular"
RECENT_KEY = f"trend:{_SLOT}:recent"

_ROW = "SELECT owner_id, tags, deleted FROM trending_photos WHERE photo_id = ?"
_RECORD = ("UPDATE trending_photos USING TTL ? SET owner_id = ?, tags = ? "
           "WHERE photo_id = ?")
_TOMBSTONE = ("UPDATE trending_photos USING TTL ? SET owner_id = ?, deleted = true "
              "WHERE photo_id = ?")

# KEYS[1]: the hour's tag ranking; KEYS[2..]: the (hour, tag) photo sets.
# ARGV[1]: photo id; ARGV[2]: '1' add / '0' remove; ARGV[3]: expiry (unix ms); ARGV[4..]: tags.
_COUNT_LUA = """
for i = 2, #KEYS do
  local tag = ARGV[i + 2]
  if ARGV[2] == '1' then
    redis.call('SADD', KEYS[i], ARGV[1])
    redis.call('PEXPIREAT', KEYS[i], ARGV[3])
  else
    redis.call('SREM', KEYS[i], ARGV[1])
  end
  local n = redis.call('SCARD', KEYS[i])
  if n > 0 then
    redis.call('ZADD', KEYS[1], n, tag)
  else
    redis.call('ZREM', KEYS[1], tag)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1
"""

# KEYS[1]: popular (score: engagement); KEYS[2]: recent (score: posted, unix ms).
# ARGV[1]: photo id; ARGV[2]: score; ARGV[3]: posted ms; ARGV[4]: cutoff ms.
_ADMIT_LUA = """
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 1000)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #old
"""


@dataclass(frozen=True)
class Counted:
    """What ``trending_photos`` says about one photo."""

    owner_id: int | None
    tags: frozenset[str]
    deleted: bool


def hour_of(photo_id: int) -> int:
    """The posting hour of a photo (hours since the Unix epoch), from its id."""
    return posted_ms(photo_id) // (HOUR_S * 1000)


def posted_ms(photo_id: int) -> int:
    """When the photo was posted, in Unix milliseconds (ids are time-ordered)."""
    return id_ms(photo_id) + EPOCH_MS


def tags_key(hour: int) -> str:
    """Redis sorted set of one hour's tags, scored by distinct photos."""
    return f"trend:{_SLOT}:tags:{hour}"


def tag_photos_key(hour: int, tag: str) -> str:
    """Redis set of the photo ids carrying ``tag`` that were posted in ``hour``."""
    return f"trend:{_SLOT}:tag:{hour}:{tag}"


def likes_key(photo_id: int) -> str:
    return f"trend:{{{photo_id}}}:likes"


def comments_key(photo_id: int) -> str:
    return f"trend:{{{photo_id}}}:comments"


def is_recent(photo_id: int, *, now: float | None = None) -> bool:
    """Whether the photo was posted within the kept window (older ones are ignored)."""
    now = time.time() if now is None else now
    return posted_ms(photo_id) >= _cutoff_ms(KEEP_HOURS, now)


# --- Cassandra: what was counted, and tombstones -------------------------------------


async def counted(session: Session, photo_id: int) -> Counted | None:
    """The recorded tags and tombstone of a photo (None: never seen)."""
    statement = await prepared(session, _ROW)
    rows = await execute(session, statement, (photo_id,))
    if not rows:
        return None
    row = rows[0]
    return Counted(row["owner_id"], frozenset(row["tags"] or ()), bool(row["deleted"]))


async def record_tags(session: Session, photo_id: int, owner_id: int,
                      tags: Iterable[str]) -> None:
    """Remember the tags a photo is counted under (written before counting them)."""
    statement = await prepared(session, _RECORD)
    await execute(session, statement, (ROW_TTL_S, owner_id, set(tags), photo_id))


async def tombstone(session: Session, photo_id: int, owner_id: int) -> None:
    """Mark a photo deleted, for good: a later ``photo.processed`` must not count it."""
    statement = await prepared(session, _TOMBSTONE)
    await execute(session, statement, (ROW_TTL_S, owner_id, photo_id))


# --- Redis: the window and the ranking ------------------------------------------------


async def count_photo(redis: RedisClient, photo_id: int, tags: Iterable[str]) -> None:
    """Count the photo once under each tag in its posting hour (idempotent)."""
    await _count(redis, photo_id, sorted(tags), add=True)


async def uncount_tags(redis: RedisClient, photo_id: int, tags: Iterable[str]) -> None:
    """Take the photo out of these tags' counts only (a caption edit dropped them)."""
    await _count(redis, photo_id, sorted(tags), add=False)


async def uncount_photo(redis: RedisClient, photo_id: int, tags: Iterable[str]) -> None:
    """Take the photo out of its tags' counts and out of the popular ranking."""
    await _count(redis, photo_id, sorted(tags), add=False)
    pipe = redis.pipeline(transaction=True)
    pipe.zrem(POPULAR_KEY, str(photo_id))
    pipe.zrem(RECENT_KEY, str(photo_id))
    await pipe.execute()


async def admit_popular(redis: RedisClient, photo_id: int, *, now: float | None = None
                        ) -> None:
    """Make a ready public photo a popular candidate, scored by what it already has."""
    now = time.time() if now is None else now
    score = await engagement_score(redis, photo_id)
    script = redis.register_script(_ADMIT_LUA)
    await script(keys=[POPULAR_KEY, RECENT_KEY],
                 args=[photo_id, score, posted_ms(photo_id), _cutoff_ms(KEEP_HOURS, now)])


async def set_engaged(redis: RedisClient, photo_id: int, *, like_by: int | None = None,
                      comment: int | None = None, present: bool) -> None:
    """Add/remove one liker or comment of a recent photo, then re-score it if it is ranked.

    Likes and comments are keyed by photo, so one consumer writes a photo's sets: the
    re-score (``ZADD XX``: never admits a photo on its own) cannot race another writer.
    """
    key, member = ((likes_key(photo_id), like_by) if like_by is not None
                   else (comments_key(photo_id), comment))
    expire_ms = posted_ms(photo_id) + KEEP_HOURS * HOUR_S * 1000
    pipe = redis.pipeline(transaction=True)
    if present:
        pipe.sadd(key, str(member))
        pipe.pexpireat(key, expire_ms)
    else:
        pipe.srem(key, str(member))
    await pipe.execute()
    await redis.zadd(POPULAR_KEY, {str(photo_id): await engagement_score(redis, photo_id)},
                     xx=True)


async def forget_engagement(redis: RedisClient, photo_id: int) -> None:
    """Drop a deleted photo's liker and comment sets."""
    await redis.delete(likes_key(photo_id))
    await redis.delete(comments_key(photo_id))


async def engagement_score(redis: RedisClient, photo_id: int) -> int:
    """Distinct likers + live comments of the photo (what the popular ranking sorts by)."""
    pipe = redis.pipeline(transaction=False)
    pipe.scard(likes_key(photo_id))
    pipe.scard(comments_key(photo_id))
    likes, comments = await pipe.execute()
    return int(likes) + int(comments)


async def _count(redis: RedisClient, photo_id: int, tags: list[str], *, add: bool) -> None:
    if not tags:
        return
    hour = hour_of(photo_id)
    expire_ms = (hour + 1 + KEEP_HOURS) * HOUR_S * 1000
    script = redis.register_script(_COUNT_LUA)
    await script(keys=[tags_key(hour), *(tag_photos_key(hour, t) for t in tags)],
                 args=[photo_id, "1" if add else "0", expire_ms, *tags])


# --- Reads (the read API calls these; Redis only, never Kafka) ------------------------


async def trending_hashtags(redis: RedisClient, *, hours: int = 24, limit: int = 10,
                            now: float | None = None) -> list[tuple[str, int]]:
    """The ``limit`` tags on most distinct photos posted in the last ``hours`` hours.

    ``hours`` counts the current (partial) hour and the ``hours - 1`` before it; scores
    of the hourly windows are summed (``ZUNIONSTORE`` into a throwaway key in the same
    slot, inside one MULTI). Highest first, ties by tag.
    """
    _check_window(hours, limit)
    now = time.time() if now is None else now
    current = int(now // HOUR_S)
    keys = [tags_key(h) for h in range(current - hours + 1, current + 1)]
    scratch = f"trend:{_SLOT}:scratch:{uuid.uuid4().hex}"
    pipe = redis.pipeline(transaction=True)
    pipe.zunionstore(scratch, keys)
    pipe.zrevrange(scratch, 0, -1 if limit <= 0 else limit * 2, withscores=True)
    pipe.delete(scratch)
    _, top, _ = await pipe.execute()
    ranked = sorted(((cast(bytes, t).decode(), int(s)) for t, s in top),
                    key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


async def popular_photo_ids(redis: RedisClient, *, hours: int = 48, limit: int = 30,
                            now: float | None = None) -> list[int]:
    """Ready photos of public authors posted in the last ``hours`` hours, most liked and
    commented first (ties: newer first).

    The read API must still apply its visibility rules to each card: an author who
    turned private is taken out here too, but only once that event is processed.
    """
    _check_window(hours, limit)
    now = time.time() if now is None else now
    cutoff = _cutoff_ms(hours, now)
    found: list[int] = []
    start, page = 0, max(limit * 2, 50)
    while len(found) < limit:
        members = await redis.zrevrange(POPULAR_KEY, start, start + page - 1)
        if not members:
            break
        found.extend(pid for pid in (int(cast(bytes, m)) for m in members)
                     if posted_ms(pid) >= cutoff)
        start += page
    return found[:limit]


def _check_window(hours: int, limit: int) -> None:
    if not 1 <= hours <= KEEP_HOURS:
        raise ValueError(f"hours must be between 1 and {KEEP_HOURS}, got {hours}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def _cutoff_ms(hours: int, now: float) -> int:
    return int((now - hours * HOUR_S) * 1000)
