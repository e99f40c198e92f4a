"""The hot copy of each inbox in Redis, and each user's live stream (``/v1/stream``'s feed).

Per user, in one cluster slot (hash tag ``{user_id}``):

* ``notif:{u}:z`` - a sorted set of entry ids, all scored 0 and zero-padded to 19 digits,
  so lexicographic order is numeric order (scores are doubles: 64-bit ids would lose
  their low bits); ``ZLEXCOUNT`` above the read mark is the unread count, exact for
  the ``notify.hot_entries`` newest entries (the badge says "200+" beyond).
* ``notif:{u}:e`` - a hash id -> the entry's JSON (:meth:`sinks.notifications.Entry.to_json`).
* ``notif:{u}:f`` - set once the hot copy holds the newest entries of Cassandra (filled
  by the first read after it was lost, :meth:`HotInbox.fill`); until then readers
  fill it, and the processor's writes (always applied) are merged in, never clobbered.
* ``notif:{u}:r`` - the read mark (an entry id), moving forward only.
* ``notif:{u}:s`` - a Redis Stream (``MAXLEN ~ notify.stream_maxlen``) of live events:
  ``k=n`` an entry was created or changed (``e``: its JSON), ``k=x`` removed (``i``),
  ``k=f`` a new post in the home feed (``p``), ``k=o`` the user's own new post in it
  (``p``; not a "new post" for ``/v1``, an ``update`` for the Mastodon stream), ``k=d`` a
  post deleted from it (``p``; the Mastodon stream's ``delete``), ``k=r`` read up to
  ``i``. Its ids are the
  SSE event ids, so ``Last-Event-ID`` resumes exactly where a client left off.

Every write also ``PUBLISH``es the user id on :data:`WAKE`: each API process has one
subscriber that wakes the streams it holds for that user (no polling, no connection per
stream). All keys expire ``IDLE_SECONDS`` after their last write; Cassandra is the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.connect.redis import RedisClient
from sinks.notifications import Entry
from sinks.redis_scripts import evalsha_many

WAKE = "notif:wake"
IDLE_SECONDS = 7 * 24 * 3600
_WIDTH = 19

_TRIM = """
local n = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[1])
if n > cap then
  local old = redis.call('ZRANGE', KEYS[1], 0, n - cap - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
"""
_TOUCH = """
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
"""

# KEYS: z e s f   ARGV: cap ttl member json maxlen user
_PUT = """
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[1], 0, ARGV[3])
""" + _TRIM + """
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'k', 'n', 'e', ARGV[4])
""" + _TOUCH + """
redis.call('PUBLISH', '""" + WAKE + """', ARGV[6])
return id
"""

# KEYS: z e s f   ARGV: cap ttl member maxlen user
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'k', 'x', 'i', ARGV[3])
""" + _TOUCH + """
redis.call('PUBLISH', '""" + WAKE + """', ARGV[5])
return id
"""

# KEYS: s   ARGV: photo maxlen user ttl kind
_FEED = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'k', ARGV[5], 'p', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', '""" + WAKE + """', ARGV[3])
return id
"""

# KEYS: r s   ARGV: member maxlen user ttl
_READ = """
local current = redis.call('GET', KEYS[1])
if current and current >= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'k', 'r', 'i', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', '""" + WAKE + """', ARGV[3])
return 1
"""

# KEYS: z e f r   ARGV: cap ttl marker member1 json1 member2 json2 ...
_FILL = """
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], 0, ARGV[i])
  end
