"""A warm home-feed page in two Redis round trips: two Lua scripts over the read caches.

Why: the general read path (:mod:`api.feed`, :mod:`api.cards`) asks Redis about ten
times per page (identity, activity, timeline existence, timeline page, following list,
pulled authors' recent photos, photo rows, then profiles, counts and likes). Redis does
the whole page's work in tens of microseconds; redis-py spends ~60-100 us of Python per
command sent and parsed, so the round trips *were* the API's CPU per page (issue 22).

* :func:`page_ids` (round trip 1): the caller's cached identity and activity mark, one
  page of their hot timeline (same packed layout and binary search as
  :mod:`sinks.redis_timelines`), their cached following list, and the cached recent
  photos of the pull authors they follow (membership tested on the cached JSON list
  of ids, as decimal text: Lua numbers are doubles and would round 64-bit ids).
* :func:`page_parts` (round trip 2): the photo rows of the candidates, each row's
  author's profile (the owner id read from the row's JSON, so no third trip), their
  like/comment counts and the reader's likes window.

They return the cached bytes *raw*: deciding what the reader sees stays in Python, in
:mod:`api.visibility` (the one rule), and a missing entry is for the caller to fill
through the ordinary read-through path. Nothing here writes.

Single Redis server only: the scripts read keys of many hash slots (and :func:`page_parts`
keys it derives from values), which Redis Cluster refuses; on a cluster the read API
keeps the general path. Keys are the ones of :mod:`sinks.cache`,
:mod:`sinks.redis_timelines` and :mod:`sinks.reader_activity`; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from infra.connect.redis import RedisClient
from sinks import cache
from sinks.reader_activity import activity_key
from sinks.redis_timelines import RedisTimelines

# KEYS: identity, activity hash, timeline, following, then one recent-photos key per pull
# author. ARGV: user id, packed "before" id or "", want, cap, then the pull authors' ids
# (ARGV[i] is the author of KEYS[i] for i >= 5).
_PAGE_IDS = """
local out = {}
out[1] = redis.call('GET', KEYS[1])
out[2] = redis.call('HGET', KEYS[2], ARGV[1])
local key = KEYS[3]
local hdr = redis.call('GETRANGE', key, 0, 11)
out[3] = 0
out[4] = ''
out[7] = 0
if hdr ~= '' then
  out[3] = 1
  local start = struct.unpack('>I4', hdr)
  local base = 12 + start * 8
  local n = math.min((redis.call('STRLEN', key) - base) / 8, tonumber(ARGV[4]))
  out[7] = n
  local i = 0
  if #ARGV[2] == 8 then
    local h, l = struct.unpack('>I4I4', ARGV[2])
    local lo, hi = 0, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local e = redis.call('GETRANGE', key, base + mid * 8, base + mid * 8 + 7)
      local eh, el = struct.unpack('>I4I4', e)
      if eh > h or (eh == h and el >= l) then lo = mid + 1 else hi = mid end
    end
    i = lo
  end
  local stop = math.min(i + tonumber(ARGV[3]), n)
  if stop > i then
    out[4] = redis.call('GETRANGE', key, base + i * 8, base + stop * 8 - 1)
  end
end
local following = redis.call('GET', KEYS[4])
out[5] = following
local pulled = {}
if following then
  local ids = ',' .. string.sub(following, 2, -2) .. ','
  for i = 5, #KEYS do
    if string.find(ids, ',' .. ARGV[i] .. ',', 1, true) then
      pulled[#pulled + 1] = ARGV[i]
      pulled[#pulled + 1] = redis.call('GET', KEYS[i])
    end
  end
end
out[6] = pulled
return out
"""

# KEYS: n photo keys, n engagement keys, the reader's likes key. ARGV: n, and the profile
# key around the owner id (prefix, suffix). Returns rows, owners' profiles (aligned with
# the rows), counts, likes window; a missing entry is false (None in Python).
_PAGE_PARTS = """
local n = tonumber(ARGV[1])
local rows, counts = {}, {}
if n > 0 then
  rows = redis.call('MGET', unpack(KEYS, 1, n))
  counts = redis.call('MGET', unpack(KEYS, n + 1, 2 * n))
end
local profiles = {}
for i = 1, n do
  local owner = rows[i] and string.match(rows[i], '"owner":(%d+)')
  profiles[i] = owner and redis.call('GET', ARGV[2] .. owner .. ARGV[3]) or false
end
return {rows, profiles, counts, redis.call('GET', KEYS[2 * n + 1])}
"""

#: The profile key around an owner id, as the script builds it (``c:profile:{`` ``}``).
_PROFILE_AROUND = tuple(cache.PROFILE.key(0).split("0", 1))


@dataclass(frozen=True)
class PageIds:
    """What round trip 1 read; None where the cache had no entry."""

    identity: bytes | None
    last_active: bytes | None
    timeline_exists: bool
    pushed: bytes  # packed big-endian ids, newest first
    #: Entries the hot timeline holds (at most its cap): below the cap it holds every
    #: durable entry too (a rebuild loads the newest ``cap``; deliveries only add).
    timeline_size: int
    following: bytes | None
    #: Followed pull author -> their cached recent photo ids (None: not cached).
    pulled: dict[int, bytes | None]


@dataclass(frozen=True)
class PageParts:
    """What round trip 2 read, aligned with the ids asked for; None where missing."""

    rows: list[bytes | None]
    profiles: list[bytes | None]
    counts: list[bytes | None]
    liked: bytes | None


class FeedReads:
    """The two scripts of a feed page, registered on one (non-cluster) client."""

    def __init__(self, redis: RedisClient, hot: RedisTimelines, identity: cache.CacheKind
                 ) -> None:
        self.hot = hot
        self.identity = identity
        self._ids = redis.register_script(_PAGE_IDS)
        self._parts = redis.register_script(_PAGE_PARTS)

    async def page_ids(self, user_id: int, want: int, before: int | None,
                       pull_authors: Sequence[int]) -> PageIds:
        """Round trip 1 (module docstring); ``pull_authors``: every known one."""
        keys = [self.identity.key(user_id), activity_key(self.hot, user_id),
                self.hot.key(user_id), cache.FOLLOWING.key(user_id),
                *(cache.RECENT.key(a) for a in pull_authors)]
        packed = b"" if before is None else before.to_bytes(8, "big")
        args: list[Any] = [user_id, packed, want, self.hot.cap, *pull_authors]
        reply = cast(list[Any], await self._ids(keys=keys, args=args))
        identity, active, exists, pushed, following, pulled, size = reply
        return PageIds(identity, active, bool(exists), pushed or b"", int(size), following,
                       {int(pulled[i]): pulled[i + 1] for i in range(0, len(pulled), 2)})

    async def page_parts(self, user_id: int, ids: Sequence[int]) -> PageParts:
        """Round trip 2 (module docstring)."""
        keys = [*(cache.PHOTO.key(p) for p in ids), *(cache.ENGAGEMENT.key(p) for p in ids),
                cache.LIKED.key(user_id)]
        reply = cast(list[Any], await self._parts(keys=keys, args=[len(ids), *_PROFILE_AROUND]))
        rows, profiles, counts, liked = reply
        return PageParts(list(rows), list(profiles), list(counts), liked)
