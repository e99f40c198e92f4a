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
* :func:`profile_parts` (a profile page's one round trip, a plain ``MGET``): the reader's
  identity, following list and relations, the profile and its counts.

They return the cached bytes *raw*: deciding what the reader sees stays in Python, in
:mod:`api.visibility` (the one rule), and a missing entry is for the caller to fill
through the ordinary read-through path. Nothing here writes. A relation the rule comes
to need (say, the reader's blocks) is one more ``GET`` beside the following list in each
script, passed to the rule like ``following`` is: no extra round trip.

Single Redis server only: the scripts read keys of many hash slots, and keys they build
from ids and values, which Redis Cluster refuses; on a cluster the read API
keeps the general path. Keys are the ones of :mod:`sinks.cache`,
:mod:`sinks.redis_timelines` and :mod:`sinks.reader_activity`; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from infra.connect.redis import Lane, RedisClient
from sinks import cache
from sinks.reader_activity import activity_key
from sinks.redis_timelines import RedisTimelines

# KEYS: identity, activity hash, timeline, following, relations (blocks and mutes).
# ARGV: user id, packed "before" id or "", want, cap, the pull authors' ids (decimal,
# comma-separated) and the recent-photos key around an author id (prefix, suffix). Ids
# travel as one string, keys are built here: redis-py spends ~5 us of Python encoding
# each argument, and there were dozens.
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
  for author in string.gmatch(ARGV[5], '%d+') do
    if string.find(ids, ',' .. author .. ',', 1, true) then
      pulled[#pulled + 1] = author
      pulled[#pulled + 1] = redis.call('GET', ARGV[6] .. author .. ARGV[7])
    end
  end
end
out[6] = pulled
out[8] = redis.call('GET', KEYS[5])
return out
"""

# KEYS: the reader's likes key, optionally their identity and following keys (returned
# too: a single photo's card is then one round trip). ARGV: the photo ids (decimal,
# comma-separated), then the photo, engagement and profile keys around an id (prefix,
# suffix each). Returns rows, the owners' profiles (aligned with the rows; the owner id
# read from the row's JSON), counts, the likes window and the viewer's entries; a missing
# entry is false (None in Python).
_PAGE_PARTS = """
local photo_keys, count_keys = {}, {}
for id in string.gmatch(ARGV[1], '%d+') do
  photo_keys[#photo_keys + 1] = ARGV[2] .. id .. ARGV[3]
  count_keys[#count_keys + 1] = ARGV[4] .. id .. ARGV[5]
end
local n = #photo_keys
local rows, counts = {}, {}
if n > 0 then
  rows = redis.call('MGET', unpack(photo_keys))
  counts = redis.call('MGET', unpack(count_keys))
end
local profiles = {}
for i = 1, n do
  local owner = rows[i] and string.match(rows[i], '"owner":(%d+)')
  profiles[i] = owner and redis.call('GET', ARGV[6] .. owner .. ARGV[7]) or false
end
local viewer = {}
for i = 2, #KEYS do viewer[i - 1] = redis.call('GET', KEYS[i]) end
return {rows, profiles, counts, redis.call('GET', KEYS[1]), viewer}
"""



def _around(kind: cache.CacheKind) -> tuple[str, str]:
    """The key of ``kind`` around an id, as the scripts build it (``c:photo:{``, ``}``)."""
    prefix, suffix = kind.key(0).split("0", 1)
    return prefix, suffix


_RECENT_AROUND = _around(cache.RECENT)
_PARTS_AROUND = (*_around(cache.PHOTO), *_around(cache.ENGAGEMENT), *_around(cache.PROFILE))


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
    #: The reader's cached blocks and mutes (:mod:`sinks.blocks`; None: not cached).
    relations: bytes | None = None


@dataclass(frozen=True)
class PageParts:
    """What round trip 2 read, aligned with the ids asked for; None where missing."""

    rows: list[bytes | None]
    profiles: list[bytes | None]
    counts: list[bytes | None]
    liked: bytes | None
    #: With ``viewer=True``: the reader's cached identity, following list and relations.
    identity: bytes | None = None
    following: bytes | None = None
    relations: bytes | None = None


@dataclass(frozen=True)
class ProfileParts:
    """What a profile page's ``MGET`` read; None where the cache had no entry."""

    identity: bytes | None
    following: bytes | None
    relations: bytes | None
    profile: bytes | None
    counts: bytes | None


class FeedReads:
    """The two scripts of a feed page, sent through a :class:`~infra.connect.redis.Lane`
    (one server; ``redis`` only hashes the scripts)."""

    def __init__(self, lane: Lane, redis: RedisClient, hot: RedisTimelines,
                 identity: cache.CacheKind) -> None:
        self.lane = lane
        self.hot = hot
        self.identity = identity
        self._ids = redis.register_script(_PAGE_IDS)
        self._parts = redis.register_script(_PAGE_PARTS)

    async def _run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """EVALSHA, loading the script first where the server lacks it (a restart)."""
        try:
            return await self.lane.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.lane.call("SCRIPT", "LOAD", script.script)
            return await self.lane.call("EVALSHA", script.sha, len(keys), *keys, *args)

    async def page_ids(self, user_id: int, want: int, before: int | None,
                       pull_authors: str) -> PageIds:
        """Round trip 1 (module docstring); ``pull_authors``: every known one, as decimal
        ids joined by commas."""
        keys = [self.identity.key(user_id), activity_key(self.hot, user_id),
                self.hot.key(user_id), cache.FOLLOWING.key(user_id),
                cache.RELATIONS.key(user_id)]
        packed = b"" if before is None else before.to_bytes(8, "big")
        args: list[bytes | str | int] = [user_id, packed, want, self.hot.cap,
                                         pull_authors, *_RECENT_AROUND]
        reply = cast(list[Any], await self._run(self._ids, keys, args))
        identity, active, exists, pushed, following, pulled, size, relations = reply
        return PageIds(identity, active, bool(exists), pushed or b"", int(size), following,
                       {int(pulled[i]): pulled[i + 1] for i in range(0, len(pulled), 2)},
                       relations)

    async def page_parts(self, user_id: int, ids: Sequence[int], *,
                         viewer: bool = False) -> PageParts:
        """Round trip 2 (module docstring); ``viewer``: with the reader's identity,
        following list and relations (for a card shown alone, :meth:`page_ids` not having
        run)."""
        keys = [cache.LIKED.key(user_id)]
        if viewer:
            keys += [self.identity.key(user_id), cache.FOLLOWING.key(user_id),
                     cache.RELATIONS.key(user_id)]
        reply = cast(list[Any], await self._run(self._parts, keys,
                                                [",".join(map(str, ids)), *_PARTS_AROUND]))
        rows, profiles, counts, liked, mine = reply
        return PageParts(list(rows), list(profiles), list(counts), liked, *mine)

    async def profile_parts(self, viewer: int, user_id: int) -> ProfileParts:
        """The cache entries of ``user_id``'s profile page as ``viewer`` sees it."""
        keys = [self.identity.key(viewer), cache.FOLLOWING.key(viewer),
                cache.RELATIONS.key(viewer), cache.PROFILE.key(user_id),
                cache.USER_COUNTS.key(user_id)]
        return ProfileParts(*cast(list[Any], await self.lane.call("MGET", *keys)))
