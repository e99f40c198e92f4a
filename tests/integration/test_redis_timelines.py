"""RedisTimelines against the real Redis of the local stack (never a fake).

Each test uses its own key prefix and deletes its keys, so the shared server is safe.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from infra.connect.redis import RedisClient
from sinks.redis_timelines import RedisTimelines

pytestmark = pytest.mark.stack


@pytest.fixture
async def timelines(redis_client: RedisClient) -> AsyncIterator[RedisTimelines]:
    prefix = f"test-tl-{uuid.uuid4().hex[:8]}"
    yield RedisTimelines(redis_client, cap=10, prefix=prefix, buckets=16, batch=50)
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 1000):
        await redis_client.unlink(*keys[i : i + 1000])


BIG = 1 << 63  # ids above 2**53 must stay exact


async def test_missing_vs_empty(timelines: RedisTimelines) -> None:
    assert not await timelines.exists(1)
    assert await timelines.read(1) == []
    assert await timelines.deliver([1], 5) == 0  # missing: left for the rebuild
    assert not await timelines.exists(1)
    await timelines.replace(1, [])
    assert await timelines.exists(1)
    assert await timelines.read(1) == []
    await timelines.drop(1)
    assert not await timelines.exists(1)


async def test_deliver_orders_newest_first_and_caps(timelines: RedisTimelines) -> None:
    await timelines.replace(7, [])
    ids = [BIG + 3, 5, 1, BIG + 9, 40, 2, 33, 8, 21, 13, 34, 55, 3, 89, 144]
    for pid in ids:
        assert await timelines.deliver([7], pid) == 1
    assert await timelines.read(7, limit=100) == sorted(ids, reverse=True)[:10]
    assert await timelines.read(7, limit=3) == sorted(ids, reverse=True)[:3]
    # older than everything in a full timeline: dropped
    await timelines.deliver([7], 4)
    assert 4 not in await timelines.read(7, limit=100)


async def test_in_order_deliveries_past_the_gap(timelines: RedisTimelines) -> None:
    await timelines.replace(3, [])
    for pid in range(1, 200):
        await timelines.deliver([3], pid)
    assert await timelines.read(3, limit=100) == list(range(199, 189, -1))


async def test_deliver_is_idempotent(timelines: RedisTimelines) -> None:
    await timelines.replace(2, [10, 20])
    for _ in range(2):
        await timelines.deliver([2], 30)  # newest: fast path
        await timelines.deliver([2], 15)  # middle: rewrite path
        await timelines.deliver([2], 20)  # already there
    assert await timelines.read(2) == [30, 20, 15, 10]


async def test_remove_and_remove_many(timelines: RedisTimelines) -> None:
    for uid in (1, 2, 3):
        await timelines.replace(uid, [1, 2, 3, BIG])
    assert await timelines.remove([1, 2, 4], BIG) == 2
    assert await timelines.read(1) == [3, 2, 1]
    assert await timelines.read(3) == [BIG, 3, 2, 1]
    assert await timelines.remove_many(3, [3, 1, 99]) == 2
    assert await timelines.read(3) == [BIG, 2]
    assert await timelines.remove_many(3, [BIG, 2]) == 2
    assert await timelines.exists(3)  # empty but built
    assert await timelines.read(3) == []
    await timelines.deliver([3], 6)
    assert await timelines.read(3) == [6]


async def test_backfill_merges_dedupes_and_caps(timelines: RedisTimelines) -> None:
    assert not await timelines.backfill(5, [1, 2])  # missing: nothing to merge into
    await timelines.replace(5, [100, 80, 60, 40, 20])
    assert await timelines.backfill(5, [90, 80, 70, 5, BIG, 1, 2, 3, 4, 6])
    assert await timelines.read(5, limit=100) == [BIG, 100, 90, 80, 70, 60, 40, 20, 6, 5]


async def test_read_before_paginates(timelines: RedisTimelines) -> None:
    ids = [BIG + 50, BIG + 40, 30, 20, 10]
    await timelines.replace(9, ids)
    assert await timelines.read(9, limit=2) == ids[:2]
    assert await timelines.read(9, limit=2, before=BIG + 40) == [30, 20]
    assert await timelines.read(9, limit=2, before=20) == [10]
    assert await timelines.read(9, limit=2, before=25) == [20, 10]
    assert await timelines.read(9, limit=2, before=10) == []
    assert await timelines.read(9, limit=5, before=BIG + 99) == ids
    pages, before = [], None
    while page := await timelines.read(9, limit=2, before=before):
        pages.append(page)
        before = page[-1]
    assert [p for page in pages for p in page] == ids


async def test_replace_is_a_full_rebuild(timelines: RedisTimelines) -> None:
    await timelines.replace(4, [1, 2, 3])
    await timelines.replace(4, range(100, 130))
    assert await timelines.read(4, limit=100) == list(range(129, 119, -1))
    await timelines.replace_many({4: [5], 6: [7, 8]})
    assert await timelines.read(4) == [5]
    assert await timelines.read(6) == [8, 7]


async def test_rejects_ids_outside_u64(timelines: RedisTimelines) -> None:
    with pytest.raises(ValueError):
        await timelines.deliver([1], 1 << 64)
    with pytest.raises(ValueError):
        await timelines.deliver([1], 0)


@pytest.mark.slow
async def test_huge_fanout_delivers_exactly_once(redis_client: aioredis.Redis) -> None:
    prefix = f"test-tl-{uuid.uuid4().hex[:8]}"
    tl = RedisTimelines(redis_client, cap=800, prefix=prefix)
    followers = list(range(1_000_000, 1_020_000))
    try:
        # half the followers have built timelines, a few holding a newer photo
        await tl.replace_many({uid: [BIG + 1, 7] for uid in followers[:50:2]})
        await tl.replace_many({uid: [] for uid in followers[50::2]})
        for _ in range(2):
            assert await tl.deliver(followers, BIG) == len(followers) // 2
        pipe = redis_client.pipeline(transaction=False)
        for uid in followers:
            pipe.exists(tl.key(uid))
        exists = await pipe.execute()
        assert exists == [1, 0] * (len(followers) // 2)
        for uid in followers[::2]:
            expected = [BIG + 1, BIG, 7] if uid < followers[50] else [BIG]
            assert await tl.read(uid) == expected
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=5000)]
        for i in range(0, len(keys), 1000):
            await redis_client.unlink(*keys[i : i + 1000])
