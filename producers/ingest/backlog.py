"""Admission control for uploads: the media processor's backlog, read from Kafka.

Why: accepting an upload is cheap (one object PUT, one Kafka record) and processing it
is not (the renders), so a burst can queue minutes of work while every response still
says 202 in a few milliseconds, and upload-to-feed latency grows without anybody seeing
it. Refusing is only allowed *before* acceptance (an accepted upload is never lost), so
when the backlog is over ``max_backlog`` an upload answers 503 with ``Retry-After``
instead of queueing more, and every 202 says how many uploads are ahead of it and the
wait that implies.

The backlog is the media consumer group's lag on the upload topic: the same figure
``photostream topics lag`` and ``photostream status`` print, computed from committed
offsets, so every ingest replica sees the same queue without sharing memory. A watcher
task refreshes it every ``poll_seconds``; uploads accepted since the last refresh are
added locally so a burst between two refreshes is not invisible. If Kafka cannot be
read, admission stays open: availability first, and the upload itself reports a Kafka
outage precisely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.connect import kafka
from infra.http.problems import Problem
from infra.metrics import INGEST_BACKLOG, INGEST_REFUSED
from infra.settings import Settings
from schemas.topics import MEDIA_GROUP, MEDIA_UPLOADED

log = logging.getLogger(__name__)

#: Seconds of history the processing rate is measured over.
RATE_WINDOW_S = 15.0
#: Bounds of the Retry-After advice (seconds).
RETRY_MIN_S, RETRY_MAX_S = 1, 60


@dataclass(frozen=True)
class Queue:
    """What an accepted upload is told: uploads ahead of it, and the wait they imply."""

    ahead: int
    rate: float | None
    """Uploads the media processors finish per second (None until measured)."""

    @property
    def wait_seconds(self) -> float | None:
        if self.rate is None or self.rate <= 0:
            return None
        return self.ahead / self.rate


def retry_after(backlog: int, limit: int, rate: float | None) -> int:
    """Seconds until the backlog is back under ``limit`` at ``rate`` (bounded advice)."""
    if not rate or rate <= 0:
        return 5
    return max(RETRY_MIN_S, min(RETRY_MAX_S, math.ceil((backlog - limit + 1) / rate)))


class RateMeter:
    """Processed uploads per second, from (time, committed total) samples."""

    def __init__(self, window: float = RATE_WINDOW_S) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, committed: int) -> None:
        self.samples.append((at, committed))
        while len(self.samples) > 2 and at - self.samples[0][0] > self.window:
            self.samples.popleft()

    @property
    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return max(0, c1 - c0) / (t1 - t0) if t1 > t0 else None


class Backlog:
    """The media group's lag on the upload topic, refreshed in the background."""

    def __init__(self, settings: Settings, group: str | None = None) -> None:
        """``group``: whose lag counts (default the media processor's group)."""
        self.limit = settings.ingest.max_backlog
        self.poll_seconds = settings.ingest.backlog_poll_seconds
        self.settings = settings
        self.group = group or MEDIA_GROUP.group_id
        self.tps = [TopicPartition(MEDIA_UPLOADED.name, p)
                    for p in range(MEDIA_UPLOADED.partitions)]
        self.lag: int | None = None
        self.accepted_since_poll = 0
        self.meter = RateMeter()
        self._task: asyncio.Task[None] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._watch(), name="ingest-backlog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_clients()

    @property
    def current(self) -> Queue:
        ahead = (self.lag or 0) + self.accepted_since_poll
        return Queue(ahead, self.meter.rate)

    def admit(self) -> None:
        """Raise the 503 problem when the backlog is full; cheap (no I/O)."""
        if not self.enabled or self.lag is None:
            return
        queue = self.current
        if queue.ahead < self.limit:
            return
        INGEST_REFUSED.labels(reason="backlog").inc()
        seconds = retry_after(queue.ahead, self.limit, queue.rate)
        wait = "" if queue.wait_seconds is None else f" (about {queue.wait_seconds:.0f} s of work)"
        raise Problem(
            503, "backlog-full",
            f"{queue.ahead} uploads are waiting to be processed{wait}, over the limit of "
            f"{self.limit}; nothing was stored, retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
            extra={"queued": queue.ahead, "limit": self.limit, "retry_after": seconds})

    def accepted(self) -> Queue:
        """Count an accepted upload; returns the queue it joined (itself excluded)."""
        queue = self.current
        self.accepted_since_poll += 1
        return queue

    def describe(self) -> str:
        """One line for ``/healthz`` (what ``photostream status`` prints)."""
        if not self.enabled:
            return "admission control off"
        if self.lag is None:
            return "media backlog unknown (Kafka not read yet)"
        queue = self.current
        rate = "rate unknown" if queue.rate is None else f"{queue.rate:.1f}/s processed"
        wait = "" if queue.wait_seconds is None else f", ~{queue.wait_seconds:.0f} s of work"
        state = "refusing uploads" if queue.ahead >= self.limit else "accepting"
        return f"media backlog {queue.ahead}/{self.limit} ({rate}{wait}): {state}"

    async def _watch(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka unreachable: keep admitting, try again
                log.warning("ingest backlog: cannot read media lag: %s", exc)
                self.lag = None
                await self._close_clients()
            await asyncio.sleep(self.poll_seconds)

    async def refresh(self) -> None:
        """Read committed offsets and log ends once; updates lag, rate and the gauge."""
        admin, reader = await self._clients()
        # Uploads accepted while the offsets are read may or may not be in them: keep
        # counting those (over-counting for one poll errs on the side of refusing).
        counted = self.accepted_since_poll
        offsets = await admin.list_consumer_group_offsets(self.group, partitions=self.tps)
        start = await reader.beginning_offsets(self.tps)
        end = await reader.end_offsets(self.tps)
        committed = {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
        positions = {tp: max(committed.get(tp, start[tp]), start[tp]) for tp in self.tps}
        self.lag = sum(max(0, end[tp] - positions[tp]) for tp in self.tps)
        self.accepted_since_poll -= counted
        self.meter.add(time.monotonic(), sum(positions.values()))
        INGEST_BACKLOG.set(self.lag)

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._reader is None:
            admin = kafka.admin(self.settings)
            reader = kafka.consumer(self.settings,
                                    group_id=f"{self.settings.kafka.client_id}-ingest-backlog")
            try:
                await admin.start()
                await reader.start()
            except BaseException:
                await admin.close()
                await reader.stop()
                raise
            self._admin, self._reader = admin, reader
        return self._admin, self._reader

    async def _close_clients(self) -> None:
        admin, reader, self._admin, self._reader = self._admin, self._reader, None, None
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()
        with contextlib.suppress(Exception):
            if reader is not None:
                await reader.stop()
