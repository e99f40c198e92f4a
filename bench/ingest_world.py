"""The pieces of ``bench.ingest`` that are not the phases: the baseline, the author and
followers, and the watchers that see photos get processed and reach feeds."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from cassandra.cluster import Session

from api.feed import FeedReader
from bench.world import World, follow_world
from infra.connect import kafka
from infra.connect.redis import RedisClient
from infra.settings import MediaSettings, Settings
from processors.media.worker import render_image
from schemas.envelope import InvalidEvent, decode
from schemas.topics import MEDIA_PROCESSED
from sinks.redis_timelines import RedisTimelines

PRODUCER = "photostream-bench-ingest"


def _rendered(data: bytes, *, max_pixels: int, quality: int, avif_quality: int) -> int:
    return len(render_image(data, max_pixels, quality, avif_quality).derivatives)


def render_ceiling(photos: list[bytes], media: MediaSettings, seconds: float = 8.0) -> float:
    """Photos/s of the media processor's render task alone on all cores: the baseline of
    the run. Rendered with the processor's own settings (JPEG quality, the AVIF twins),
    so the ceiling is what the pipeline's render workers really do per photo."""
    workers = os.cpu_count() or 1
    _render_once = functools.partial(_rendered, max_pixels=media.max_pixels,
                                     quality=media.jpeg_quality, avif_quality=media.avif_quality)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render_once, photos[:workers]))  # warm the workers
        done, began = 0, time.monotonic()
        while time.monotonic() - began < seconds:
            batch = [photos[i % len(photos)] for i in range(done, done + workers * 4)]
            done += len(list(pool.map(_render_once, batch)))
        return done / (time.monotonic() - began)


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


async def make_world(settings: Settings, session: Session, redis: RedisClient,
                     followers: int) -> World:
    """A public author with ``followers`` followers whose Redis timelines exist (fan-out
    only delivers to built timelines, as it would for active users)."""
    world = await follow_world(settings, session, followers, producer=PRODUCER,
                               username_prefix="b")
    reader = FeedReader(session, redis, settings)
    for fan in world.followers:
        await reader.home(fan, limit=1)  # builds the timeline
    return world


class Tail:
    """When each photo's processed/failed event shows up on ``media.processed``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.wanted: set[int] = set()
        self.seen: dict[int, tuple[float, str]] = {}
        self.consumer: AIOKafkaConsumer
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Position at the end of every partition, so only new outcomes are seen."""
        self.consumer = kafka.consumer(self.settings, group_id=f"bench-tail-{os.getpid()}")
        await self.consumer.start()
        tps = [TopicPartition(MEDIA_PROCESSED.name, p) for p in range(MEDIA_PROCESSED.partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=100)
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


class FeedWatch:
    """Polls followers' Redis timelines (what ``/v1/feed`` reads) every ``interval``
    seconds and notes when each photo first appears in *every* follower's timeline."""

    def __init__(self, settings: Settings, redis: RedisClient, followers: Sequence[int],
                 interval: float = 0.02) -> None:
        self.timelines = RedisTimelines(redis, settings.timelines.redis_cap)
        self.followers = list(followers)
        self.interval = interval
        self.wanted: set[int] = set()
        self.seen: dict[int, float] = {}
        self._counts: dict[int, int] = {}
        self._known: list[set[int]] = [set() for _ in self.followers]

    async def run(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not self.wanted or self.wanted - set(self.seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.wanted - set(self.seen))} photos never "
                                   "reached every follower's feed")
            pages = await asyncio.gather(*(self.timelines.read(f, limit=100)
                                           for f in self.followers))
            now = time.monotonic()
            for known, page in zip(self._known, pages, strict=True):
                for photo_id in set(page) - known:
                    known.add(photo_id)
                    self._counts[photo_id] = self._counts.get(photo_id, 0) + 1
                    if self._counts[photo_id] == len(self.followers):
                        self.seen[photo_id] = now
            await asyncio.sleep(self.interval)
