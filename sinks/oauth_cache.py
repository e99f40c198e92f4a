"""Mastodon access tokens' grants cached in Redis, so a request's bearer check is one GET.

Why: every Mastodon request looks its token up (tokens are opaque and revocable, not
signed), and a Cassandra read per request was the largest part of the Mastodon home
page's extra CPU over ``/v1/feed``: with the authors read once, this took the page from
x1.45-1.53 to x1.05-1.09 the API CPU of ``/v1/feed`` (``python -m bench.mastodon``,
docs/mastodon-api.md). A grant never changes while its token lives (client, user and
scopes are fixed at issue), so the only event to follow is revocation, which deletes the
entry: shared by every replica, so the next request anywhere misses, reads Cassandra and
finds no row.

The race between a request filling the entry and a revocation is closed as in
:mod:`sinks.cache`: the filler reads the entry's version before Cassandra and sets the
entry only if the version is unchanged; the revoker deletes the row, then bumps the
version and deletes the entry in one script. A stale grant can therefore not be left
behind. Only grants that exist are cached (a flood of made-up tokens must not fill
Redis); the TTL only bounds an invalidation lost with Redis itself.

Keys are the token's SHA-256 (never the token): ``c:oauth:{<hex>}`` and its version.
Redis unreachable: reads go to Cassandra (noted as degraded); a revocation that cannot
reach Redis raises :class:`RevocationPending`, since the entry may outlive the row.
"""

from __future__ import annotations

from typing import cast

import orjson
from cassandra.cluster import Session
from redis.commands.core import AsyncScript

from infra import degraded
from infra.connect.outages import REDIS, REDIS_ERRORS
from infra.connect.redis import RedisClient
from sinks import oauth
from sinks.cache import VERSION_TTL_SECONDS

#: How long a cached grant lives at most (seconds): bounds an invalidation lost with Redis.
TTL_SECONDS = 900

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
# The same, only if an entry is cached: for a token whose row is already gone (a retried
# revocation), so that revoking made-up tokens leaves no version keys behind.
_DROP_CACHED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""


class RevocationPending(Exception):
    """The row is deleted but the cached grant could not be: answer 503 and let the
    client retry (a retry deletes the entry once Redis answers)."""


def key(token_hash: str) -> str:
    return f"c:oauth:{{{token_hash}}}"


def version_key(token_hash: str) -> str:
    return f"c:oauth:{{{token_hash}}}:v"


def encode(grant: oauth.Token) -> bytes:
    return orjson.dumps([grant.client_id, grant.user_id, grant.scopes])


def decode(value: bytes) -> oauth.Token:
    client_id, user_id, scopes = orjson.loads(value)
    return oauth.Token(client_id, None if user_id is None else int(user_id), scopes)


class TokenCache:
    """The bearer lookup of one process (its Cassandra session and Redis client)."""

    def __init__(self, session: Session, redis: RedisClient) -> None:
        self.session = session
        self.redis = redis
        self._fill = redis.register_script(_FILL)
        self._invalidate = redis.register_script(_INVALIDATE)
        self._drop_cached = redis.register_script(_DROP_CACHED)

    async def get(self, token: str) -> oauth.Token | None:
        """The grant of ``token`` (None: unknown or revoked): Redis, else Cassandra."""
        hashed = oauth.digest(token)
        try:
            cached = cast("bytes | None", await self.redis.get(key(hashed)))  # decode off
            if cached is not None:
                return decode(cached)
            version = await self.redis.get(version_key(hashed))
        except REDIS_ERRORS as exc:
            if not degraded.survived(exc, REDIS):
                raise
            return await oauth.get_token_by_hash(self.session, hashed)
        grant = await oauth.get_token_by_hash(self.session, hashed)
        if grant is not None:
            try:
                await self._fill(keys=[key(hashed), version_key(hashed)],
                                 args=[version or b"", encode(grant), TTL_SECONDS])
            except REDIS_ERRORS as exc:  # lost between the read and the fill: not cached
                if not degraded.survived(exc, REDIS):
                    raise
        return grant

    async def revoke(self, token: str) -> None:
        """Delete the token's row, then its cached grant, voiding fills in flight (a
        request that read the row just before the delete cannot cache it after).

        Safe to repeat: a client retrying after :class:`RevocationPending` finishes it
        (through :meth:`forget`, its row being gone by then).
        """
        await oauth.revoke_token(self.session, token)
        await self._run(self._invalidate, token)

    async def forget(self, token: str) -> None:
        """Drop the cached grant of a token whose row is gone, if one is cached."""
        await self._run(self._drop_cached, token)

    async def _run(self, script: AsyncScript, token: str) -> None:
        hashed = oauth.digest(token)
        try:
            await script(keys=[key(hashed), version_key(hashed)], args=[VERSION_TTL_SECONDS])
        except REDIS_ERRORS as exc:
            raise RevocationPending(f"token cache: {type(exc).__name__}: {exc}") from exc
