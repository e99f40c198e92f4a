"""API CPU of a home timeline page: Mastodon's ``/api/v1/timelines/home`` beside ``/v1/feed``.

    python -m bench.mastodon [--reads 200] [--rounds 4] [--authors 100] [--profile 300]

Issue 20 bounds the Mastodon page at 1.2x the API CPU of the same page through
``/v1/feed`` (one hydration path, two shapes). A reader follows ``--authors`` authors
(2 photos each, pushed into its timelines as the fan-out does). Each app runs in this
process behind httpx's ASGI transport, so a request's whole Python cost (routing,
authentication, the page, the cards, serialisation) is this process's CPU. So is the
client's side of httpx; the answers are not parsed in the timed calls (the Mastodon page
is 2.5 times the bytes, each status carrying its Account: parsing it is a client's CPU;
the page sizes are checked once, while warming the caches):

* ``/v1/feed`` fast path: the read API's plain-ASGI route (warm caches, card bytes);
* ``/v1/feed`` FastAPI route: the reference route the fast path falls back to (an extra
  query parameter sends the request there), the same shape of work as the Mastodon route;
* ``/api/v1/timelines/home`` on the ingest app (OAuth token looked up through its Redis
  cache, :mod:`sinks.oauth_cache`, warm like the others).

Pages of 20, warm caches; rounds alternate the variants so a neighbour's load hits all
alike: read the ratios. ``--profile N`` then runs N more pages of the FastAPI route and
of the Mastodon route under cProfile and prints where each spends its time (the event
loop's thread only: the Cassandra driver's I/O thread is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import orjson

from api.app import create_app as read_app
from api.feed import FeedReader
from api.views import Views
from bench.feed import processed, row, timed
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.http.auth import mint
from infra.settings import get_settings
from operate.stack import manager
from producers.ingest import create_app as ingest_app
from schemas.ids import IdGenerator
from sinks import graph, oauth, photos, users
from sinks.timelines import Timelines

PAGE = 20


async def profiled(name: str, reads: int, call: Callable[[], Awaitable[int]]) -> None:
    """Print the functions ``reads`` calls spend most time in (own time, then total)."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(reads):
        await call()
    profile.disable()
    for order, only in (("tottime", ()), ("cumulative", (r"/(api|producers|sinks|infra)/",))):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(*only, 25)
        print(f"\n== {name}: {reads} pages, by {order} ==")
        print(out.getvalue().split("\n", 6)[-1].rstrip())


async def run(reads: int, rounds: int, n_authors: int, profile: int = 0) -> None:
    settings = get_settings()
    await manager.up(settings)
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    ids = IdGenerator(worker_id=15)
    reader = random.getrandbits(62)
    authors = [random.getrandbits(62) for _ in range(n_authors)]
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(32)
    api, ingest = read_app(settings), ingest_app(settings)
    try:
        await users.upsert_profile(session, reader, f"r{reader:x}"[:30], "reader", "",
                                   False, now, registered=True)

        async def setup_author(author: int) -> None:
            async with gate:
                await users.upsert_profile(session, author, f"b{author:x}"[:30], "bench", "",
                                           False, now, registered=True)

        await asyncio.gather(*(setup_author(a) for a in authors))
        await graph.set_edges(session, {(reader, a): now for a in authors})  # one writer
        feed = FeedReader(session, rds, settings, views=Views(session, rds))
        await feed.home(reader)  # active: its hot timeline exists
        timelines = Timelines(session, rds, feed.hot)

        async def post(owner: int) -> None:
            async with gate:
                photo_id = ids.next_id(owner)
                await photos.mark_processed(session, processed(photo_id, owner), now)
                await timelines.push([reader], photo_id, owner)

        await asyncio.gather(*(post(a) for a in authors for _ in range(2)))
        jwt = {"Authorization": f"Bearer {mint(reader, settings)}"}
        token = secrets.token_urlsafe(32)
        await oauth.store_token(session, token, oauth.Token("bench", reader, "read"))
        masto = {"Authorization": f"Bearer {token}"}
        async with api.router.lifespan_context(api), \
                ingest.router.lifespan_context(ingest), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                  base_url="http://api") as read_http, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest),
                                  base_url="http://ingest") as ingest_http:

            Page = tuple[httpx.AsyncClient, str, dict[str, str], dict[str, str]]
            pages: dict[str, Page] = {
                "/v1/feed (fast path)": (read_http, "/v1/feed", jwt, {"limit": "20"}),
                "/v1/feed (FastAPI route)": (read_http, "/v1/feed", jwt,
                                             {"limit": "20", "via": "general"}),
                "/api/v1/timelines/home": (ingest_http, "/api/v1/timelines/home", masto,
                                           {"limit": "20"}),
            }

            def get(page: Page) -> Callable[[], Awaitable[int]]:
                """One timed page; its body is not parsed (the client's CPU, not the API's)."""
                http, path, headers, params = page

                async def one() -> int:
                    answer = await http.get(path, headers=headers, params=params)
                    assert answer.status_code == 200, answer.text
                    return len(answer.content)
                return one

            for name, (http, path, headers, params) in pages.items():  # warms every cache
                body = orjson.loads((await http.get(path, headers=headers,
                                                    params=params)).content)
                assert len(body["items"] if isinstance(body, dict) else body) == PAGE, name
            variants = {name: get(page) for name, page in pages.items()}
            results: dict[str, tuple[list[float], float]] = {n: ([], 0.0) for n in variants}
            for _ in range(rounds):
                for name, call in variants.items():
                    took, cpu = await timed(reads // rounds, call)
                    done, cpu_sum = results[name]
                    results[name] = (done + took, cpu_sum + cpu / rounds)
            if profile:
                for name in ("/v1/feed (FastAPI route)", "/api/v1/timelines/home"):
                    await profiled(name, profile, variants[name])
    finally:
        await rds.aclose()
        session.cluster.shutdown()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"home page of {PAGE}, {n_authors} followees, warm caches, in-process ASGI; "
          f"load average {load} at the end")
    print(f"{'variant':<40} {'reads':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'CPU ms':>8}")
    print("-" * 83)
    for name, timing in results.items():
        print(row(name, timing))
    mastodon = results["/api/v1/timelines/home"][1]
    for base in ("/v1/feed (fast path)", "/v1/feed (FastAPI route)"):
        print(f"/api/v1/timelines/home / {base}: CPU x{mastodon / results[base][1]:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--authors", type=int, default=100)
    parser.add_argument("--profile", type=int, default=0,
                        help="then profile this many pages of two of the routes")
    args = parser.parse_args(argv)
    began = time.monotonic()
    asyncio.run(run(args.reads, args.rounds, args.authors, args.profile))
    print(f"({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
