"""Sustained uploads through HTTP ingest to processed events, on the whole local stack.

    python -m bench.ingest [--photos 300] [--concurrency 16]

Starts the real ingest service and media processor as subprocesses (as an operator
would), uploads generated 1080x1350 photographic JPEGs over HTTP and tails
``photostream.media.processed`` for their outcome. Prints accepted/s, processed/s and
the 202 -> processed latency (p50/p99).

Baseline in the same run: the render ceiling, i.e. ``render_photo`` alone on every core
of this machine with no HTTP, Kafka, MinIO or Cassandra. The pipeline can never beat it
on one box, so ``pipeline / ceiling`` says how much the plumbing costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.media import synthetic_photo
from infra.connect import kafka
from infra.http.auth import mint
from infra.settings import Settings, get_settings
from infra.stack import manager
from processors.media.derivatives import render_photo
from schemas.envelope import InvalidEvent, decode
from schemas.topics import MEDIA_PROCESSED

REPO = Path(__file__).resolve().parents[1]
PHOTOSTREAM = str(REPO / ".venv" / "bin" / "photostream")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _render_once(data: bytes) -> int:
    return len(render_photo(data, max_pixels=50_000_000).derivatives)


def render_ceiling(photos: list[bytes], seconds: float = 8.0) -> float:
    """Photos/s of render_photo alone on all cores (the baseline)."""
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render_once, photos[:workers]))  # warm the workers
        done, began = 0, time.monotonic()
        while time.monotonic() - began < seconds:
            batch = [photos[i % len(photos)] for i in range(done, done + workers * 4)]
            done += len(list(pool.map(_render_once, batch)))
        return done / (time.monotonic() - began)


class Tail:
    """Records when each photo's processed/failed event shows up; runs until all of
    ``wanted`` (filled in once the uploads are accepted) have been seen."""

    def __init__(self, settings: Settings, wanted: set[int]) -> None:
        self.settings, self.wanted = settings, wanted
        self.seen: dict[int, tuple[float, str]] = {}
        self.consumer: AIOKafkaConsumer

    async def start(self) -> None:
        """Position at the end of every partition, so only new outcomes are seen."""
        self.consumer = kafka.consumer(self.settings, group_id=f"bench-tail-{os.getpid()}")
        await self.consumer.start()
        tps = [TopicPartition(MEDIA_PROCESSED.name, p) for p in range(MEDIA_PROCESSED.partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)

    async def run(self) -> None:
        try:
            while not self.wanted or self.wanted - set(self.seen):
                batch = await self.consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for records in batch.values():
                    for record in records:
                        self._note(record.value or b"", now)
        finally:
            await self.consumer.stop()

    def _note(self, raw: bytes, now: float) -> None:
        try:
            event = decode(raw)
        except InvalidEvent:
            return
        photo_id = getattr(event.payload, "photo_id", None)
        if isinstance(photo_id, int) and photo_id not in self.seen:
            self.seen[photo_id] = (now, event.type)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PHOTOSTREAM, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


async def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"ingest at {base} did not become ready")


async def upload_all(base: str, token: str, photos: list[bytes], count: int,
                     concurrency: int) -> dict[int, float]:
    accepted: dict[int, float] = {}
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(i: int) -> None:
            async with gate:
                response = await client.post(
                    "/v1/media", headers={"Authorization": f"Bearer {token}"},
                    files={"file": (f"p{i}.jpg", photos[i % len(photos)], "image/jpeg")},
                    data={"caption": f"bench photo {i} #bench"},
                )
                response.raise_for_status()
                accepted[int(response.json()["photo_id"])] = time.monotonic()

        await asyncio.gather(*(one(i) for i in range(count)))
    return accepted


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def run(count: int, concurrency: int) -> None:
    settings = get_settings()
    await manager.up(settings)
    print(f"generating photos; machine: {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    photos = [synthetic_photo(1080, 1350, grain=0.0, detail_div=10, quality=90 - i)
              for i in range(8)]
    ceiling = render_ceiling(photos)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PHOTOSTREAM_INGEST_PORT": str(port), "PHOTOSTREAM_LOG_LEVEL": "WARNING"}
    procs = [start(["ingest"], env), start(["process", "media"], env)]
    try:
        await wait_healthy(base)
        token = mint(900_001, settings)
        # Warm-up: the processor joins its group and loads its pool.
        await upload_all(base, token, photos, 4, 4)
        await asyncio.sleep(3)

        tail = Tail(settings, set())
        await tail.start()
        tail_task = asyncio.create_task(tail.run())
        began = time.monotonic()
        accepted = await upload_all(base, token, photos, count, concurrency)
        accept_done = time.monotonic()
        tail.wanted = set(accepted)
        await asyncio.wait_for(tail_task, timeout=600)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)

    last = max(t for t, _ in tail.seen.values())
    latencies = [(tail.seen[p][0] - t) * 1000 for p, t in accepted.items()]
    failed = sum(1 for _, kind in tail.seen.values() if kind != "photo.processed")
    pipeline = count / (last - began)
    print()
    print(f"{'what':<44} {'value':>12}")
    print("-" * 58)
    print(f"{'photos uploaded (1080x1350 JPEG, ~200 KB)':<44} {count:>12}")
    print(f"{'upload concurrency':<44} {concurrency:>12}")
    print(f"{'accepted (202) per second':<44} {count / (accept_done - began):>12.1f}")
    print(f"{'processed per second, sustained (pipeline)':<44} {pipeline:>12.1f}")
    print(f"{'failed events':<44} {failed:>12}")
    print(f"{'latency 202 -> processed  p50 (ms)':<44} {pct(latencies, 50):>12.0f}")
    print(f"{'latency 202 -> processed  p99 (ms)':<44} {pct(latencies, 99):>12.0f}")
    print(f"{'baseline: render ceiling, all cores (/s)':<44} {ceiling:>12.1f}")
    print(f"{'pipeline / render ceiling':<44} {pipeline / ceiling:>12.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    asyncio.run(run(args.photos, args.concurrency))


if __name__ == "__main__":
    main()
