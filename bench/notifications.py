"""Notifications benchmark: event -> unread count, live fan-out to 1 000 streams, inbox pages.

Run ``python -m bench.notifications`` against the running stack (under the heavy lock).
It starts ``photostream api`` (one process, one worker) and ``photostream process
notifications`` as real processes, registers its users, and prints, from one run:

  (a) event -> unread count visible on the owner's open stream, p50/p99, with like events
      published open-loop at ``RATE``/s (a quarter of them on one viral photo, whose
      owner's stream must stay coalesced: its events/s are printed), beside the baseline
      of the same events' Kafka transport alone (publish -> a bare consumer has them);
  (b) ``STREAMS`` concurrent SSE clients on the one API process: a notification written
      for every one of them at once (the pipeline's last write, XADD + PUBLISH) -> each
      stream has it, p50/p99 over several rounds, and the same end to end through Kafka
      and the processor; the API's memory per open stream (RSS delta / streams);
  (c) a user with ``INBOX`` notifications: the first grouped page warm, p50/p99, beside
      ``GET /v1/photos/{id}`` (one hydrated card) measured the same way.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from cassandra.cluster import Session

from bench.stats import pct
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.connect.publisher import Publisher
from infra.http.auth import mint
from infra.settings import Settings, get_settings
from operate.processes import stop_processes
from operate.stack.base import free_port
from schemas.engagement import LikeAdded
from schemas.envelope import make
from schemas.ids import make_id
from schemas.media import Derivative, PhotoProcessed, Placeholder
from schemas.topics import LIKES
from sinks import notifications as inbox
from sinks import photos, users
from sinks.media_keys import derivative_key
from sinks.notification_hot import HotInbox

RATE = 200
SECONDS = 15
OWNERS = 200
STREAMS = 1_000
ROUNDS = 5
INBOX = 10_000
PAGE_REQUESTS = 300


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _register(session: Session, count: int, run: str) -> list[int]:
    gate = asyncio.Semaphore(64)
    ids = [random.getrandbits(62) for _ in range(count)]

    async def one(number: int, user_id: int) -> None:
        async with gate:
            name = f"n{run}{number}"[:30]
            await users.upsert_profile(session, user_id, name, name, "", False,
                                       datetime.now(UTC), registered=True)
    await asyncio.gather(*(one(n, uid) for n, uid in enumerate(ids)))
    return ids


class Stream:
    """One SSE client on a raw socket (httpx per stream would cost the client more CPU
    than the server under test); records when each ``unread`` count was first seen."""

    def __init__(self, port: int, user_id: int, token: str) -> None:
        self.port, self.user_id, self.token = port, user_id, token
        self.unread_at: dict[int, float] = {}
        self.events: list[float] = []
        self.opened = asyncio.Event()
        self.refused = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:  # as a client would: a 503 (busy) is retried after a moment
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port,
                                                           limit=1 << 20)
            writer.write((f"GET /v1/stream HTTP/1.1\r\nHost: bench\r\n"
                          f"Accept: text/event-stream\r\n"
                          f"Authorization: Bearer {self.token}\r\n\r\n").encode())
            status = await reader.readline()
            if b" 200 " in status:
                break
            self.refused += 1
            writer.close()
            await asyncio.sleep(0.5 + random.random())
        while (await reader.readline()).strip():
            pass
        event = data = None
        try:
            while line := await reader.readline():
                line = line.rstrip(b"\r\n")
                if line.startswith(b"event: "):
                    event = line[7:]
                elif line.startswith(b"data: "):
                    data = line[6:]
                elif not line and data is not None:
                    self._on(event, data)
                    event = data = None
        finally:
            writer.close()

    def _on(self, event: bytes | None, data: bytes) -> None:
        now = time.perf_counter()
        self.events.append(now)
        if event == b"unread":
            count = int(orjson.loads(data)["count"])
            for seen in range(max(self.unread_at, default=-1) + 1, count + 1):
                self.unread_at[seen] = now  # a coalesced jump shows every count under it
            self.opened.set()


async def _kafka_floor(settings: Settings, sent: dict[str, float], seen: dict[str, float],
                       ready: asyncio.Event, stop: asyncio.Event) -> None:
    """The baseline: when a bare consumer of the likes topic has each event."""
    consumer = AIOKafkaConsumer(LIKES.name, bootstrap_servers=",".join(
        settings.kafka.bootstrap_servers), auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.seek_to_end()
        for tp in consumer.assignment():
            await consumer.position(tp)
        ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    event_id = orjson.loads(record.value or b"{}").get("event_id")
                    if event_id in sent:
                        seen.setdefault(event_id, now)
    finally:
        await consumer.stop()


async def _services(settings: Settings, log: Path) -> tuple[list[asyncio.subprocess.Process],
                                                            int]:
    exe = str(Path(sys.executable).with_name("photostream"))
    port = free_port()
    env = {**os.environ, "PHOTOSTREAM_API_PORT": str(port), "PHOTOSTREAM_LOG_LEVEL": "WARNING",
           "PHOTOSTREAM_NOTIFY_MAX_STREAMS": str(STREAMS + 100)}
    handle = log.open("ab")
    procs = [await asyncio.create_subprocess_exec(exe, *args, env=env, stdout=handle,
                                                  stderr=handle, start_new_session=True)
             for args in (["api", "--port", str(port)], ["process", "notifications"])]
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 90
        while True:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api did not start; see {log}")
            await asyncio.sleep(0.3)
    return procs, port


def _photo(photo_id: int, owner: int) -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner, media_kind="photo", original_width=1080,
        original_height=810, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=derivative_key(photo_id, "thumb"), width=150,
                                height=150, bytes=100, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#336699", blurhash=None), caption="bench",
        title="", location=None)


async def engagement_to_unread(settings: Settings, streams: dict[int, Stream],
                               owners: list[int], likers: list[int]) -> None:
    viral_owner, regular = owners[0], owners[1:]
    viral_photo = random.getrandbits(62)
    sent_at: dict[tuple[int, int], float] = {}
    kafka_sent: dict[str, float] = {}
    kafka_seen: dict[str, float] = {}
    per_owner: dict[int, int] = defaultdict(int)
    ready, stop = asyncio.Event(), asyncio.Event()
    floor = asyncio.create_task(_kafka_floor(settings, kafka_sent, kafka_seen, ready, stop))
    await ready.wait()
    viral_events = streams[viral_owner].events
    viral_before = len(viral_events)
    tick = 0.1
    per_tick = int(RATE * tick)
    async with Publisher(settings) as publisher:
        started = time.perf_counter()
        for step in range(int(SECONDS / tick)):
            batch: list[Any] = []
            keys: list[tuple[int, int] | None] = []
            for number in range(per_tick):
                liker = random.choice(likers)
                if number % 4 == 0:
                    batch.append(make(LikeAdded(photo_id=viral_photo, user_id=liker,
                                                owner_id=viral_owner), producer="bench"))
                    keys.append(None)
                    continue
                owner = regular[(step * per_tick + number) % len(regular)]
                batch.append(make(LikeAdded(photo_id=random.getrandbits(62), user_id=liker,
                                            owner_id=owner), producer="bench"))
                per_owner[owner] += 1
                keys.append((owner, per_owner[owner]))
            now = time.perf_counter()
            for event, key in zip(batch, keys, strict=True):
                kafka_sent[event.event_id] = now
                if key is not None:
                    sent_at[key] = now
            await publisher.publish_many(batch)
            pause = started + (step + 1) * tick - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
            k not in streams[o].unread_at for o, k in sent_at):
        await asyncio.sleep(0.2)
    stop.set()
    await floor
    latencies = [(streams[o].unread_at[k] - t) * 1000 for (o, k), t in sent_at.items()
                 if k in streams[o].unread_at]
    missing = len(sent_at) - len(latencies)
    floor_ms = [(kafka_seen[e] - t) * 1000 for e, t in kafka_sent.items() if e in kafka_seen]
    viral_window = [t for t in viral_events[viral_before:] if t <= started + elapsed + 1]
    print(f"(a) event -> unread count on the owner's open stream, {len(kafka_sent)} likes at "
          f"{len(kafka_sent) / elapsed:.0f}/s ({len(sent_at)} new entries for "
          f"{len(regular)} owners, {len(kafka_sent) - len(sent_at)} on one viral photo):")
    print(f"    notifications  p50 {pct(latencies, 50):7.1f} ms  p99 {pct(latencies, 99):7.1f} ms"
          f"  (target p99 <= 1000 ms){f'  {missing} never seen' if missing else ''}")
    print(f"    baseline: Kafka transport alone (publish -> a bare consumer)  "
          f"p50 {pct(floor_ms, 50):7.1f} ms  p99 {pct(floor_ms, 99):7.1f} ms")
    print(f"    viral photo's owner stream: {len(viral_window)} events in {elapsed:.0f} s "
          f"({len(viral_window) / elapsed:.1f}/s) for {len(kafka_sent) - len(sent_at)} likes "
          "(coalesced)")


async def live_fanout(settings: Settings, streams: dict[int, Stream], api_pid: int,
                      rss_before: int, rss_after: int) -> None:
    redis = redis_connect.client(settings)
    hot = HotInbox(redis, cap=settings.notify.hot_entries,
                   maxlen=settings.notify.stream_maxlen)
    gate = asyncio.Semaphore(100)
    direct: list[float] = []
    own: list[float] = []
    spans: list[float] = []
    rounds: list[float] = []
    try:
        for _round in range(ROUNDS):
            want = {uid: max(s.unread_at, default=0) + 1 for uid, s in streams.items()}
            written: dict[int, float] = {}
            start = time.perf_counter()

            async def put(uid: int, written: dict[int, float] = written) -> None:
                async with gate:
                    entry = inbox.Entry(notification_id=make_id(
                        int(time.time() * 1000) - 1_704_067_200_000, uid % 8192,
                        random.getrandbits(10)), type=inbox.FOLLOW,
                        actor_ids=[random.getrandbits(62)], actor_count=1,
                        updated_at=datetime.now(UTC))
                    await hot.put(uid, entry)
                    written[uid] = time.perf_counter()
            await asyncio.gather(*(put(uid) for uid in streams))
            spans.append((time.perf_counter() - start) * 1000)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(
                    want[u] not in s.unread_at for u, s in streams.items()):
                await asyncio.sleep(0.05)
            this_round = [(s.unread_at[want[u]] - start) * 1000 for u, s in streams.items()
                          if want[u] in s.unread_at]
            direct += this_round
            rounds.append(pct(this_round, 99))
            own += [(s.unread_at[want[u]] - written[u]) * 1000 for u, s in streams.items()
                    if want[u] in s.unread_at]
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()
    # End to end: one like for every stream's user, published at once through Kafka.
    want = {uid: max(s.unread_at, default=0) + 1 for uid, s in streams.items()}
    async with Publisher(settings) as publisher:
        start = time.perf_counter()
        await publisher.publish_many([make(LikeAdded(
            photo_id=random.getrandbits(62), user_id=random.getrandbits(62), owner_id=uid),
            producer="bench") for uid in streams])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
            want[u] not in s.unread_at for u, s in streams.items()):
        await asyncio.sleep(0.05)
    through = [(s.unread_at[want[u]] - start) * 1000 for u, s in streams.items()
               if want[u] in s.unread_at]
    per_stream = (rss_after - rss_before) / len(streams)
    print(f"(b) {len(streams)} concurrent SSE streams on one API process "
          f"(pid {api_pid}, RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB):")
    print(f"    memory per open stream: {per_stream:.1f} KiB")
    print(f"    notification written for all {len(streams)} at once (XADD + PUBLISH, "
          f"{pct(spans, 50):.0f} ms to write them) -> every stream has it, {ROUNDS} rounds: "
          f"p50 {pct(direct, 50):6.1f} ms  p99 {pct(direct, 99):6.1f} ms (target p99 <= 500 ms)")
    print(f"    p99 per round (the first on cold caches): "
          f"{', '.join(f'{r:.0f}' for r in rounds)} ms")
    print(f"    the same from each recipient's own write to its stream: "
          f"p50 {pct(own, 50):6.1f} ms  p99 {pct(own, 99):6.1f} ms")
    print(f"    end to end through Kafka and the processor ({len(through)}/{len(streams)} "
          f"seen): p50 {pct(through, 50):6.1f} ms  p99 {pct(through, 99):6.1f} ms")


async def big_inbox(settings: Settings, session: Session, port: int, actors: list[int]) -> None:
    owner = (await _register(session, 1, f"i{random.getrandbits(20):05x}"))[0]
    owned = [make_id(int(time.time() * 1000) - 1_704_067_200_000 - n, owner % 8192, n)
             for n in range(1, 41)]
    for photo_id in owned:
        await photos.mark_processed(session, _photo(photo_id, owner), datetime.now(UTC))
    ttl = settings.notify.retention_days * 86400
    gate = asyncio.Semaphore(64)
    base = datetime.now(UTC) - timedelta(days=20)
    kinds = (inbox.LIKE, inbox.LIKE, inbox.LIKE, inbox.COMMENT, inbox.FOLLOW)

    async def write(number: int) -> None:
        kind = kinds[number % len(kinds)]
        photo = owned[number % len(owned)] if kind != inbox.FOLLOW else None
        at = base + timedelta(seconds=number * 150)
        entry = inbox.Entry(
            notification_id=inbox.entry_id(at, f"g:{kind}:{photo or 0}:{number}"), type=kind,
            photo_id=photo, comment_id=number if kind == inbox.COMMENT else None,
            excerpt="nice" if kind == inbox.COMMENT else "",
            actor_ids=random.sample(actors, 3), actor_count=3 + number % 40, updated_at=at)
        async with gate:
            await inbox.put_entry(session, owner, entry, ttl)
    started = time.perf_counter()
    await asyncio.gather(*(write(n) for n in range(INBOX)))
    loaded = time.perf_counter() - started
    headers = {"Authorization": f"Bearer {mint(owner, settings)}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                 timeout=30) as http:
        async def timed(path: str, **params: int) -> list[float]:
            for _ in range(20):  # warm: the hot copy, the caches, the prepared statements
                (await http.get(path, params=params)).raise_for_status()
            out = []
            for _ in range(PAGE_REQUESTS):
                began = time.perf_counter()
                answer = await http.get(path, params=params)
                out.append((time.perf_counter() - began) * 1000)
                answer.raise_for_status()
            return out
        page = await timed("/v1/notifications", limit=20)
        first = (await http.get("/v1/notifications", params={"limit": 20})).json()["items"]
        unread = await timed("/v1/notifications/unread")
        card = await timed(f"/v1/photos/{owned[0]}")
    print(f"(c) a user with {INBOX} notifications (loaded in {loaded:.0f} s), "
          f"{PAGE_REQUESTS} sequential warm requests each:")
    print(f"    GET /v1/notifications?limit=20   p50 {pct(page, 50):6.1f} ms  "
          f"p99 {pct(page, 99):6.1f} ms  ({len(first)} grouped entries; target p99 <= 20 ms)")
    print(f"    GET /v1/notifications/unread     p50 {pct(unread, 50):6.1f} ms  "
          f"p99 {pct(unread, 99):6.1f} ms")
    print(f"    baseline GET /v1/photos/{{id}}     p50 {pct(card, 50):6.1f} ms  "
          f"p99 {pct(card, 99):6.1f} ms")


async def main() -> None:
    settings = get_settings()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    session = await asyncio.to_thread(cassandra.connect, settings)
    run = f"{random.getrandbits(20):05x}"
    log = settings.stack.state_dir / "logs" / "bench-notifications.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    recipients = await _register(session, STREAMS, run)
    actors = await _register(session, 30, run + "a")
    procs, port = await _services(settings, log)
    api_pid = procs[0].pid
    streams: dict[int, Stream] = {}
    try:
        await asyncio.sleep(2)
        rss_before = _rss_kib(api_pid)
        gate = asyncio.Semaphore(50)

        async def open_one(stream: Stream) -> None:
            async with gate:  # clients arrive over a moment, not in one instant
                stream.task = asyncio.create_task(stream.run())
                await stream.opened.wait()
        opening = time.perf_counter()
        for uid in recipients:
            streams[uid] = Stream(port, uid, mint(uid, settings))
        await asyncio.wait_for(asyncio.gather(*(open_one(s) for s in streams.values())), 300)
        print(f"{len(streams)} streams open in {time.perf_counter() - opening:.1f} s "
              f"({sum(s.refused for s in streams.values())} first answered 503, retried)")
        await asyncio.sleep(1)
        rss_after = _rss_kib(api_pid)
        # The processor has joined its group once a first like comes through.
        probe = recipients[-1]
        async with Publisher(settings) as publisher:
            await publisher.publish(make(LikeAdded(photo_id=random.getrandbits(62),
                                                   user_id=actors[0], owner_id=probe),
                                         producer="bench"))
        deadline = time.monotonic() + 90
        while 1 not in streams[probe].unread_at and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await engagement_to_unread(settings, streams, recipients[:OWNERS], actors)
        await live_fanout(settings, streams, api_pid, rss_before, rss_after)
        await big_inbox(settings, session, port, actors)
    finally:
        for stream in streams.values():
            if stream.task is not None:
                stream.task.cancel()
        await asyncio.gather(*(s.task for s in streams.values() if s.task),
                             return_exceptions=True)
        await stop_processes(procs, group=True)
        await asyncio.to_thread(session.cluster.shutdown)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
