"""A 10-photo album of 12 MP photos: post -> visible in a follower's feed, beside one photo.

    flock /tmp/photostream-heavy.lock python -m bench.albums [--rounds 3] [--items 10]

Starts the real ingest service and processors (media; metadata, graph, fan-out, albums)
as subprocesses on the local stack, with one author followed by a few users whose
timelines exist. Each round, as a phone app does it:

1. **album**: the items are uploaded detached, ``--concurrency`` at a time (the media
   processor starts on each as soon as it is stored), and the post is made the moment
   the last upload is accepted (``POST /v1/posts``); timed until the post is in the
   follower's home timeline (what ``/v1/feed`` reads), and checked to hold every item.
   Printed: post -> feed (the target: within 8 s) and first upload -> feed.
2. **baseline, same run**: one photo of the same kind uploaded as a post of its own
   (``POST /v1/media``), upload accepted -> in the follower's feed.

Inputs are 12 MP photos as a phone takes them: HEIC when pillow-heif is importable in
this venv (the ingest then accepts HEIC), otherwise JPEG of a phone's size (~2.5 MB);
the run says which. The box is shared: the load average is printed, and the album
figure is quoted as a ratio to the single photo of the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import time
from pathlib import Path

import httpx
from cassandra.cluster import Session
from PIL import Image

from bench.ingest import start
from bench.ingest_world import make_world, wait_healthy
from bench.media import synthetic_photo
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.http.auth import mint
from infra.settings import get_settings
from operate.processes import stop_processes
from operate.stack import manager
from operate.stack.base import free_port
from sinks import posts
from sinks.redis_timelines import RedisTimelines

PROCESS_GROUPS = (["media"], ["metadata", "graph", "fanout", "fanout-worker", "albums"])
TARGET_SECONDS = 8.0


def phone_photos(count: int) -> tuple[list[bytes], str, str]:
    """``count`` distinct 12 MP photos: (bytes, MIME type, what they are)."""
    try:
        import pillow_heif  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        heif = None
    else:
        heif = pillow_heif
        heif.register_heif_opener()
    out = []
    for i in range(count):
        jpeg = synthetic_photo(4000, 3000, grain=0.025, detail_div=8, quality=90 - i % 5)
        if heif is None:
            out.append(jpeg)
            continue
        buf = io.BytesIO()
        Image.open(io.BytesIO(jpeg)).save(buf, "HEIF", quality=80)
        out.append(buf.getvalue())
    mean = sum(map(len, out)) / len(out) / 1e6
    if heif is None:
        return out, "image/jpeg", f"12 MP JPEG (~{mean:.1f} MB; pillow-heif is not installed)"
    return out, "image/heic", f"12 MP HEIC (~{mean:.1f} MB, pillow-heif)"


class Follower:
    """Polls one follower's Redis home timeline until a post id shows up."""

    def __init__(self, timelines: RedisTimelines, user_id: int) -> None:
        self.timelines = timelines
        self.user_id = user_id

    async def until(self, post_id: int, timeout: float = 300) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if post_id in await self.timelines.read(self.user_id, limit=50):
                return time.monotonic()
            await asyncio.sleep(0.02)
        raise TimeoutError(f"post {post_id} never reached follower {self.user_id}")


async def upload(client: httpx.AsyncClient, auth: dict[str, str], data: bytes, mime: str,
                 fields: dict[str, str]) -> int:
    suffix = "heic" if mime == "image/heic" else "jpg"
    while True:
        r = await client.post("/v1/media", headers=auth, data=fields,
                              files={"file": (f"p.{suffix}", data, mime)})
        if r.status_code == 503 and "Retry-After" in r.headers:
            await asyncio.sleep(float(r.headers["Retry-After"]))
            continue
        r.raise_for_status()
        return int(r.json()["photo_id"])


