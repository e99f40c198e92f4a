"""Feed page cost with the block and mute filter vs without it, in the same run.

    python -m bench.blocks [--reads 200] [--rounds 4] [--authors 200]

A reader follows ``--authors`` authors (2 photos each, pushed into the reader's Redis and
Cassandra timelines as the fan-out does, every author with a profile). The reader has
muted 20 of them, blocked 10 (block rows only, as in the moment before the block's
unfollows land: the edges and the timeline entries are still there) and been blocked by
10, so the filter has real work: 80 of the 400 timeline entries are hidden. One page
is what ``GET /v1/feed`` does: ``FeedReader.page`` for 20 photos, then the cards.

* with the filter: the code as it is (the following list and the relations in one
  pipelined round trip, :func:`api.visibility.feed_authors`);
* without: the same reader whose ``audience`` reads only the following list and no
  relations (the read path before blocks existed) - it shows the hidden authors;
* with the filter, a second reader following the same authors with no blocks or mutes
  (the common case: its relations entry is a cached empty one).

Rounds alternate the variants so a neighbour's load hits all of them alike; read the
ratios. Warm caches throughout (a page's reads are all Redis hits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from api.cards import Cards
from api.feed import FeedReader
from api.views import Views
from bench.feed import processed, row, timed
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import get_settings
from operate.stack import manager
from schemas.ids import IdGenerator
from sinks import blocks, graph, photos, users
from sinks.blocks import NONE, Relations
from sinks.media_urls import MediaUrls
from sinks.timelines import Timelines

PAGE = 20


class Unfiltered(FeedReader):
    """The feed read before blocks: whom the reader follows, and no relations read."""

    async def audience(self, user_id: int) -> tuple[frozenset[int], Relations]:
        return await self.views.following(user_id), NONE


async def run(reads: int, rounds: int, n_authors: int) -> None:
    settings = get_settings()
    await manager.up(settings)
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    ids = IdGenerator(worker_id=14)
    reader, plain = random.getrandbits(62), random.getrandbits(62)
    authors = [random.getrandbits(62) for _ in range(n_authors)]
    strangers = [random.getrandbits(62) for _ in range(10)]
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(32)
    try:
        async def setup_author(author: int) -> None:
            async with gate:
                await users.upsert_profile(session, author, f"b{author:x}"[:30], "bench", "",
                                           False, now, registered=True)

        await asyncio.gather(*(setup_author(a) for a in authors))
        await graph.set_edges(session, {(fan, a): now for a in authors  # one writer
                                        for fan in (reader, plain)})
        views = Views(session, rds)
        filtered = FeedReader(session, rds, settings, views=views)
        unfiltered = Unfiltered(session, rds, settings, views=views)
        await filtered.home(reader)
        await filtered.home(plain)  # both active: their hot timelines exist
        timelines = Timelines(session, rds, filtered.hot)

        async def post(owner: int) -> None:
            async with gate:
                photo_id = ids.next_id(owner)
                await photos.mark_processed(session, processed(photo_id, owner), now)
                await timelines.push([reader, plain], photo_id, owner)

        await asyncio.gather(*(post(a) for a in authors for _ in range(2)))
        for muted in authors[:20]:
            await blocks.mute(session, reader, muted, now)
        for target in authors[20:30]:
            await blocks.block(session, reader, target, now)
        for blocker in authors[30:40]:
            await blocks.block(session, blocker, reader, now)
        for stranger in strangers:  # blocks of accounts outside the feed cost a set entry
            await blocks.block(session, reader, stranger, now)
        await blocks.invalidate(rds, [reader, plain, *authors[20:40], *strangers])
        cards = Cards(views, MediaUrls.from_settings(settings))
        hidden = set(authors[:40])

        def page(feed: FeedReader, who: int) -> Callable[[], Awaitable[int]]:
            async def one() -> int:
                got = await feed.page(who, PAGE)
                shown = await cards.cards(who, got.ids, social=(got.following, got.relations),
                                          photos=got.photos)
                return len(shown)
            return one

        first = await filtered.page(reader, 400)
        assert not hidden & {first.photos[p]["owner"] for p in first.ids}, "filter leaked"
        assert len(first.ids) == 2 * (n_authors - 40)
        assert await page(filtered, reader)() == PAGE == await page(unfiltered, reader)()
        variants = {"with the block/mute filter": page(filtered, reader),
                    "without (following list only)": page(unfiltered, reader),
                    "with the filter, reader without blocks": page(filtered, plain)}
        results: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in variants}
        for _ in range(rounds):
            for name, call in variants.items():
                took, cpu = await timed(reads // rounds, call)
                done, cpu_sum = results[name]
                results[name] = (done + took, cpu_sum + cpu / rounds)
    finally:
        await rds.aclose()
        session.cluster.shutdown()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"feed page of {PAGE} + cards, {n_authors} followees, warm caches; "
          f"load average {load} at the end")
    print(f"{'variant':<40} {'reads':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'CPU ms':>8}")
    print("-" * 83)
    for name, timing in results.items():
        print(row(name, timing))
    base = results["without (following list only)"]
    for name in ("with the block/mute filter", "with the filter, reader without blocks"):
        took, cpu = results[name]
        print(f"{name} / without: p50 x{_p50(took) / _p50(base[0]):.2f}, "
              f"CPU x{cpu / base[1]:.2f}")


def _p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--authors", type=int, default=200)
    args = parser.parse_args(argv)
    began = time.monotonic()
    asyncio.run(run(args.reads, args.rounds, args.authors))
    print(f"({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
