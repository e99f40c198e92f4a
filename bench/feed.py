"""Home feed read latency: materialized timelines vs fan-in on read.

    python -m bench.feed [--reads 300] [--authors 200]

A reader follows ``--authors`` normal authors (2 photos each, pushed into the reader's
timeline as the fan-out does) and two pull-at-read celebrities (10 photos each), and
asks for a 50-photo page. Three ways, in the same run:

* ours, hot: ``FeedReader.home`` reads the Redis timeline, merges the celebrities'
  recent photos, checks every candidate is still ready and visible;
* ours after Redis lost the timeline: the same read, rebuilding it from Cassandra first;
* baseline, fan-in on read (no materialized timeline): ask every followee's
  ``photos_by_user`` for its recent photos and merge — what a feed costs without fan-out.

Target: p99 well under 200 ms.
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
from bench.stats import pct
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import get_settings
from operate.stack import manager
from schemas.ids import IdGenerator
from schemas.media import Derivative, PhotoProcessed, Placeholder
from sinks import graph, photos
from sinks.pull_authors import mark_pulled
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines


def processed(photo_id: int, owner_id: int) -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner_id, media_kind="photo", original_width=1080,
        original_height=1350, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"photos/{photo_id}/thumb.jpg", width=150,
                                height=150, bytes=4000, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#336699", blurhash=None),
        caption="bench", title="", location=None)


async def timed(reads: int, call: Callable[[], Awaitable[object]]
                ) -> tuple[list[float], float]:
    """Wall ms of each call, and the process CPU ms per call (this process is the
    reader: its event loop and the drivers' I/O threads do all of a page's Python work)."""
    took = []
    cpu_began = time.process_time()
    for _ in range(reads):
        began = time.perf_counter()
        await call()
        took.append((time.perf_counter() - began) * 1000)
    return took, (time.process_time() - cpu_began) * 1000 / reads


def row(name: str, timing: tuple[list[float], float]) -> str:
    took, cpu = timing
    return (f"{name:<40} {len(took):>6} {pct(took, 50):>8.1f} {pct(took, 99):>8.1f} "
            f"{max(took):>8.1f} {cpu:>8.2f}")


async def run(reads: int, n_authors: int) -> None:
    settings = get_settings()
    await manager.up(settings)
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    ids = IdGenerator(worker_id=15)
    fan, celeb1, celeb2 = (random.getrandbits(62) for _ in range(3))
    authors = [random.getrandbits(62) for _ in range(n_authors)]
    try:
        now = datetime.now(UTC)
        gate = asyncio.Semaphore(32)

        # One run as the single writer of both sides (concurrent follows of one fan
        # would race on its following count: sinks.owned_edges).
        await graph.set_edges(session, {(fan, f): now for f in [*authors, celeb1, celeb2]})
        hot = RedisTimelines(rds, settings.timelines.redis_cap)
        timelines = Timelines(session, rds, hot)
        reader = FeedReader(session, rds, settings)
        await reader.home(fan)

        async def post(owner: int, push: bool) -> None:
            async with gate:
                photo_id = ids.next_id(owner)
                await photos.mark_processed(session, processed(photo_id, owner), now)
                if push:
                    await timelines.push([fan], photo_id, owner)

        await asyncio.gather(*(post(a, True) for a in authors for _ in range(2)))
        await asyncio.gather(*(post(c, False) for c in (celeb1, celeb2) for _ in range(10)))
        for celeb in (celeb1, celeb2):
            await mark_pulled(session, celeb, 1)
        assert len(await reader.home(fan, limit=50)) == 50

        async def cold() -> object:
            await hot.drop(fan)
            return await reader.home(fan, limit=50)

        async def fan_in() -> list[int]:
            followees = await graph.following(session, fan)
            pages = await asyncio.gather(
                *(photos.recent_photos(session, f, limit=50) for f in followees))
            return sorted({p for page in pages for p in page}, reverse=True)[:50]

        assert len(await fan_in()) == 50
        hot_took = await timed(reads, lambda: reader.home(fan, limit=50))
        cold_took = await timed(max(50, reads // 3), cold)
        fan_in_took = await timed(max(50, reads // 3), fan_in)
    finally:
        await rds.aclose()
        session.cluster.shutdown()
    print(f"{'home(fan, limit=50)':<40} {'reads':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
          f" {'CPU ms':>8}")
    print("-" * 83)
    print(row("ours: hot Redis timeline + 2 pull authors", hot_took))
    print(row("ours: Redis lost, rebuilt on this read", cold_took))
    print(row(f"baseline: fan-in on read, {n_authors + 2} followees", fan_in_took))
    ratio = statistics.median(fan_in_took[0]) / statistics.median(hot_took[0])
    print(f"ours vs fan-in on read: {ratio:.1f}x faster at p50; target p99 < 200 ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--authors", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.reads, args.authors))


if __name__ == "__main__":
    main()
