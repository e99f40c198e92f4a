"""The hot half of home timelines: one compact Redis string per user, edited by Lua.

Encoding (why not a sorted set)
    A timeline is a Redis *string*::

        [start: u32][newest id: 8 B][gap: start free slots][entries: 8 B each]

    Entries are big-endian unsigned 64-bit photo ids sorted descending (newest first).
    Photo ids are time-sortable, so id order is time order, and they do not fit a
    sorted-set score (a double) exactly above 2**53. A sorted set costs several times
    more per entry (skiplist + dict + member strings); the packed string costs 8 bytes
    plus the gap and allocator rounding, ~10 bytes per entry for a full timeline
    (``python -m bench.fanout`` measures both). Big-endian fixed width keeps byte
    order equal to numeric order, so scripts binary-search it and a page is one
    ``GETRANGE``.

    Why the gap: Lua in Redis is slow with large strings (loading a 6.4 kB timeline
    into a script costs ~15-20 us, measured), and ``APPEND``/``SETRANGE`` past the end
    grow the allocation greedily (one byte past 6.4 kB allocates 14 kB). So a new
    photo, normally newer than everything in the timeline, is written *in place* into
    the free slot just before the newest entry: one ``GETRANGE`` of the 12-byte header
    (start + a copy of the newest id, for the order and duplicate check) and two
    ``SETRANGE``s (slot, header). Only when the gap is used up, or a photo arrives out
    of order, does the script load the timeline, splice, cap to ``cap`` and ``SET`` it
    back with a fresh gap of a quarter of its entries (4..cap/4): amortised O(1). The
    allocation never grows in place, so memory stays exact. Entries past ``cap`` that
    in-place inserts push down are ignored by readers and dropped at the next rewrite.

    Every edit is a Lua script, hence atomic and idempotent: delivering the same photo
    twice leaves it once. Scripts compare ids as two 32-bit halves
    (``struct.unpack('>I4I4')``): Lua numbers are doubles, and Lua's ``<`` on strings
    goes through ``strcoll`` (locale-dependent), so neither is safe for 64-bit binary
    ids. Redis 7 replicates script *effects*: in-place deliveries ship ~30 bytes to
    replicas/AOF, rewrites the whole value; timelines are a rebuildable cache, so
    run them without AOF.

Missing vs empty
    A built timeline always exists as a key, even when empty (header and gap only), so
    ``exists`` tells "built, nothing to show" from "missing: rebuild from Cassandra".
    ``deliver``, ``backfill`` and ``remove`` only edit timelines that exist: creating a
    key holding just the new photo would mark a never-built (or evicted) timeline as
    built and hide its history; the reader rebuilds it with ``replace`` instead.

Keys and Redis Cluster
    ``<prefix>:{<bucket>}:<user_id>`` with ``bucket = user_id % buckets`` (default
    256). The ``{bucket}`` hash tag puts every timeline of a bucket in one cluster
    slot, so one ``EVALSHA`` may edit up to ``batch`` timelines of the *same* bucket;
    fan-out groups followers by bucket and pipelines one call per group (non-
    transactional pipelines, which the cluster client splits per node). Per-user slots
    would force one script call per follower; per-call overhead is what limits us
    (measured: 5 000-follower chunks ran ~1.5-2x slower with 1024 buckets, ~5 keys a
    call, than with 256, ~20 keys a call). 256 slots still spread evenly over clusters
    of up to ~50 primaries; raise ``buckets`` for bigger ones. ``buckets`` is part of
    the data layout: changing it orphans every existing key (a cache: flush, and
    timelines rebuild lazily).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis.commands.core import AsyncScript

from infra.connect.redis import RedisClient
from sinks.redis_scripts import evalsha_many

_MAX_ID = 1 << 64

# Shared Lua helpers. ``t`` strings are bare entries (packed, descending), 0-indexed;
# entry i occupies bytes [8i+1, 8i+8]. ``fill`` (an ARGV) is zero bytes for gaps.
_LUA_PRELUDE = """
local HDR = 12
local function above(t, i, h, l)
  -- true when entry i is strictly newer (greater) than the id (h, l)
  local eh, el = struct.unpack('>I4I4', t, i * 8 + 1)
  return eh > h or (eh == h and el > l)