end
""" + _TRIM + """
local current = redis.call('GET', KEYS[4])
if (not current) or current < ARGV[3] then redis.call('SET', KEYS[4], ARGV[3]) end
redis.call('SET', KEYS[3], '1')
""" + _TOUCH + """
return 1
"""

# KEYS: z e f r   ARGV: max (exclusive, '+' or '(member') limit
# -> {filled, marker, member1, json1, ...}
_PAGE = """
local filled = redis.call('EXISTS', KEYS[3])
local marker = redis.call('GET', KEYS[4]) or ''
local out = {filled, marker}
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '-', 'LIMIT', 0, ARGV[2])
if #ids > 0 then
  local bodies = redis.call('HMGET', KEYS[2], unpack(ids))
  for i = 1, #ids do
    if bodies[i] then out[#out + 1] = ids[i]; out[#out + 1] = bodies[i] end
  end
end
return out
"""

# KEYS: z f r -> -1 when not filled, else the unread count
_UNREAD = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local marker = redis.call('GET', KEYS[3])
if not marker then return redis.call('ZCARD', KEYS[1]) end
return redis.call('ZLEXCOUNT', KEYS[1], '(' .. marker, '+')
"""

# What a live stream reads when woken: KEYS s z f r  ARGV min count
# -> {rows, unread (-1: not filled), marker}
_LIVE = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local unread = -1
local marker = redis.call('GET', KEYS[4])
if redis.call('EXISTS', KEYS[3]) == 1 then
  if marker then unread = redis.call('ZLEXCOUNT', KEYS[2], '(' .. marker, '+')
  else unread = redis.call('ZCARD', KEYS[2]) end
end
return {rows, unread, marker or ''}
"""

#: One stream entry as the live script returns it: (id, {field: value}).
StreamRow = tuple[str, dict[bytes, bytes]]


def member(notification_id: int) -> str:
    """An entry id as its sorted-set member (zero-padded: lexicographic = numeric)."""
    return str(notification_id).zfill(_WIDTH)


def keys(user_id: int) -> dict[str, str]:
    base = f"notif:{{{user_id}}}:"
    return {name: base + name for name in ("z", "e", "f", "r", "s")}


def stream_key(user_id: int) -> str:
    return keys(user_id)["s"]


class HotInbox:
    """The Redis side of notifications for one client (scripts registered once)."""

    def __init__(self, redis: RedisClient, *, cap: int, maxlen: int) -> None:
        self.redis = redis
        self.cap = cap
        self.maxlen = maxlen
        self._put = redis.register_script(_PUT)
        self._remove = redis.register_script(_REMOVE)
        self._feed = redis.register_script(_FEED)
        self._read = redis.register_script(_READ)
        self._fill = redis.register_script(_FILL)
        self._page = redis.register_script(_PAGE)
        self._unread = redis.register_script(_UNREAD)
        self._live = redis.register_script(_LIVE)

    async def put(self, user_id: int, entry: Entry) -> None:
        """Store (or replace) an entry in the hot copy and announce it live."""
        k = keys(user_id)
        await self._put(keys=[k["z"], k["e"], k["s"], k["f"]],
                        args=[self.cap, IDLE_SECONDS, member(entry.notification_id),
                              entry.to_json(), self.maxlen, user_id])

    async def remove(self, user_id: int, notification_id: int) -> None:
        k = keys(user_id)
        await self._remove(keys=[k["z"], k["e"], k["s"], k["f"]],
                           args=[self.cap, IDLE_SECONDS, member(notification_id),
                                 self.maxlen, user_id])

    async def feed_hints(self, user_ids: Sequence[int], photo_id: int) -> None:
        """Tell each of ``user_ids``' open streams a post reached their home feed."""
        await self._hints(user_ids, photo_id, "f")

    async def own_post_hint(self, user_id: int, photo_id: int) -> None:
        """Tell ``user_id``'s open streams their own post reached their home feed."""
        await self._hints([user_id], photo_id, "o")

    async def delete_hints(self, user_ids: Sequence[int], photo_id: int) -> None:
        """Tell each of ``user_ids``' open streams a post left their home feed (deleted)."""
        await self._hints(user_ids, photo_id, "d")

    async def _hints(self, user_ids: Sequence[int], photo_id: int, kind: str) -> None:
        calls = [([stream_key(uid)], [photo_id, self.maxlen, uid, IDLE_SECONDS, kind])
                 for uid in user_ids]
        for start in range(0, len(calls), 500):
            await evalsha_many(self.redis, self._feed, calls[start:start + 500])

    async def mark_read(self, user_id: int, up_to: int) -> None:
        k = keys(user_id)
        await self._read(keys=[k["r"], k["s"]],
                         args=[member(up_to), self.maxlen, user_id, IDLE_SECONDS])

    async def fill(self, user_id: int, entries: Sequence[Entry], marker: int) -> None:
        """Merge the newest durable entries in (never over fresher hot ones); mark filled."""
        k = keys(user_id)
        flat: list[Any] = []
        for entry in entries:
            flat += [member(entry.notification_id), entry.to_json()]
        await self._fill(keys=[k["z"], k["e"], k["f"], k["r"]],
                         args=[self.cap, IDLE_SECONDS, member(marker), *flat])

    async def page(self, user_id: int, limit: int,
                   before: int | None = None) -> tuple[bool, int, list[Entry]]:
        """(filled, read mark, up to ``limit`` hot entries older than ``before``)."""
        k = keys(user_id)
        upper = "+" if before is None else "(" + member(before)
        raw = await self._page(keys=[k["z"], k["e"], k["f"], k["r"]], args=[upper, limit])
        filled, marker = bool(int(raw[0])), int(raw[1] or 0)
        entries = [Entry.from_json(raw[i + 1]) for i in range(2, len(raw), 2)]
        return filled, marker, entries

    async def unread(self, user_id: int) -> int | None:
        """Entries above the read mark among the hot ones; None until filled."""
        k = keys(user_id)
        count = int(await self._unread(keys=[k["z"], k["f"], k["r"]]))
        return None if count < 0 else count

    async def live_reads(self, reads: Sequence[tuple[int, str]], count: int
                         ) -> list[tuple[list[StreamRow], int | None, int]]:
        """For each (user, stream position): the stream entries after it (at most
        ``count``), the unread count (None until filled) and the read mark; all in one
        pipelined round trip, whatever the number of streams."""
        calls = []
        for user_id, position in reads:
            k = keys(user_id)
            calls.append(([k["s"], k["z"], k["f"], k["r"]], ["(" + position, count]))
        out = []
        for start in range(0, len(calls), 500):
            for raw_rows, unread, marker in await evalsha_many(self.redis, self._live,
                                                               calls[start:start + 500]):
                rows = [(_text(row_id), dict(zip(flat[::2], flat[1::2], strict=True)))
                        for row_id, flat in raw_rows]
                out.append((rows, None if int(unread) < 0 else int(unread),
                            int(marker or 0)))
        return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
