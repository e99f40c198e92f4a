"""Overload is a 503 with Retry-After, never a 500: a real read API process (one worker)
driven far past its capacity with concurrent feed reads.

Two shapes of overload: more requests than the admission bound lets in (refused at the
door), and fewer Redis connections than the admitted requests need (each waits a
bounded time for one, then is a 503 ``overloaded``). Either way every answer is a 200
with the right page or a 503 problem with ``Retry-After``, and the worker answers
normally again as soon as the burst is over.
"""

from __future__ import annotations

import asyncio
import collections
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from operate.processes import stop_processes
from operate.stack.base import free_port
from tests.integration.readside import Person, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]

#: Requests fired at once, per burst: many times what one worker lets in.
BURST = 300
BURSTS = 3


@asynccontextmanager
async def _api(env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", "api", "--port", str(port), "--workers", "1",
        env={**os.environ, **env, "PHOTOSTREAM_LOG_LEVEL": "ERROR"}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                assert proc.returncode is None, "the read API exited during start-up"
                try:
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield base
    finally:
        await stop_processes([proc], group=True, grace=30)


@pytest.mark.parametrize("env", [
    # few in flight (the default is 32: a Python client cannot keep that many waiting on
    # a worker as fast as this one), the default 64 Redis connections waited for 0.2 s
    {"PHOTOSTREAM_API_MAX_IN_FLIGHT": "4"},
    {"PHOTOSTREAM_API_MAX_IN_FLIGHT": "200", "PHOTOSTREAM_API_REDIS_POOL_SIZE": "2",
     "PHOTOSTREAM_API_REDIS_POOL_WAIT_SECONDS": "0.02"},  # the pool is what runs out
], ids=["admission", "redis-pool"])
async def test_overload_is_503_with_retry_after_never_500(stack: Settings,
                                                          env: dict[str, str]) -> None:
    async with read_world(stack) as world:
        author, reader = await world.user(prefix="ovla"), await world.user(prefix="ovlr")
        await world.follow(reader, author)
        photos = [await world.photo(author, f"overload {i}") for i in range(5)]
        expected = sorted(photos, reverse=True)
        await world.until(lambda: _feed_is(world.http, reader, expected))

        async with _api(env) as base:
            limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
                assert await _feed_is(http, reader, expected)  # warm, and correct
                codes: collections.Counter[int] = collections.Counter()
                for _ in range(BURSTS):
                    # The ranked page: the general path, which the pool serves (the warm
                    # chronological page takes the fast lane and is too quick to overload
                    # from one Python client).
                    answers = await asyncio.gather(*(http.get("/v1/feed?mode=top",
                                                              headers=reader.auth)
                                                     for _ in range(BURST)))
                    for r in answers:
                        codes[r.status_code] += 1
                        if r.status_code == 200:
                            ids = [int(item["photo_id"]) for item in r.json()["items"]]
                            assert sorted(ids) == sorted(expected)
                        else:
                            assert r.status_code == 503, r.text
                            assert r.headers["content-type"].startswith(PROBLEM_JSON)
                            assert r.json()["type"].endswith("/overloaded")
                            assert int(r.headers["Retry-After"]) > 0
                print(f"answers under overload ({env}): {dict(codes)}")
                assert codes[503] > 0, "the burst never overloaded the worker"
                assert codes[200] > 0, "the worker served nothing during the burst"
                assert await _feed_is(http, reader, expected)  # over at once


async def _feed_is(http: httpx.AsyncClient, who: Person, expected: list[int]) -> bool:
    r = await http.get("/v1/feed", headers=who.auth)
    return r.status_code == 200 and [int(i["photo_id"]) for i in r.json()["items"]] == expected