async def album_round(client: httpx.AsyncClient, session: Session, auth: dict[str, str],
                      photos: list[bytes], mime: str, follower: Follower,
                      concurrency: int) -> tuple[float, float]:
    """(post -> feed, first upload -> feed) seconds of one album; fails unless every
    item made it (a post published early with failed items would flatter the figure)."""
    began = time.monotonic()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> int:
        async with gate:
            return await upload(client, auth, photos[i], mime,
                                {"detached": "true", "alt_text": f"photo {i + 1}"})
    media = await asyncio.gather(*(one(i) for i in range(len(photos))))
    posted = time.monotonic()
    r = await client.post("/v1/posts", headers=auth,
                          json={"media_ids": [str(m) for m in media],
                                "caption": "bench album #bench"})
    r.raise_for_status()
    post_id = int(r.json()["post_id"])
    seen = await follower.until(post_id)
    post = await posts.get(session, post_id)
    if post is None or len(post.ready_items) != len(photos):
        made = "no post row" if post is None else f"{len(post.ready_items)} items"
        raise AssertionError(f"album {post_id}: {made} of {len(photos)}; failed: "
                             f"{post.failed_items if post else '?'}")
    return seen - posted, seen - began


async def single_round(client: httpx.AsyncClient, auth: dict[str, str], photo: bytes,
                       mime: str, follower: Follower) -> float:
    """Upload accepted -> in the follower's feed, one photo posted alone."""
    photo_id = await upload(client, auth, photo, mime, {"caption": "bench single #bench"})
    accepted = time.monotonic()
    return await follower.until(photo_id) - accepted


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    await manager.up(settings)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; generating photos")
    photos, mime, kind = phone_photos(args.items + 1)
    print(f"inputs: {kind}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PHOTOSTREAM_INGEST_PORT": str(port), "PHOTOSTREAM_LOG_LEVEL": "WARNING",
           "PHOTOSTREAM_METRICS_PORT": "0", "PHOTOSTREAM_RATE_UPLOADS": "0"}
    logs = Path(settings.stack.state_dir) / "logs"
    procs = [start(["ingest"], env, logs)] + [start(["process", *names], env, logs)
                                              for names in PROCESS_GROUPS]
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    client = httpx.AsyncClient(base_url=base, timeout=300)
    try:
        await wait_healthy(base)
        world = await make_world(settings, session, rds, followers=3)
        auth = {"Authorization": f"Bearer {mint(world.author, settings)}"}
        follower = Follower(RedisTimelines(rds, settings.timelines.redis_cap),
                            world.followers[0])
        await single_round(client, auth, photos[-1], mime, follower)  # warm-up
        singles, posts, totals = [], [], []
        for number in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            single = await single_round(client, auth, photos[-1], mime, follower)
            post, total = await album_round(client, session, auth, photos[:args.items], mime,
                                            follower, args.concurrency)
            singles.append(single)
            posts.append(post)
            totals.append(total)
            print(f"round {number} (load {load:.1f}): single upload -> feed {single:5.2f} s; "
                  f"{args.items}-photo album: post -> feed {post:5.2f} s, "
                  f"first upload -> feed {total:5.2f} s")
        single, post, total = (statistics.median(x) for x in (singles, posts, totals))
        print()
        print(f"{'median of ' + str(args.rounds) + ' rounds':<56} {'seconds':>8}")
        print("-" * 65)
        print(f"{'baseline: one photo, upload accepted -> follower feed':<56} {single:8.2f}")
        print(f"{f'{args.items}-photo album: post -> follower feed':<56} {post:8.2f}")
        print(f"{f'{args.items}-photo album: first upload -> follower feed':<56} {total:8.2f}")
        print(f"{'album post -> feed / single photo':<56} {post / single:8.2f}")
        verdict = "met" if post <= TARGET_SECONDS else "NOT met"
        print(f"target: album visible within {TARGET_SECONDS:g} s of the post: {verdict} "
              f"({kind}; load {os.getloadavg()[0]:.1f} at the end)")
    finally:
        await client.aclose()
        await rds.aclose()
        await asyncio.to_thread(session.cluster.shutdown)
        await stop_processes(procs, group=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4,
                        help="detached uploads in flight at once (a phone's few connections)")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
