"""The identity check when its stores fail: Redis and Cassandra behind cuttable proxies.

Redis down -> Cassandra answers; Cassandra down -> the cached entry answers; both down
-> 503 + Retry-After on both services, never 500. Only this test's clients go through
the proxies (tests/support/faultline.py), so the shared servers stay up for the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app as create_api
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.http.auth import mint
from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from producers.ingest import create_app as create_ingest
from sinks.identity import Identities, Identity, IdentityUnavailable
from tests.integration.waiting import eventually
from tests.support.accounts import registered_user
from tests.support.faultline import FaultLine, faultline

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@dataclasses.dataclass
class Lines:
    redis: FaultLine
    cassandra: FaultLine
    settings: Settings


@pytest.fixture
def lines(stack: Settings) -> Iterator[Lines]:
    redis_url = urlsplit(stack.redis.url)
    with ExitStack() as stack_of:
        redis = stack_of.enter_context(faultline(redis_url.hostname or "127.0.0.1",
                                                 redis_url.port or 6379))
        db = stack_of.enter_context(faultline(stack.cassandra.contact_points[0],
                                              stack.cassandra.port))
        settings = dataclasses.replace(
            stack,
            redis=dataclasses.replace(stack.redis,
                                      url=f"redis://127.0.0.1:{redis.port}{redis_url.path}"),
            cassandra=dataclasses.replace(stack.cassandra, contact_points=("127.0.0.1",),
                                          port=db.port))
        yield Lines(redis, db, settings)


@pytest.fixture
async def identities(lines: Lines) -> AsyncIterator[Identities]:
    session = await asyncio.to_thread(cassandra.connect, lines.settings)
    redis = redis_connect.client(lines.settings)
    try:
        yield Identities(session, redis, lines.settings)
    finally:
        await redis.aclose()
        await asyncio.to_thread(session.cluster.shutdown)


async def test_each_store_covers_for_the_other_and_both_down_is_unavailable(
        lines: Lines, identities: Identities) -> None:
    cached, uncached = await registered_user(), await registered_user()
    assert await identities.get(cached) == Identity(registered=True)  # now in Redis

    lines.redis.cut()
    assert await identities.get(cached) == Identity(registered=True)
    assert await identities.get(uncached) == Identity(registered=True)

    lines.cassandra.cut()
    with pytest.raises(IdentityUnavailable):
        await identities.get(cached)

    lines.redis.restore()

    async def from_the_cache() -> bool:
        try:
            return await identities.get(cached) == Identity(registered=True)
        except IdentityUnavailable:
            return False  # the first command after the cut may meet a dead connection
    await eventually(from_the_cache, timeout=15)
    with pytest.raises(IdentityUnavailable):
        await identities.get(uncached)


@pytest.mark.parametrize("service", ["ingest", "api"])
async def test_identity_store_down_is_503_with_retry_after(lines: Lines, service: str) -> None:
    app: FastAPI = (create_ingest(lines.settings) if service == "ingest"
                    else create_api(lines.settings))
    user = await registered_user()
    request = (("POST", f"/v1/users/{random.getrandbits(62)}/follow") if service == "ingest"
               else ("GET", "/v1/feed"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     timeout=60) as client:
            lines.redis.cut()
            lines.cassandra.cut()
            response = await client.request(
                *request, headers={"Authorization": f"Bearer {mint(user, lines.settings)}"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    if service == "ingest":
        assert "identity store" in problem["detail"]
    else:  # the read API names the missing backend, as for any other outage
        assert problem["type"].endswith("/backend-unavailable")
        assert problem["backend"] == "cassandra"
