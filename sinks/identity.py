"""Who may act: the per-request check that a token's user exists and still accepts it.

A valid signature only proves that *we* minted the token; it says nothing about the
account now. Every authenticated request of both HTTP services therefore looks up the
user's identity -- registered or not, ``tokens_valid_after`` (the last "sign out
everywhere" or password change) and the sessions signed out one by one -- and refuses a
token whose user is unknown (never registered, or gone), that was issued before that
instant, or whose ``sid`` was signed out (:func:`refusal`).

Where it is read: the ``users`` row in Cassandra (the graph processor's) and the
user's ``revoked_sessions`` rows (:mod:`sinks.sessions`, written by ingest), behind a
Redis read-through entry (:mod:`sinks.cache`, so every replica shares it and a warm
check is one Redis GET). The processors invalidate the entry after each account event
they apply (``user.registered``, ``user.profile_updated``, ``user.sessions_revoked``,
``user.deleted``), and the ingest service writes the new entry itself when it accepts a
revocation (:meth:`Identities.revoke`) or a deletion (:meth:`Identities.forget`, after
storing ``deleted_at``), so either takes effect at once, before the processor has even
run; a single sign-out (:meth:`Identities.sign_out`) stores its row and adds it to the
entry. The TTL (``PHOTOSTREAM_IDENTITY_CACHE_SECONDS``) only bounds a lost invalidation.

Unknown users are cached too (as "not registered"), so a client hammering with a dead
account's token costs Redis, not Cassandra. That cannot lock out a new account: its
``user.registered`` invalidates the entry right after the row is written (the cache's
version check also voids a negative fill racing that write), and the dev sign-in hands
out a new account's token only once its row is stored, so no request with that token
can have cached a negative answer first.

Failure modes: Redis down -> read Cassandra directly (uncached); Cassandra down -> the
cached entry still answers; both down (or Cassandra down on a cache miss) ->
:class:`IdentityUnavailable`, which the services turn into 503 + Retry-After.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cassandra.cluster import Session
from redis.exceptions import RedisClusterException, RedisError

from infra.connect.cassandra import execute
from infra.connect.outages import CASSANDRA_FAILURES, overloaded
from infra.connect.redis import RedisClient
from infra.http.auth import TokenClaims, TokenError, VerifiedTokens
from infra.settings import Settings
from sinks import cache, sessions
from sinks.statements import micros, prepared

log = logging.getLogger(__name__)

_READ = "SELECT username, tokens_valid_after, deleted_at FROM users WHERE user_id = ?"
_REVOKE = "UPDATE users USING TIMESTAMP ? SET tokens_valid_after = ? WHERE user_id = ?"

#: Writes the entry and bumps its version (voiding fills in flight), in one step.
_PUT = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

_CASSANDRA_ERRORS: tuple[type[Exception], ...] = (*CASSANDRA_FAILURES, OSError)
_REDIS_ERRORS = (RedisError, RedisClusterException, OSError)
_UNKNOWN = b"-"


class IdentityUnavailable(Exception):
    """Neither the cache nor the database could say who the user is (answer 503)."""


@dataclass(frozen=True)
class Identity:
    """What the per-request check needs to know about one user."""

    registered: bool
    #: Epoch seconds: tokens issued (``iat``) before this are refused; 0 = none revoked.
    tokens_valid_after: int = 0
    #: Session ids (``sid``) signed out one by one and not yet expired.
    revoked_sessions: frozenset[str] = frozenset()


UNKNOWN = Identity(registered=False)


def refusal(identity: Identity, issued_at: int, session_id: str | None = None) -> str | None:
    """Why a token issued at ``issued_at`` may not act for ``identity`` (None: it may).

    ``tokens_valid_after`` is whole seconds, rounded down, like ``iat``: a token issued
    in the same second as the sign-out is still accepted, so a client that signs in
    again right after signing out everywhere is not refused (the window for a stolen
    token is under a second).
    """
    if not identity.registered:
        return "the token's user does not exist or is no longer active"
    if issued_at < identity.tokens_valid_after:
        return "the token was revoked (its user signed out everywhere since it was issued)"
    if session_id is not None and session_id in identity.revoked_sessions:
        return "the token was revoked (its session was signed out)"
    return None


def encode(identity: Identity) -> bytes:
    """The cache value: ``-`` for an unknown user, else ``tokens_valid_after`` in decimal,
    followed by the revoked session ids, space-separated (ids are URL-safe base64)."""
    if not identity.registered:
        return _UNKNOWN
    return " ".join([str(identity.tokens_valid_after), *sorted(identity.revoked_sessions)]
                    ).encode()


def decode(value: bytes) -> Identity:
    if value == _UNKNOWN:
        return UNKNOWN
    valid_after, *revoked = value.decode().split(" ")
    return Identity(registered=True, tokens_valid_after=int(valid_after),
                    revoked_sessions=frozenset(revoked))


def epoch_seconds(moment: datetime | None) -> int:
    """``moment`` in whole epoch seconds, rounded down (0 for None)."""
    return 0 if moment is None else math.floor(micros(moment) / 1_000_000)


def _kind(ttl_seconds: int) -> cache.CacheKind:
    return cache.CacheKind("identity", ttl_seconds)


async def invalidate(redis: RedisClient, user_ids: Iterable[int]) -> None:
    """Drop the cached identities of ``user_ids``; call after the Cassandra write."""
    await cache.invalidate(redis, _kind(0), user_ids)


async def store_revocation(session: Session, user_id: int, valid_after: datetime) -> None:
    """Record that ``user_id``'s tokens issued before ``valid_after`` are refused.

    Written ``USING TIMESTAMP`` of ``valid_after`` itself: the latest sign-out wins
    whatever order redeliveries and replays arrive in.
    """
    statement = await prepared(session, _REVOKE)
    await execute(session, statement, (micros(valid_after), valid_after, user_id))


class Identities:
    """The identity check of one service process (one Redis client, one Cassandra session)."""

    def __init__(self, session: Session, redis: RedisClient, settings: Settings) -> None:
        self.session = session
        self.redis = redis
        self.settings = settings
        self.kind = _kind(settings.auth.identity_cache_seconds)
        self._put = redis.register_script(_PUT)
        self.tokens = VerifiedTokens(settings)

    async def authenticate(self, token: str) -> int:
        """The user id of ``token`` if it may act now.

        TokenError (401) for a bad token, an unknown user or a revoked token;
        IdentityUnavailable (503) when neither store answers.
        """
        return (await self.authenticate_claims(token)).user_id

    async def authenticate_claims(self, token: str) -> TokenClaims:
        """Like :meth:`authenticate`, returning all the token says (its session id too)."""
        claims = self.tokens.verify(token)
        reason = refusal(await self.get(claims.user_id), claims.issued_at, claims.session_id)
        if reason is not None:
            raise TokenError(reason)
        return claims

    async def get(self, user_id: int) -> Identity:
        """The user's identity: from Redis, else Cassandra (filling Redis)."""
        try:
            found = await cache.get_many(self.redis, self.kind, [user_id], self._load)
        except _REDIS_ERRORS as exc:
            if overloaded(exc):  # our own pool is full: not an outage to route around
                raise
            log.warning("identity cache unavailable, reading Cassandra: %s", exc)
            return decode((await self._load([user_id]))[user_id])
        return decode(found[user_id])

    async def revoke(self, user_id: int, valid_after: datetime) -> None:
        """Apply a sign-out to the cached entry now, before the processor stores it.

        Best effort: with Redis down the processor's Cassandra write still revokes (the
        cache is bypassed then anyway). The entry expires after the cache TTL; by then
        the processor has stored the same value in Cassandra.
        """
        try:
            current = await self.get(user_id)
            updated = Identity(current.registered,
                               max(current.tokens_valid_after, epoch_seconds(valid_after)),
                               current.revoked_sessions)
            await self._put(keys=[self.kind.key(user_id), self.kind.version_key(user_id)],
                            args=[cache.VERSION_TTL_SECONDS, encode(updated),
                                  self.kind.ttl_seconds])
        except (*_REDIS_ERRORS, IdentityUnavailable) as exc:
            log.warning("revocation of user %d not cached (the processor will store it): %s",
                        user_id, exc)

    async def sign_out(self, claims: TokenClaims) -> None:
        """End the session of one token now: store its ``sid`` (durable, until the token
        expires), then add it to the cached identity, so every replica refuses it on its
        next check. The entry is updated rather than dropped: it may hold a sign-out
        everywhere that the processor has not stored yet (:meth:`revoke`), which a
        reload from Cassandra would lose for a moment. A token without ``sid`` cannot be
        signed out alone (TokenError).

        Cassandra unreachable -> IdentityUnavailable (503: not signed out, say so). Redis
        unreachable -> logged: the services read Cassandra while Redis is down, and an
        entry that survives the outage lives at most the cache TTL.
        """
        if claims.session_id is None:
            raise TokenError("this token has no session id; sign out everywhere instead")
        try:
            await sessions.revoke(self.session, claims.user_id, claims.session_id,
                                  claims.expires_at)
        except _CASSANDRA_ERRORS as exc:
            raise IdentityUnavailable(f"session store: {type(exc).__name__}: {exc}") from exc
        try:
            current = await self.get(claims.user_id)
            updated = dataclasses.replace(
                current, revoked_sessions=current.revoked_sessions | {claims.session_id})
            await self._put(keys=[self.kind.key(claims.user_id),
                                  self.kind.version_key(claims.user_id)],
                            args=[cache.VERSION_TTL_SECONDS, encode(updated),
                                  self.kind.ttl_seconds])
        except (*_REDIS_ERRORS, IdentityUnavailable) as exc:
            log.warning("sign-out of user %d not cached (stored in Cassandra): %s",
                        claims.user_id, exc)

    async def forget(self, user_id: int) -> None:
        """Cache ``user_id`` as unknown now: a deleted account stops working at once.

        Best effort like :meth:`revoke`: the durable marker (``users.deleted_at``, which
        the caller writes) refuses the account on every cache miss anyway.
        """
        try:
            await self._put(keys=[self.kind.key(user_id), self.kind.version_key(user_id)],
                            args=[cache.VERSION_TTL_SECONDS, encode(UNKNOWN),
                                  self.kind.ttl_seconds])
        except _REDIS_ERRORS as exc:
            log.warning("deletion of user %d not cached (the stored marker refuses it): %s",
                        user_id, exc)

    async def _load(self, user_ids: list[int]) -> Mapping[int, bytes]:
        try:
            statement = await prepared(self.session, _READ)
            found = {user_id: stored_identity(await execute(self.session, statement,
                                                            (user_id,)))
                     for user_id in user_ids}
            for user_id, identity in found.items():
                if identity.registered:
                    found[user_id] = Identity(True, identity.tokens_valid_after,
                                              await sessions.revoked(self.session, user_id))
        except _CASSANDRA_ERRORS as exc:
            raise IdentityUnavailable(f"identity store: {type(exc).__name__}: {exc}") from exc
        return {user_id: encode(identity) for user_id, identity in found.items()}


def stored_identity(rows: list[dict[str, object]]) -> Identity:
    """The identity a ``users`` row read (``_READ``) says: unknown without a profile or
    once ``deleted_at`` is set, else registered with its revocation instant."""
    if not rows or rows[0]["username"] is None or rows[0].get("deleted_at") is not None:
        return UNKNOWN  # never registered, or deleted (marked before it is erased)
    valid_after = rows[0]["tokens_valid_after"]
    return Identity(True, epoch_seconds(valid_after if isinstance(valid_after, datetime)
                                        else None))
