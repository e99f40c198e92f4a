"""Who may act (sinks/identity.py) on both services, against the real stack.

A validly signed token is not enough: its user must exist and must not have signed out
everywhere since the token was issued, and its lifetime must be bounded. Ingest runs
in-process, the processors and the read API as in :mod:`tests.integration.readside`.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from infra.http.auth import ALGORITHM, mint
from infra.settings import Settings
from schemas.engagement import LikeAdded
from schemas.topics import LIKES, SESSIONS
from schemas.users import UserRegistered, UserSessionsRevoked
from sinks import identity
from tests.integration.readside import ReadWorld, read_world
from tests.integration.test_ingest_writes import _client, mine, problem, published
from tests.integration.waiting import eventually
from tests.support.images import jpeg_bytes

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(world.settings):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_never_registered_users_token_is_401_everywhere_and_writes_nothing(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    pid = await world.photo(alice, "hello")
    ghost_id = random.getrandbits(62)
    ghost = bearer(mint(ghost_id, world.settings))

    refused, events = await published(world.settings, LIKES, lambda: ingest.post(
        f"/v1/photos/{pid}/likes", headers=ghost))
    assert "does not exist" in problem(refused, 401)["detail"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert mine(events, LikeAdded, user_id=ghost_id) == []
    writes = [
        ingest.post(f"/v1/photos/{pid}/comments", headers=ghost, json={"text": "boo"}),
        ingest.post("/v1/media", headers=ghost,
                    files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")}),
        ingest.post("/v1/media/uploads", headers=ghost),
        ingest.patch("/v1/me", headers=ghost, json={"bio": "boo"}),
        ingest.post(f"/v1/users/{alice.user_id}/follow", headers=ghost),
        ingest.post("/v1/me/sessions/revoke", headers=ghost),
    ]
    for write in writes:
        problem(await write, 401)
    for path in ("/v1/feed", f"/v1/photos/{pid}", "/v1/me"):
        problem(await world.http.get(path, headers=ghost), 401)

    accepted, events = await published(world.settings, LIKES, lambda: ingest.post(
        f"/v1/photos/{pid}/likes", headers=bob.auth))
    assert accepted.status_code == 202, accepted.text
    assert mine(events, LikeAdded, user_id=bob.user_id) != []


async def test_a_refused_user_is_accepted_as_soon_as_the_registration_is_stored(
        world: ReadWorld) -> None:
    """The "unknown" answer is cached, and the registration invalidates it."""
    user_id = random.getrandbits(62)
    token = bearer(mint(user_id, world.settings))
    problem(await world.http.get("/v1/me", headers=token), 401)
    name = f"late{user_id:x}"[:30]
    await world.publish(UserRegistered(user_id=user_id, username=name, display_name=name,
                                       bio="", private=False))

    async def accepted() -> bool:
        return (await world.http.get("/v1/me", headers=token)).status_code == 200
    await eventually(accepted, timeout=30)


async def test_dev_sign_in_hands_out_a_token_that_can_write_at_once(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = f"dev{random.getrandbits(40):x}"
    signed_in = await ingest.post("/v1/dev/session", json={"username": name})
    assert signed_in.status_code == 200, signed_in.text
    token = bearer(signed_in.json()["token"])
    assert (await ingest.patch("/v1/me", headers=token, json={"bio": "hi"})).status_code == 202
    assert (await world.http.get("/v1/me", headers=token)).status_code == 200


async def test_a_token_living_longer_than_the_maximum_is_401_on_both_services(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user()
    pid = await world.photo(alice)
    now, limit = int(time.time()), world.settings.auth.max_token_lifetime_seconds
    secret = world.settings.auth.jwt_secret
    too_long = bearer(jwt.encode({"sub": str(alice.user_id), "iat": now,
                                  "exp": now + limit + 1}, secret, algorithm=ALGORITHM))
    no_iat = bearer(jwt.encode({"sub": str(alice.user_id), "exp": now + 60}, secret,
                               algorithm=ALGORITHM))
    body = problem(await ingest.post(f"/v1/photos/{pid}/likes", headers=too_long), 401)
    assert body["detail"] == "token lifetime exceeds the maximum"
    body = problem(await world.http.get("/v1/feed", headers=too_long), 401)
    assert body["detail"] == "token lifetime exceeds the maximum"
    assert "'iat'" in problem(await ingest.post(f"/v1/photos/{pid}/likes", headers=no_iat),
                              401)["detail"]
    problem(await world.http.get("/v1/feed", headers=no_iat), 401)


async def test_sign_out_everywhere_refuses_older_tokens_at_once_and_for_good(
        world: ReadWorld, ingest: httpx.AsyncClient, cassandra_session: Session,
        redis_client: RedisClient) -> None:
    alice = await world.user()
    pid = await world.photo(alice)
    # Issued two seconds ago: tokens of the sign-out's own second are still accepted.
    old = bearer(mint(alice.user_id, world.settings, now=time.time() - 2))
    assert (await world.http.get("/v1/feed", headers=old)).status_code == 200

    revoked, events = await published(world.settings, SESSIONS, lambda: ingest.post(
        "/v1/me/sessions/revoke", headers=old))
    assert revoked.status_code == 202, revoked.text
    [event] = mine(events, UserSessionsRevoked, user_id=alice.user_id)
    assert isinstance(event, UserSessionsRevoked)

    # At once, before the processor has stored anything: ingest updated the cache.
    assert "revoked" in problem(await ingest.post(f"/v1/photos/{pid}/likes", headers=old),
                                401)["detail"]
    problem(await world.http.get("/v1/feed", headers=old), 401)
    fresh = bearer(mint(alice.user_id, world.settings))
    assert (await ingest.post(f"/v1/photos/{pid}/likes", headers=fresh)).status_code == 202
    assert (await world.http.get("/v1/feed", headers=fresh)).status_code == 200

    # For good: the processor stored it, so the refusal survives losing the cache entry.
    async def stored() -> bool:
        row = cassandra_session.execute(
            "SELECT tokens_valid_after FROM users WHERE user_id = %s", (alice.user_id,)).one()
        return row is not None and row["tokens_valid_after"] is not None
    await eventually(stored, timeout=30)
    await identity.invalidate(redis_client, [alice.user_id])
    problem(await world.http.get("/v1/feed", headers=old), 401)
    problem(await ingest.post(f"/v1/photos/{pid}/likes", headers=old), 401)
    assert (await world.http.get("/v1/feed", headers=fresh)).status_code == 200
    assert identity.epoch_seconds(event.tokens_valid_after) <= int(time.time())

