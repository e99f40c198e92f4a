"""``photostream demo``: the main job on the local stack, narrated for a newcomer.

It runs the real services as an operator would (the ingest service and every stream
processor as subprocesses), then plays a few minutes of a social network's life through
them: users register and follow each other, photos are uploaded over HTTP, processed
into derivatives, indexed and fanned out to followers' home feeds, and a corrupt upload
is refused with a reason. Every step prints what moved where. It ends by printing the
URL of the web app (served by the read API, ``photostream api``) with the demo's users in
it, and leaves every service running until Ctrl-C so you can look around.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from api.feed import FeedReader
from infra.connect import cassandra, redis, s3
from infra.connect.publisher import Publisher
from infra.http.auth import mint
from infra.settings import Settings
from operate.commands.smoke import run_smoke
from operate.processes import stop_processes
from operate.stack.base import free_port
from schemas.envelope import make
from schemas.graph import FollowApproved, FollowRequested
from schemas.users import UserRegistered
from sinks import photos as photo_rows
from sinks.graph import follower_count, is_following

PRODUCER = "photostream-demo"


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run the pipeline demo on the local stack")
    demo.add_argument("--photos", type=int, default=3, help="photos alice uploads")
    demo.add_argument("--exit", action="store_true",
                      help="stop the services when the demo is done (default: run until Ctrl-C)")
    demo.set_defaults(handler=cmd_demo)


def _port_or_free(port: int) -> int:
    """``port`` if nothing listens there (the documented URL), else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def demo_photo(index: int) -> bytes:
    """A colourful 1600x1200 JPEG, different for every index."""
    im = Image.new("RGB", (1600, 1200))
    draw = ImageDraw.Draw(im)
    for y in range(0, 1200, 8):
        shade = (40 + index * 70 + y // 8) % 256
        draw.rectangle((0, y, 1600, y + 8), fill=(shade, (y // 5) % 256, 255 - shade))
    draw.ellipse((500, 300, 1100, 900), fill=(250, 200 - index * 40, 60))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@contextlib.asynccontextmanager
async def services(settings: Settings, port: int, api_port: int) -> AsyncIterator[None]:
    """Run ingest, the read API and all processors as subprocesses; SIGTERM them (clean
    drain) after. Both HTTP services get both ports: the read API tells the web app where
    ingest is, and ingest allows the web app's origin (CORS)."""
    exe = str(Path(sys.executable).with_name("photostream"))
    env = {**os.environ, "PHOTOSTREAM_INGEST_PORT": str(port),
           "PHOTOSTREAM_API_PORT": str(api_port), "PHOTOSTREAM_LOG_LEVEL": "WARNING"}
    log = (settings.stack.state_dir / "logs" / "demo-services.log").open("ab")
    procs = [await asyncio.create_subprocess_exec(exe, *args, env=env, stdout=log, stderr=log,
                                                  start_new_session=True)
             for args in (["ingest"], ["api"], ["process", "all"])]
    try:
        yield
    finally:
        await stop_processes(procs, group=True)
        log.close()


async def until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def upload(client: httpx.AsyncClient, token: str, data: bytes,
                 caption: str) -> httpx.Response:
    return await client.post("/v1/media", headers={"Authorization": f"Bearer {token}"},
                             files={"file": ("photo.jpg", data, "image/jpeg")},
                             data={"caption": caption})


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    print("1. the stack answers (Kafka, Cassandra, MinIO, Redis):")
    for name, seconds, detail in await run_smoke(settings):
        print(f"   ok {name:<10} {seconds * 1000:7.1f} ms  {detail}")

    run = int(time.time() * 1000) % 10**9  # fresh users every run
    alice, bob, carol = run * 10 + 1, run * 10 + 2, run * 10 + 3
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis.client(settings)
    port, api_port = free_port(), _port_or_free(settings.api.port)
    try:
        async with services(settings, port, api_port):
            await _social(settings, session, alice, bob, carol, run)
            photo_ids = await _uploads(settings, port, alice, args.photos)
            await _processed(settings, session, photo_ids)
            await _feeds(settings, session, rds, alice, bob, carol, photo_ids)
            print("demo finished: photos went producers -> Kafka -> processors -> "
                  "MinIO/Cassandra/Redis")
            await _web_app(api_port, run, bob)
            if not args.exit:
                print("services keep running; press Ctrl-C to stop them")
                await _until_stopped()
    finally:
        await rds.aclose()
        session.cluster.shutdown()
    return 0


async def _until_stopped() -> None:
    """Return on Ctrl-C or SIGTERM, so the services are drained, not orphaned (they run
    in their own sessions and would outlive a demo killed outright)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("stopping the services...")


async def _web_app(api_port: int, run: int, bob: int) -> None:
    """Wait for the read API, then say how to look at the demo's network in a browser."""
    base = f"http://127.0.0.1:{api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await until("the read API", lambda: _ready(client), timeout=60)
    print("6. the web app (read API + ingest; sign in as any demo user, no password in dev):")
    print(f"   {base}/app/#/signin?user=bob_{run}")
    print(f"   users: alice_{run} (public, posted the photos), bob_{run} (follows alice), "
          f"carol_{run} (private, approved alice)")
    print("   the feed over HTTP:")
    print(f'   curl -H "Authorization: Bearer $(photostream token {bob})" '
          f"localhost:{api_port}/v1/feed")


async def _social(settings: Settings, session: Any, alice: int, bob: int, carol: int,
                  run: int) -> None:
    print("2. users register and follow (events published to Kafka):")
    events = [
        make(UserRegistered(user_id=alice, username=f"alice_{run}", display_name="Alice",
                            bio="photographer", private=False), producer=PRODUCER),
        make(UserRegistered(user_id=bob, username=f"bob_{run}", display_name="Bob",
                            bio="", private=False), producer=PRODUCER),
        make(UserRegistered(user_id=carol, username=f"carol_{run}", display_name="Carol",
                            bio="", private=True), producer=PRODUCER),
        make(FollowRequested(follower_id=bob, followee_id=alice), producer=PRODUCER),
        make(FollowRequested(follower_id=alice, followee_id=carol), producer=PRODUCER),
    ]
    async with Publisher(settings) as publisher:
        await publisher.publish_many(events)
        print("   alice (public), bob, carol (private); bob follows alice; "
              "alice asks to follow carol")
        await until("bob -> alice edge", lambda: is_following(session, bob, alice))
        await publisher.publish(make(FollowApproved(follower_id=alice, followee_id=carol),
                                     producer=PRODUCER))
        await until("carol's approval", lambda: is_following(session, alice, carol))
    print(f"   graph processor: alice has {await follower_count(session, alice)} follower(s); "
          "carol approved alice")


async def _uploads(settings: Settings, port: int, alice: int, count: int) -> list[int]:
    print(f"3. alice uploads {count} photos over HTTP (ingest service on :{port}):")
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await until("the ingest service", lambda: _ready(client), timeout=60)
        token = mint(alice, settings)
        ids = []
        for i in range(count):
            response = await upload(client, token, demo_photo(i), f"sunset #{i} #photostream")
            response.raise_for_status()
            ids.append(int(response.json()["photo_id"]))
            print(f"   202 Accepted photo_id={ids[-1]} status=processing "
                  "(original in MinIO, photo.uploaded in Kafka)")
        bad = await upload(client, token, b"\xff\xd8\xff\xe0 this is not really a jpeg", "oops")
        if bad.status_code == 202:
            print(f"   a corrupt JPEG: 202 photo_id={bad.json()['photo_id']} (its header looks "
                  "like a JPEG; the media processor will judge the pixels)")
        else:
            print(f"   a corrupt upload: {bad.status_code} {bad.json().get('title', '')}")
        if bad.status_code == 202:
            ids.append(int(bad.json()["photo_id"]))
        missing = await client.post("/v1/media", files={"file": ("a.jpg", b"x", "image/jpeg")})
        print(f"   without a token: {missing.status_code} {missing.headers['content-type']}")
    return ids


async def _ready(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get("/readyz")).status_code == 200
    return False


async def _processed(settings: Settings, session: Any, photo_ids: list[int]) -> None:
    print("4. media processor: validate, resize with Pillow, derivatives to MinIO:")

    async def settled() -> bool:
        rows = [await photo_rows.get_photo(session, p) for p in photo_ids]
        return all(r is not None and r.status in ("ready", "failed") for r in rows)

    await until("photos to be processed", settled, timeout=180)
    minio = s3.client(settings)
    for photo_id in photo_ids:
        row = await photo_rows.get_photo(session, photo_id)
        assert row is not None
        if row.status != "ready":
            print(f"   photo {photo_id}: {row.status}: {row.failure_reason}")
            continue
        sizes = []
        for d in row.derivatives:
            stat = await asyncio.to_thread(minio.stat_object, settings.s3.media_bucket, d["key"])
            sizes.append(f"{d['name']} {d['width']}x{d['height']} {(stat.size or 0) // 1024} KB")
        print(f"   photo {photo_id}: ready, {row.width}x{row.height}, "
              f"colour {row.dominant_color}; " + ", ".join(sizes))


async def _feeds(settings: Settings, session: Any, rds: Any, alice: int, bob: int,
                 carol: int, photo_ids: list[int]) -> None:
    print("5. fan-out: photo ids pushed to followers' home timelines (Redis + Cassandra):")
    reader = FeedReader(session, rds, settings)
    ready = [p for p in photo_ids
             if (row := await photo_rows.get_photo(session, p)) is not None and row.ready]

    async def delivered() -> bool:
        return set(ready) <= set(await reader.home(bob, limit=50))

    await until("bob's feed", delivered, timeout=120)
    for name, user in (("bob", bob), ("alice", alice), ("carol", carol)):
        started = time.perf_counter()
        feed = await reader.home(user, limit=10)
        ms = (time.perf_counter() - started) * 1000
        print(f"   {name:<5} home feed ({ms:4.1f} ms): {feed or 'empty'}")
