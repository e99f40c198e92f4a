"""Mastodon bearer tokens cached in Redis (sinks/oauth_cache.py): still revoked at once.

Two ingest replicas share the stack: the uvicorn one of
:mod:`tests.integration.test_mastodon_api` (replica A) and a second app in this process
(replica B, over httpx's ASGI transport). Each cached lookup is a Redis GET shared by
both, so what these pin is that the cache never outlives what it stands for:

* a token used on A (its grant now cached), revoked on B, is refused by A on its very
  next request; a retried revocation is still 200;
* the token of an account deleted on B is refused by A at once (the identity check
  still runs per request, next to the cached grant);
* the cache is really used (a grant whose row is gone but whose entry is not still
  answers: that is the state a revocation must never leave), and a revocation whose
  entry could not be dropped is reported, not swallowed.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from cassandra.cluster import Session
from fastapi import FastAPI
from redis import asyncio as aioredis

from infra.connect.redis import RedisClient
from operate.stack.base import free_port
from producers.ingest import create_app
from sinks import oauth, oauth_cache
from sinks.oauth_cache import TokenCache
from tests.integration.readside import ReadWorld
from tests.integration.test_mastodon_api import (  # noqa: F401 (fixtures)
    Server,
    bearer,
    password_token,
    server,
    sign_up,
    world,
)

pytestmark = [pytest.mark.slow, pytest.mark.stack]


@pytest.fixture(scope="module")
async def replica(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """A second ingest app on the same stack (another replica)."""
    app: FastAPI = create_app(world.settings, worker_id=(world.settings.ingest.id_worker + 1) % 16)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://replica") as http:
        yield http


async def test_a_token_revoked_on_one_replica_is_refused_by_another_at_once(
        server: Server, replica: httpx.AsyncClient, redis_client: RedisClient) -> None:  # noqa: F811
    alice = await sign_up(server)
    client_id, secret, token = await password_token(server, alice, "read")
    me = await server.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.status_code == 200
    cached = oauth_cache.key(oauth.digest(token))
    assert await redis_client.get(cached) is not None  # A cached the grant
    assert await redis_client.get(f"c:oauth:{{{token}}}") is None  # keyed by hash only
    revoked = await replica.post("/oauth/revoke", data={
        "client_id": client_id, "client_secret": secret, "token": token})
    assert revoked.status_code == 200
    assert await redis_client.get(cached) is None
    after = await server.http.get("/api/v1/accounts/verify_credentials",
                                  headers=bearer(token))
    assert after.status_code == 401 and after.json() == {"error": "The access token is invalid"}
    again = await server.http.post("/oauth/revoke", data={
        "client_id": client_id, "client_secret": secret, "token": token})
    assert again.status_code == 200


async def test_a_deleted_accounts_cached_token_is_refused_at_once(
        server: Server, replica: httpx.AsyncClient) -> None:  # noqa: F811
    bob = await sign_up(server)
    _, _, token = await password_token(server, bob, "read")
    for http in (server.http, replica):  # cached, and the identity cached, on both
        answer = await http.get("/api/v1/timelines/home", headers=bearer(token))
        assert answer.status_code == 200
    deleted = await replica.delete("/v1/me", headers=bob.auth)
    assert deleted.status_code == 202, deleted.text
    for http in (server.http, replica):
        answer = await http.get("/api/v1/timelines/home", headers=bearer(token))
        assert answer.status_code == 401, answer.text


async def test_the_cache_answers_until_its_entry_is_dropped(
        stack: object, cassandra_session: Session, redis_client: RedisClient) -> None:
    tokens = TokenCache(cassandra_session, redis_client)
    token = secrets.token_urlsafe(32)
    grant = oauth.Token("cache-test", 42, "read write:media")
    await oauth.store_token(cassandra_session, token, grant)
    assert await tokens.get(token) == grant  # read from Cassandra, then cached
    await oauth.revoke_token(cassandra_session, token)  # the row only: a half revocation
    assert await tokens.get(token) == grant, "the grant was not served from the cache"
    await tokens.forget(token)
    assert await tokens.get(token) is None
    assert await tokens.get(secrets.token_urlsafe(32)) is None
    stray = secrets.token_urlsafe(32)
    assert await tokens.get(stray) is None
    assert await redis_client.get(oauth_cache.key(oauth.digest(stray))) is None  # no negatives
    await tokens.forget(stray)  # revoking a made-up token leaves nothing behind
    assert await redis_client.exists(oauth_cache.key(oauth.digest(stray)),
                                     oauth_cache.version_key(oauth.digest(stray))) == 0
    # A fill that read Cassandra before a revocation cannot land after it.
    late = secrets.token_urlsafe(32)
    await oauth.store_token(cassandra_session, late, grant)
    hashed = oauth.digest(late)
    version = await redis_client.get(oauth_cache.version_key(hashed))
    await tokens.revoke(late)
    filled = await tokens._fill(keys=[oauth_cache.key(hashed), oauth_cache.version_key(hashed)],
                                args=[version or b"", oauth_cache.encode(grant), 60])
    assert filled == 0 and await tokens.get(late) is None


async def test_a_revocation_that_cannot_reach_redis_is_reported(
        stack: object, cassandra_session: Session) -> None:
    dead = unreachable_redis()
    tokens = TokenCache(cassandra_session, dead)
    token = secrets.token_urlsafe(32)
    await oauth.store_token(cassandra_session, token, oauth.Token("cache-test", 7, "read"))
    assert await tokens.get(token) is not None  # reads fall back to Cassandra
    with pytest.raises(oauth_cache.RevocationPending):
        await tokens.revoke(token)
    assert await oauth.get_token(cassandra_session, token) is None  # the row is gone
    await dead.aclose()


def unreachable_redis() -> RedisClient:
    """A Redis client pointed at a loopback port nothing listens on (fails fast)."""
    return aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5,
                          socket_timeout=0.5)
