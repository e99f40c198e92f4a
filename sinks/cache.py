"""Read-through caches in Redis for the read API, invalidated by the stream processors.

Everything here is *derived* state: the source of truth is Cassandra. The read API fills
an entry on a miss; the processor that changes the source invalidates it right after its
Cassandra write. The hard part is the race between the two, which must never leave an
entry older than the source (a cached "ready" after a deletion, a cached "public" after
an account went private, a cached following list after an unfollow):

    reader: GET value (miss) -> GET version v -> read Cassandra -> SET value IF version == v
    writer: write Cassandra  -> INCR version + DEL value (one script: atomic)

If the reader's Cassandra read missed the writer's change, that change completed after
the read began, so the writer's ``INCR + DEL`` runs after the reader's version read:
either before the reader's conditional SET (which then fails: version moved) or after
it (the DEL removes the stale value). There is no order in which a stale value stays.
Fills never overwrite a present value and carry a TTL, so a lost invalidation (Redis
restarted mid-way) heals by itself; version keys live far longer than any fill takes.

Redis unreachable (stopped, cut off, past the read API's socket timeout): every read
loads from Cassandra directly and skips the fill, noted with :mod:`infra.degraded`. The
answer is the source of truth, only slower; no entry is written that an invalidation
could have missed. A full connection pool is overload, not an outage: it propagates.

Keys: ``c:<kind>:{<id>}`` and ``c:<kind>:{<id>}:v`` share a hash tag, so each script
touches one Redis Cluster slot; batches of entries go through non-transactional
pipelines (the cluster client splits them by node).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from redis.asyncio.cluster import RedisCluster

from infra import degraded
from infra.connect.outages import REDIS, REDIS_ERRORS
from infra.connect.redis import RedisClient
from sinks.redis_scripts import evalsha_many

#: Version keys outlive any fill by orders of magnitude (a fill takes milliseconds).
VERSION_TTL_SECONDS = 2 * 24 * 3600

_FILL = """
local v = redis.call('GET', KEYS[2])
if (v or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX')
return 1
"""

_INVALIDATE = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""
# The same for many entries at once (KEYS: value, version, value, version, ...): one
# call instead of one per entry where every key lives on one server.
_INVALIDATE_MANY = """
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
  redis.call('DEL', KEYS[i])
end
return #KEYS / 2
"""
#: Entries per multi-entry invalidation call (bounds one script's time in Redis).
INVALIDATE_GROUP = 256


@dataclass(frozen=True)
class CacheKind:
    """One family of cached entries: its key prefix and how long a fill lives."""

    name: str
    ttl_seconds: int

    def key(self, entity_id: int) -> str:
        return f"c:{self.name}:{{{entity_id}}}"

    def version_key(self, entity_id: int) -> str:
        return f"c:{self.name}:{{{entity_id}}}:v"


#: A photo's row as the read side shows it (status, owner, sizes, derivatives, caption).
PHOTO = CacheKind("photo", 3600)
#: A user's public profile (username, display name, bio, private flag).
PROFILE = CacheKind("profile", 3600)
#: A user's follower / following / photo counts.
USER_COUNTS = CacheKind("ucounts", 600)
#: Whom a user follows (approved edges only), packed ids.
FOLLOWING = CacheKind("following", 3600)
#: A photo's like and comment counts.
ENGAGEMENT = CacheKind("engagement", 600)
#: A user's newest ready photos (ids): celebrities' posts merged into feeds at read time.
RECENT = CacheKind("recent", 600)
#: The newest photos a user has liked (packed ids), for ``liked_by_me``.
LIKED = CacheKind("liked", 600)
#: Whom a user blocked, who blocked them, whom they muted (:mod:`sinks.blocks`).
RELATIONS = CacheKind("relations", 3600)

Loader = Callable[[list[int]], Awaitable[Mapping[int, bytes]]]


async def get_many(redis: RedisClient, kind: CacheKind, ids: Sequence[int],
                   load: Loader) -> dict[int, bytes]:
    """Cached values of ``ids``, filling misses through ``load`` (ids it omits stay absent).

    Hot path: one ``MGET`` (one reply to parse, however many ids: measured several
    times cheaper in the client than a pipeline of GETs). Misses cost one more
    ``MGET`` (versions), the load, and one pipeline of conditional fills.
    """
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    return await degraded.or_else(_read(redis, kind, unique, load), REDIS,
                                  lambda: _load(load, unique))


async def _read(redis: RedisClient, kind: CacheKind, unique: list[int],
                load: Loader) -> dict[int, bytes]:
    values = await _mget(redis, [kind.key(e) for e in unique])
    return await _complete(redis, kind, unique, values, load)


async def _load(load: Loader, ids: list[int]) -> dict[int, bytes]:
    """Straight from the source, without the cache (Redis is unreachable)."""
    return dict(await load(ids))


Request = tuple[CacheKind, Sequence[int], Loader]


async def get_multi(redis: RedisClient, requests: Sequence[Request]) -> list[dict[int, bytes]]:
    r""":func:`get_many` for several kinds at once: on one server, their ``MGET``\ s go in
    one pipelined round trip (a card needs profiles, counts and the reader's likes)."""
    if _is_cluster(type(redis)):  # MGETs span slots: let each one be split by slot
        return list(await asyncio.gather(*(get_many(redis, kind, ids, load)
                                           for kind, ids, load in requests)))
    uniques = [list(dict.fromkeys(ids)) for _, ids, _ in requests]
    live = [i for i, unique in enumerate(uniques) if unique]
    try:
        return await _read_multi(redis, requests, uniques, live)
    except REDIS_ERRORS as exc:
        if not degraded.survived(exc, REDIS):
            raise
    return list(await asyncio.gather(*(_load(load, unique) if unique else _nothing()
                                       for (_, _, load), unique in zip(requests, uniques,
                                                                       strict=True))))


async def _nothing() -> dict[int, bytes]:
    return {}


async def _read_multi(redis: RedisClient, requests: Sequence[Request],
                      uniques: list[list[int]], live: list[int]) -> list[dict[int, bytes]]:
    replies: list[Any] = []
    if live:
        async with redis.pipeline(transaction=False) as pipe:
            for i in live:
                pipe.mget([requests[i][0].key(e) for e in uniques[i]])
            replies = await pipe.execute()
    out: list[dict[int, bytes]] = [{} for _ in requests]
    done = await asyncio.gather(*(
        _complete(redis, requests[i][0], uniques[i], values, requests[i][2])
        for i, values in zip(live, replies, strict=True)))
    for i, found in zip(live, done, strict=True):
        out[i] = found
    return out


async def _complete(redis: RedisClient, kind: CacheKind, unique: list[int],
                    values: Sequence[Any], load: Loader) -> dict[int, bytes]:
    """The hits among ``values`` plus the misses, loaded and (conditionally) filled."""
    found = {e: cast(bytes, v) for e, v in zip(unique, values, strict=True) if v is not None}
    missing = [e for e in unique if e not in found]
    if missing:
        found.update(await _fill(redis, kind, missing, load))
    return found


async def invalidate(redis: RedisClient, kind: CacheKind, ids: Iterable[int]) -> None:
    """Drop the entries of ``ids`` and void every fill in flight for them.

    Call it after the Cassandra write it reflects is durable.
    """
    unique = list(dict.fromkeys(ids))
    if not unique:
        return
    if _is_cluster(type(redis)):  # keys of many slots: one call per entry, routed
        await evalsha_many(redis, redis.register_script(_INVALIDATE), [
            ([kind.key(e), kind.version_key(e)], [VERSION_TTL_SECONDS]) for e in unique])
        return
    # One server: a processor's run of thousands of entries is a few calls, not
    # thousands of pipelined ones (redis-py spends ~50 us parsing each reply).
    groups = [unique[i:i + INVALIDATE_GROUP] for i in range(0, len(unique), INVALIDATE_GROUP)]
    await evalsha_many(redis, redis.register_script(_INVALIDATE_MANY), [
        ([k for e in group for k in (kind.key(e), kind.version_key(e))], [VERSION_TTL_SECONDS])
        for group in groups])


async def invalidate_photo(redis: RedisClient, photo_id: int, owner_id: int) -> None:
    """Drop what a change of one photo's state makes stale: the photo, and its owner's
    counts and recent photos (the metadata processor on every photo event; the ingest's
    abort after its tombstone)."""
    await asyncio.gather(invalidate(redis, PHOTO, [photo_id]),
                         invalidate(redis, USER_COUNTS, [owner_id]),
                         invalidate(redis, RECENT, [owner_id]))

async def _mget(redis: RedisClient, keys: list[str]) -> list[Any]:
    """MGET on one server; on a cluster, the client splits it by slot (keys of several
    entities are in several slots) and reassembles the answers in order."""
    if _is_cluster(type(redis)):
        return list(await redis.mget_nonatomic(keys))  # type: ignore[union-attr]
    return list(await redis.mget(keys))


@lru_cache(maxsize=8)
def _is_cluster(client_type: type) -> bool:
    """Cached per class: ``isinstance`` against the cluster client goes through a
    ``typing.Protocol`` check costing ~6 us, several times per request."""
    return issubclass(client_type, RedisCluster)


async def _fill(redis: RedisClient, kind: CacheKind, ids: list[int],
                load: Loader) -> dict[int, bytes]:
    versions = await _mget(redis, [kind.version_key(e) for e in ids])
    loaded = dict(await load(ids))
    fills = [([kind.key(e), kind.version_key(e)], [v or b"", loaded[e], kind.ttl_seconds])
             for e, v in zip(ids, versions, strict=True) if e in loaded]
    if fills:
        try:
            await evalsha_many(redis, redis.register_script(_FILL), fills)
        except REDIS_ERRORS as exc:  # lost between the read and the fill: not cached
            if not degraded.survived(exc, REDIS):
                raise
    return loaded


# -- ranked feed snapshots ---------------------------------------------------------------

#: How long a "top" feed ranking stays pageable (a client scrolling slower re-ranks).
RANKING_TTL_SECONDS = 900


def ranking_key(user_id: int, snapshot: int) -> str:
    return f"rank:{{{user_id}}}:{snapshot}"


async def save_ranking(redis: RedisClient, user_id: int, snapshot: int,
                       photo_ids: Sequence[int]) -> None:
    """Keep one ranked candidate list so later pages of the same cursor see one order.

    Redis unreachable: not kept (noted); the next page ranks again.
    """
    try:
        await redis.set(ranking_key(user_id, snapshot),
                        struct.pack(f">{len(photo_ids)}q", *photo_ids), ex=RANKING_TTL_SECONDS)
    except REDIS_ERRORS as exc:
        if not degraded.survived(exc, REDIS):
            raise


async def load_ranking(redis: RedisClient, user_id: int, snapshot: int) -> list[int] | None:
    """The saved ranking; None when expired, or Redis is unreachable (noted)."""
    try:
        blob = cast(bytes | None, await redis.get(ranking_key(user_id, snapshot)))
    except REDIS_ERRORS as exc:
        if not degraded.survived(exc, REDIS):
            raise
        return None
    if blob is None:
        return None
    return list(struct.unpack(f">{len(blob) // 8}q", blob))