end
local function seek(t, n, h, l)
  -- first index whose entry is <= (h, l); entries are sorted descending
  if n == 0 or not above(t, 0, h, l) then return 0 end
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if above(t, mid, h, l) then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function decode(s, cap)
  -- the live entries of a stored timeline, newest first, at most cap
  local start = struct.unpack('>I4', s)
  local n = math.min((#s - HDR) / 8 - start, cap)
  return string.sub(s, HDR + start * 8 + 1, HDR + (start + n) * 8)
end
local function encode(key, t, cap, fill)
  -- store entries t with a fresh gap in front (same rule as _gap in Python)
  local n = #t / 8
  local gap = math.max(4, math.min(math.floor(n / 4), math.floor(cap / 4)))
  local newest = string.sub(fill, 1, 8)
  if n > 0 then newest = string.sub(t, 1, 8) end
  redis.call('SET', key,
    struct.pack('>I4', gap) .. newest .. string.sub(fill, 1, gap * 8) .. t, 'KEEPTTL')
end
"""

# KEYS: timelines. ARGV: packed id, cap, fill.
# Returns how many timelines exist. Fast path (the photo is newer than everything and
# the gap has room): one GETRANGE of the header, two SETRANGEs writing the slot and
# the header, a few dozen bytes moved. Else rewrite the timeline with a fresh gap.
_DELIVER = (
    _LUA_PRELUDE
    + """
local id, cap, fill = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local h, l = struct.unpack('>I4I4', id)
local present = 0
for _, key in ipairs(KEYS) do
  local hdr = redis.call('GETRANGE', key, 0, HDR - 1)
  if hdr ~= '' then
    present = present + 1
    local start, nh, nl = struct.unpack('>I4I4I4', hdr)
    if start > 0 and (h > nh or (h == nh and l > nl)) then
      redis.call('SETRANGE', key, HDR + (start - 1) * 8, id)
      redis.call('SETRANGE', key, 0, struct.pack('>I4', start - 1) .. id)
    elseif h ~= nh or l ~= nl then
      local t = decode(redis.call('GET', key), cap)
      local n = #t / 8
      local i = seek(t, n, h, l)
      if i < cap and (i == n or string.sub(t, i * 8 + 1, i * 8 + 8) ~= id) then
        encode(key, string.sub(t, 1, i * 8) .. id .. string.sub(t, i * 8 + 1, (cap - 1) * 8),
          cap, fill)
      end
    end
  end
end
return present
"""
)

# KEYS: timelines. ARGV: packed photo id, cap, fill. Returns how many held it.
_REMOVE = (
    _LUA_PRELUDE
    + """
local id, cap, fill = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local h, l = struct.unpack('>I4I4', id)
local removed = 0
for _, key in ipairs(KEYS) do
  local s = redis.call('GET', key)
  if s then
    local t = decode(s, cap)
    local i = seek(t, #t / 8, h, l)
    if string.sub(t, i * 8 + 1, i * 8 + 8) == id then
      encode(key, string.sub(t, 1, i * 8) .. string.sub(t, i * 8 + 9), cap, fill)
      removed = removed + 1
    end
  end
end
return removed
"""
)

# KEYS[1]: timeline. ARGV: packed photo ids (any order), cap, fill. Returns how many went.
_REMOVE_MANY = (
    _LUA_PRELUDE
    + """
local s = redis.call('GET', KEYS[1])
if not s then return 0 end
local cap, fill = tonumber(ARGV[2]), ARGV[3]
local t = decode(s, cap)
local drop, ids = {}, ARGV[1]
for p = 1, #ids, 8 do drop[string.sub(ids, p, p + 7)] = true end
local keep = {}
for p = 1, #t, 8 do
  local e = string.sub(t, p, p + 7)
  if not drop[e] then keep[#keep + 1] = e end
end
local removed = #t / 8 - #keep
if removed > 0 then encode(KEYS[1], table.concat(keep), cap, fill) end
return removed
"""
)

# KEYS[1]: timeline. ARGV: packed ids sorted descending and unique, cap, fill.
# Returns 1 when the timeline exists (and was merged), else 0.
_MERGE = (
    _LUA_PRELUDE
    + """
local s = redis.call('GET', KEYS[1])
if not s then return 0 end
local b, cap, fill = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local a = decode(s, cap)
local out, i, j, n, m = {}, 0, 0, #a / 8, #b / 8
while #out < cap and (i < n or j < m) do
  local take_a
  if j >= m then take_a = true
  elseif i >= n then take_a = false
  else
    local ah, al = struct.unpack('>I4I4', a, i * 8 + 1)
    local bh, bl = struct.unpack('>I4I4', b, j * 8 + 1)
    if ah == bh and al == bl then j = j + 1 end
    take_a = ah > bh or (ah == bh and al >= bl)
  end
  if take_a then
    out[#out + 1] = string.sub(a, i * 8 + 1, i * 8 + 8); i = i + 1
  else
    out[#out + 1] = string.sub(b, j * 8 + 1, j * 8 + 8); j = j + 1
  end
end
encode(KEYS[1], table.concat(out), cap, fill)
return 1
"""
)

# KEYS[1]: timeline. ARGV: packed "before" id or "", limit, cap. Returns packed ids.
# Probes single entries with GETRANGE instead of loading the whole timeline into Lua
# (large Lua strings cost ~2 us per kB in Redis' Lua).
_READ = """
local key = KEYS[1]
local hdr = redis.call('GETRANGE', key, 0, 11)
if hdr == '' then return '' end
local start = struct.unpack('>I4', hdr)
local base = 12 + start * 8
local n = math.min((redis.call('STRLEN', key) - base) / 8, tonumber(ARGV[3]))
local i = 0
if #ARGV[1] == 8 then
  local h, l = struct.unpack('>I4I4', ARGV[1])
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('GETRANGE', key, base + mid * 8, base + mid * 8 + 7)
    local eh, el = struct.unpack('>I4I4', e)
    if eh > h or (eh == h and el >= l) then lo = mid + 1 else hi = mid end
  end
  i = lo
end
local stop = math.min(i + tonumber(ARGV[2]), n)
if stop <= i then return '' end
return redis.call('GETRANGE', key, base + i * 8, base + stop * 8 - 1)
"""


def _check(photo_id: int) -> int:
    if not 0 < photo_id < _MAX_ID:
        raise ValueError(f"photo id {photo_id} is not a positive unsigned 64-bit integer")
    return photo_id


def _pack_sorted(photo_ids: Iterable[int], cap: int) -> bytes:
    """Newest ``cap`` distinct ids, packed descending: only those can survive a merge."""
    ids = sorted(set(photo_ids), reverse=True)[:cap]
    if ids:
        _check(ids[0])
        _check(ids[-1])
    return struct.pack(f">{len(ids)}Q", *ids)


def _gap(entries: int, cap: int) -> int:
    """Free slots left in front after a rewrite: a quarter of the entries (4..cap/4).

    Proportional, so rewrites (which load the whole timeline into Lua, the slow part)
    happen once per ``gap`` in-order deliveries: amortised O(1), for ~2 bytes/entry.
    """
    return max(4, min(entries // 4, cap // 4))


def _encode(packed: bytes, cap: int) -> bytes:
    gap = _gap(len(packed) // 8, cap)
    newest = packed[:8] or bytes(8)
    return struct.pack(">I", gap) + newest + bytes(8 * gap) + packed


def _unpack(blob: bytes) -> list[int]:
    return list(struct.unpack(f">{len(blob) // 8}Q", blob))


class RedisTimelines:
    """Per-user home timelines in Redis (see the module docstring for the layout).

    ``batch`` bounds the keys one script call edits (one call blocks Redis while it
    runs, so keep it in the low hundreds); ``pipeline_calls`` bounds the calls sent per
    round trip, and up to ``concurrency`` round trips overlap so that packing the next
    pipeline in Python runs while Redis executes the previous one.
    """

    def __init__(
        self,
        redis: RedisClient,
        cap: int = 800,
        *,
        prefix: str = "tl",
        buckets: int = 256,
        batch: int = 256,
        pipeline_calls: int = 64,
        concurrency: int = 4,
    ) -> None:
        if cap < 1 or buckets < 1 or batch < 1 or pipeline_calls < 1 or concurrency < 1:
            raise ValueError("cap, buckets, batch, pipeline_calls, concurrency must be >= 1")
        self._redis = redis
        self.cap = cap
        self.prefix = prefix
        self.buckets = buckets
        self._batch = batch
        self._pipeline_calls = pipeline_calls
        self._concurrency = concurrency
        self._fill = bytes(8 * _gap(cap, cap))  # zeros the scripts cut gaps from
        self._deliver = redis.register_script(_DELIVER)
        self._remove = redis.register_script(_REMOVE)
        self._remove_many = redis.register_script(_REMOVE_MANY)
        self._merge = redis.register_script(_MERGE)
        self._read = redis.register_script(_READ)

    def key(self, user_id: int) -> str:
        """The timeline key: ``{bucket}`` hash tag so a bucket shares one cluster slot."""
        return f"{self.prefix}:{{{user_id % self.buckets}}}:{user_id}"

    # -- fan-out (many timelines, one photo) ---------------------------------------

    async def deliver(self, follower_ids: Sequence[int], photo_id: int) -> int:
        """Insert ``photo_id`` into every existing follower timeline; idempotent.

        Returns how many of the timelines exist (were delivered to); missing ones are
        skipped on purpose, they are rebuilt from Cassandra when next read.
        """
        args = (_check(photo_id).to_bytes(8, "big"), self.cap, self._fill)
        return sum(await self._fan(self._deliver, follower_ids, args))

    async def remove(self, user_ids: Sequence[int], photo_id: int) -> int:
        """Remove ``photo_id`` from these timelines (photo deleted); returns hits."""
        args = (_check(photo_id).to_bytes(8, "big"), self.cap, self._fill)
        return sum(await self._fan(self._remove, user_ids, args))

    # -- one timeline --------------------------------------------------------------

    async def backfill(self, user_id: int, photo_ids: Sequence[int]) -> bool:
        """Merge ``photo_ids`` (e.g. a new followee's recent photos) into one timeline.

        Returns False when the timeline does not exist (nothing to merge into: the
        rebuild from Cassandra will include the new followee).
        """
        blob = _pack_sorted(photo_ids, self.cap)
        return bool(await self._merge(keys=[self.key(user_id)], args=[blob, self.cap, self._fill]))

    async def remove_many(self, user_id: int, photo_ids: Sequence[int]) -> int:
        """Remove many photos from one timeline (unfollow); returns how many went."""
        if not photo_ids:
            return 0
        blob = b"".join(_check(p).to_bytes(8, "big") for p in set(photo_ids))
        args: list[bytes | int] = [blob, self.cap, self._fill]
        return int(await self._remove_many(keys=[self.key(user_id)], args=args))

    async def read(self, user_id: int, limit: int = 50, before: int | None = None) -> list[int]:
        """Up to ``limit`` photo ids, newest first, all older than ``before`` if given.

        A missing timeline reads as ``[]``; call ``exists`` to tell it from an empty one.
        """
        if limit <= 0:
            return []
        cursor = b"" if before is None else _check(before).to_bytes(8, "big")
        blob = await self._read(keys=[self.key(user_id)], args=[cursor, limit, self.cap])
        return _unpack(blob)

    async def exists(self, user_id: int) -> bool:
        """True when the timeline is built (possibly empty); False: rebuild it."""
        return bool(await self._redis.exists(self.key(user_id)))

    async def replace(self, user_id: int, photo_ids: Sequence[int]) -> None:
        """Atomically set a (re)built timeline: one ``SET``, readers never see it partial."""
        await self._redis.set(
            self.key(user_id), _encode(_pack_sorted(photo_ids, self.cap), self.cap)
        )

    async def replace_many(self, timelines: Mapping[int, Sequence[int]]) -> None:
        """``replace`` for many users in one pipeline (bulk rebuilds, benchmarks)."""
        pipe = self._redis.pipeline(transaction=False)
        for user_id, photo_ids in timelines.items():
            pipe.set(self.key(user_id), _encode(_pack_sorted(photo_ids, self.cap), self.cap))
        await pipe.execute()

    async def drop(self, user_id: int) -> None:
        """Forget the timeline (it will be rebuilt on next read)."""
        await self._redis.unlink(self.key(user_id))

    # -- batching ------------------------------------------------------------------

    def _calls(self, user_ids: Iterable[int]) -> list[list[str]]:
        """Key lists for one script call each: same bucket (same slot), <= ``batch``."""
        groups: dict[int, list[str]] = {}
        buckets, prefix = self.buckets, self.prefix
        for uid in user_ids:
            bucket = uid % buckets
            keys = groups.get(bucket)
            if keys is None:
                keys = groups[bucket] = []
            keys.append(f"{prefix}:{{{bucket}}}:{uid}")
        size = self._batch
        return [keys[i : i + size] for keys in groups.values() for i in range(0, len(keys), size)]

    async def _fan(
        self, script: AsyncScript, user_ids: Iterable[int], args: tuple[Any, ...]
    ) -> list[int]:
        calls = self._calls(user_ids)
        if not calls:
            return []
        step = self._pipeline_calls
        chunks = [calls[i : i + step] for i in range(0, len(calls), step)]
        gate = asyncio.Semaphore(self._concurrency)

        async def run(chunk: list[list[str]]) -> list[int]:
            async with gate:
                return await self._pipelined(script, chunk, args)

        results = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [n for part in results for n in part]

    async def _pipelined(
        self, script: AsyncScript, calls: list[list[str]], args: tuple[Any, ...]
    ) -> list[int]:
        """EVALSHA each call in one round trip (see :func:`sinks.redis_scripts.evalsha_many`:
        NOSCRIPT reloads, and Redis Cluster, where EVALSHA cannot be pipelined)."""
        results = await evalsha_many(self._redis, script, [(keys, args) for keys in calls])
        return [int(r) for r in results]
