"""The versioned read-through cache on real Redis: a fill racing an invalidation can
never leave the stale value behind, whichever order they interleave in."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from urllib.parse import urlsplit

import pytest

from infra import degraded
from infra.connect import redis as redis_connect
from infra.connect.redis import RedisClient
from infra.settings import Settings
from sinks import cache
from tests.support.faultline import faultline

pytestmark = pytest.mark.stack

KIND = cache.CacheKind("testkind", 60)


async def test_hit_after_fill_and_miss_after_invalidate(redis_client: RedisClient) -> None:
    entity = random.getrandbits(62)
    loads: list[list[int]] = []

    async def load(ids: list[int]) -> Mapping[int, bytes]:
        loads.append(ids)
        return {i: b"v1" for i in ids}
    assert await cache.get_many(redis_client, KIND, [entity], load) == {entity: b"v1"}
    assert await cache.get_many(redis_client, KIND, [entity], load) == {entity: b"v1"}
    assert loads == [[entity]]  # the second read was a hit
    await cache.invalidate(redis_client, KIND, [entity])
    assert await redis_client.get(KIND.key(entity)) is None


async def test_invalidation_during_a_fill_voids_the_fill(redis_client: RedisClient) -> None:
    entity = random.getrandbits(62)

    async def stale_load(ids: list[int]) -> Mapping[int, bytes]:
        # The source changes (and is invalidated) after this reader read it.
        await cache.invalidate(redis_client, KIND, ids)
        return {i: b"stale" for i in ids}
    assert await cache.get_many(redis_client, KIND, [entity], stale_load) == {entity: b"stale"}
    assert await redis_client.get(KIND.key(entity)) is None, "a stale fill was cached"


async def test_invalidation_after_a_fill_removes_it(redis_client: RedisClient) -> None:
    entity = random.getrandbits(62)

    async def load(ids: list[int]) -> Mapping[int, bytes]:
        return {i: b"old" for i in ids}
    await cache.get_many(redis_client, KIND, [entity], load)
    await cache.invalidate(redis_client, KIND, [entity])

    async def fresh(ids: list[int]) -> Mapping[int, bytes]:
        return {i: b"new" for i in ids}
    assert await cache.get_many(redis_client, KIND, [entity], fresh) == {entity: b"new"}


async def test_fills_carry_a_ttl_and_absent_rows_are_not_cached(
        redis_client: RedisClient) -> None:
    present, absent = random.getrandbits(62), random.getrandbits(62)

    async def load(ids: list[int]) -> Mapping[int, bytes]:
        return {present: b"x"} if present in ids else {}
    found = await cache.get_many(redis_client, KIND, [present, absent], load)
    assert found == {present: b"x"}
    assert 0 < await redis_client.ttl(KIND.key(present)) <= KIND.ttl_seconds
    assert await redis_client.exists(KIND.key(absent)) == 0


async def test_unreachable_redis_reads_the_source_and_caches_nothing(
        stack: Settings, redis_client: RedisClient) -> None:
    """Redis cut off: every read goes to the loader (the source of truth), the answer
    is noted as degraded, and no fill lands once Redis is back."""
    entity = random.getrandbits(62)
    url = urlsplit(stack.redis.url)
    with faultline(url.hostname or "127.0.0.1", url.port or 6379) as line:
        cut_off = redis_connect.client(dataclasses.replace(stack, redis=dataclasses.replace(
            stack.redis, url=url._replace(netloc=f"127.0.0.1:{line.port}").geturl())),
            timeout=0.5)
        line.cut()

        async def load(ids: list[int]) -> Mapping[int, bytes]:
            return {i: b"source" for i in ids}
        try:
            with degraded.scope() as missing:
                assert await cache.get_many(cut_off, KIND, [entity], load) == {entity: b"source"}
                parts = await cache.get_multi(cut_off, [(KIND, [entity], load), (KIND, [], load)])
            assert parts == [{entity: b"source"}, {}]
            assert missing == {"redis"}
        finally:
            await cut_off.aclose()
    assert await redis_client.get(KIND.key(entity)) is None
