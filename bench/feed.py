"""Home feed read latency: hot (Redis timeline) vs cold (rebuilt from Cassandra).

    python -m bench.feed [--reads 300]

A reader who follows one normal author (50 pushed posts) and two pull-at-read
celebrities (10 posts each) asks for a 50-photo page. ``FeedReader.home`` reads the
Redis timeline, merges the celebrities' recent photos and checks every candidate is
still ready and visible. The baseline in the same run is the same read after the
reader's Redis timeline was dropped (Redis lost it), which rebuilds it from the durable
Cassandra timeline first. Target: p99 well under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from api.feed import FeedReader
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import get_settings
from infra.stack import manager
from schemas.ids import IdGenerator
from schemas.media import Derivative, PhotoProcessed, Placeholder
from sinks import graph, photos
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines, mark_pulled


def processed(photo_id: int, owner_id: int) -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner_id, media_kind="photo", original_width=1080,
        original_height=1350, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"photos/{photo_id}/thumb.jpg", width=150,
                                height=150, bytes=4000, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#336699", blurhash=None),
        caption="bench", title="", location=None)


async def timed(reads: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    took = []
    for _ in range(reads):
        began = time.perf_counter()
        await call()
        took.append((time.perf_counter() - began) * 1000)
    return took


def row(name: str, took: list[float]) -> str:
    q = statistics.quantiles(took, n=100)
    return f"{name:<40} {len(took):>6} {q[49]:>8.1f} {q[98]:>8.1f} {max(took):>8.1f}"


async def run(reads: int) -> None:
    settings = get_settings()
    await manager.up(settings)
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    ids = IdGenerator(worker_id=15)
    fan, author, celeb1, celeb2 = (random.getrandbits(62) for _ in range(4))
    try:
        now = datetime.now(UTC)
        for followee in (author, celeb1, celeb2):
            await graph.follow(session, fan, followee, now)
        hot = RedisTimelines(rds, settings.timelines.redis_cap)
        timelines = Timelines(session, rds, hot)
        reader = FeedReader(session, rds, settings)
        await reader.home(fan)
        for owner, count in ((author, 50), (celeb1, 10), (celeb2, 10)):
            for _ in range(count):
                photo_id = ids.next_id(owner)
                await photos.mark_processed(session, processed(photo_id, owner), now)
                if owner == author:
                    await timelines.push([fan], photo_id, owner)
        for celeb in (celeb1, celeb2):
            await mark_pulled(session, celeb, 1)
        assert len(await reader.home(fan, limit=50)) == 50

        async def cold() -> object:
            await hot.drop(fan)
            return await reader.home(fan, limit=50)

        hot_took = await timed(reads, lambda: reader.home(fan, limit=50))
        cold_took = await timed(max(50, reads // 3), cold)
    finally:
        await rds.aclose()
        session.cluster.shutdown()
    print(f"{'home(fan, limit=50)':<40} {'reads':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print("-" * 74)
    print(row("ours: hot Redis timeline + 2 pull authors", hot_took))
    print(row("baseline: Redis lost, rebuilt per read", cold_took))
    ratio = statistics.median(cold_took) / statistics.median(hot_took)
    print(f"hot vs rebuilt: {ratio:.1f}x faster at p50; target p99 < 200 ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=300)
    asyncio.run(run(parser.parse_args(argv).reads))


if __name__ == "__main__":
    main()
