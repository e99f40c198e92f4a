"""The consumer loop every processor runs on: at-least-once, explicit commit points.

Why not faust agents? faust acks a message as soon as the agent has *seen* it, even
when the agent raises, and its offset tracking has known bugs with ``concurrency > 1``
(faust-streaming issues #606 and #175). For an upload pipeline whose promise is "an
accepted upload is never lost", the commit must come strictly *after* the outputs are
durable. So processors are built directly on aiokafka, in the style of getsentry/arroyo:

    poll a batch -> decode -> handle (per partition, in order) -> dead-letter the poison
    -> flush outputs -> commit the batch's offsets

A failure of *our* dependencies (Cassandra, MinIO, Redis, Kafka unreachable) is
transient: the batch is retried with backoff and nothing is committed, so a restart or
a rebalance re-delivers it. A failure caused by the *record* (bad JSON, unknown type,
an exception the handler keeps raising for this one message) goes to the dead-letter
topic with the original bytes, and the consumer moves on: no crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    RebalanceInProgressError,
)

from infra.connect import kafka
from infra.settings import Settings
from processors.deadletters import DeadLetterWriter
from processors.errors import is_transient
from schemas.envelope import InvalidEvent, decode

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@dataclass(frozen=True)
class Message:
    """A decoded event together with where it came from (for dead letters and logs)."""

    event: Any
    record: ConsumerRecord[bytes, bytes]


class Processor(ABC):
    """One stream processor: a consumer group, its topics and what to do per event."""

    name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]]
    #: Handle up to this many partitions' runs at once (order within one is kept).
    partition_concurrency: ClassVar[int] = 8
    max_records: ClassVar[int] = 500

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open clients (called once before the first batch)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close clients (called once after the last commit)."""

    @abstractmethod
    async def handle(self, message: Message) -> None:
        """Make the event's effects durable. Must be idempotent: it may run twice."""

    async def flush(self) -> None:  # noqa: B027 - optional hook
        """Make everything ``handle`` buffered durable; runs before each commit."""


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Finish and commit the batch in flight before partitions move to another member."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.runner.batch_lock:
            pass  # the batch holding the lock commits before releasing it

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("%s: assigned %s", self.runner.processor.name, sorted(map(str, assigned)))


class Runner:
    """Drives one Processor: the poll/handle/flush/commit loop and clean shutdown."""

    def __init__(self, processor: Processor, settings: Settings, *,
                 max_attempts: int = 3, backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.processor = processor
        self.settings = settings
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.batch_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.dead_letters = DeadLetterWriter(settings, processor.name)
        self.processed = 0

    async def run(self) -> None:
        """Consume until ``stop()``; commits only after outputs are durable."""
        self.consumer = kafka.consumer(self.settings, group_id=self.processor.name,
                                       max_poll_records=self.processor.max_records)
        self.consumer.subscribe(list(self.processor.topics), listener=_CommitOnRevoke(self))
        await self.dead_letters.start()
        await self.processor.start()
        await self.consumer.start()
        log.info("%s: consuming %s", self.processor.name, ", ".join(self.processor.topics))
        try:
            while not self.stopping.is_set():
                batch = await self._poll()
                if batch:
                    async with self.batch_lock:
                        await self._process(batch)
        finally:
            await self.consumer.stop()
            await self.processor.stop()
            await self.dead_letters.stop()
            log.info("%s: stopped after %d events", self.processor.name, self.processed)

    def stop(self) -> None:
        self.stopping.set()

    async def _poll(self) -> Batch:
        assert self.consumer is not None
        poll = asyncio.ensure_future(self.consumer.getmany(timeout_ms=500))
        stop = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if poll not in done:
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
            return {}
        return poll.result()

    async def _process(self, batch: Batch) -> None:
        gate = asyncio.Semaphore(self.processor.partition_concurrency)

        async def run_partition(records: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with gate:
                for record in records:
                    await self._handle_record(record)

        await asyncio.gather(*(run_partition(records) for records in batch.values()))
        await self._until_done(self.processor.flush, "flush")
        await self._until_done(self.dead_letters.flush, "dead-letter flush")
        await self._commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        self.processed += sum(len(r) for r in batch.values())

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = decode(record.value or b"")
        except InvalidEvent as exc:
            log.warning("%s: invalid event at %s[%d]@%d: %s", self.processor.name,
                        record.topic, record.partition, record.offset, exc)
            await self.dead_letters.add(record, exc, attempts=1)
            return
        message = Message(event=event, record=record)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.processor.handle(message)
                return
            except Exception as exc:
                if is_transient(exc):
                    await self._wait_transient(exc, attempt, "handle")
                    continue
                if attempt >= self.max_attempts:
                    log.exception("%s: giving up on %s[%d]@%d after %d attempts",
                                  self.processor.name, record.topic, record.partition,
                                  record.offset, attempt)
                    await self.dead_letters.add(record, exc, attempts=attempt)
                    return
                log.warning("%s: attempt %d failed at %s[%d]@%d: %r", self.processor.name,
                            attempt, record.topic, record.partition, record.offset, exc)
                await asyncio.sleep(self.backoff * attempt)

    async def _until_done(self, step: Any, what: str) -> None:
        """Retry a flush until it succeeds: committing without it would lose outputs."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await step()
                return
            except Exception as exc:
                await self._wait_transient(exc, attempt, what)

    async def _wait_transient(self, exc: BaseException, attempt: int, what: str) -> None:
        delay = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 10))
        log.warning("%s: %s failed (%r); retrying in %.1fs without committing",
                    self.processor.name, what, exc, delay)
        await asyncio.sleep(delay)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError, IllegalStateError) as exc:
            # The partitions moved on: their new owner re-processes from the last commit,
            # which is safe because every effect is idempotent.
            log.warning("%s: commit skipped (%r); records will be redelivered",
                        self.processor.name, exc)
        except KafkaError as exc:
            log.warning("%s: commit failed (%r); records will be redelivered",
                        self.processor.name, exc)


def _stop_all(runners: Sequence[Runner]) -> None:
    for runner in runners:
        runner.stop()


async def run_processors(processors: Sequence[Processor], settings: Settings,
                         *, install_signal_handlers: bool = True) -> None:
    """Run processors side by side until SIGINT/SIGTERM, then drain and commit cleanly."""
    runners = [Runner(p, settings) for p in processors]
    if install_signal_handlers:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop_all, runners)
    started = time.monotonic()
    try:
        await asyncio.gather(*(r.run() for r in runners))
    finally:
        log.info("processors ran %.0fs: %s", time.monotonic() - started,
                 ", ".join(f"{r.processor.name}={r.processed}" for r in runners))
