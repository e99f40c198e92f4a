"""The consumer loop every processor runs on: at-least-once, explicit commit points.

Why not faust agents? faust acks a message as soon as the agent has *seen* it, even
when the agent raises, and its offset tracking has known bugs with ``concurrency > 1``
(faust-streaming issues #527 and #606; measured here, see the README). For an upload
pipeline whose promise is "an accepted upload is never lost", the commit must come
strictly *after* the outputs are durable. So processors are built directly on aiokafka,
in the style of getsentry/arroyo:

    poll a batch -> decode -> handle (per partition, in order) -> dead-letter the poison
    -> flush outputs -> commit the batch's offsets (at most every ``commit_interval_ms``)

A processor whose effects reduce well over many events (counts of one photo, say) sets
``batched`` and gets each partition's run of decoded events at once in ``handle_run``
(arroyo's "reduce" step): one read and one write per key per batch instead of one per
event. When a run fails for a reason that is not transient, the runner replays it one
event at a time through ``handle``, so the one poison record is dead-lettered and the
rest still apply.

A failure of *our* dependencies (Cassandra, MinIO, Redis, Kafka unreachable) is
transient: the batch is retried with backoff and nothing is committed, so a restart or
a rebalance re-delivers it. Commits are spaced (Kafka Streams' ``commit.interval.ms``):
a batch's offsets become committable once its outputs are durable and are committed
with the next due commit, before partitions are revoked and before the consumer stops;
a crash in between redelivers a little more, never loses an output.

A failure caused by the *record* (bad JSON, unknown type,
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

from infra import metrics
from infra.connect import kafka
from infra.logging_setup import log_context
from infra.settings import Settings
from processors.deadletters import DeadLetterWriter
from processors.errors import is_transient
from schemas.envelope import InvalidEvent, decode

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
#: The ``type`` label of records that are not valid events.
INVALID = "invalid"


@dataclass(frozen=True)
class Message:
    """A decoded event together with where it came from (for dead letters and logs)."""

    event: Any
    record: ConsumerRecord[bytes, bytes]


def _ids(payload: Any) -> dict[str, int | None]:
    """The photo and (acting) user of an event, for log lines about it."""
    user = next((getattr(payload, f) for f in ("user_id", "owner_id", "follower_id")
                 if hasattr(payload, f)), None)
    return {"photo_id": getattr(payload, "photo_id", None), "user_id": user}


class Processor(ABC):
    """One stream processor: a consumer group, its topics and what to do per event."""

    name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]]
    #: Handle up to this many partitions' runs at once (order within one is kept).
    partition_concurrency: ClassVar[int] = 8
    max_records: ClassVar[int] = 500
    #: Hand each partition's run of events to ``handle_run`` at once (module doc).
    batched: ClassVar[bool] = False
    #: Longest a batch may take before Kafka gives its partitions to another member.
    max_poll_interval_ms: ClassVar[int] = 300_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open clients (called once before the first batch)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close clients (called once after the last commit)."""

    @abstractmethod
    async def handle(self, message: Message) -> None:
        """Make the event's effects durable. Must be idempotent: it may run twice."""

    async def handle_run(self, messages: Sequence[Message]) -> None:
        """Make a partition run's effects durable (``batched`` processors override it).

        Must be idempotent as a whole and leave the same state as ``handle`` applied to
        each message in order: the runner falls back to that when the run fails.
        """
        for message in messages:
            await self.handle(message)

    async def flush(self) -> None:  # noqa: B027 - optional hook
        """Make everything ``handle`` buffered durable; runs before each commit."""


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Finish and commit the batch in flight before partitions move to another member."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.runner.batch_lock:  # the batch in flight finishes first
            await self.runner.commit_pending()
        for tp in revoked:  # their lag is now the new owner's to report
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.runner.processor.name, tp.topic,
                                            str(tp.partition))

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
        self.pending: dict[TopicPartition, int] = {}
        """Offsets whose outputs are durable, not committed yet (the next due commit's)."""
        self.committed_at = time.monotonic()
        self.consuming = False
        """True between the consumer's start and stop (what ``/readyz`` reports)."""
        self.failure: BaseException | None = None
        """Why ``run`` ended abnormally, if it did (what ``/healthz`` reports)."""

    async def run(self) -> None:
        """Consume until ``stop()``; commits only after outputs are durable."""
        self.consumer = kafka.consumer(self.settings, group_id=self.processor.name,
                                       max_poll_records=self.processor.max_records,
                                       max_poll_interval_ms=self.processor.max_poll_interval_ms)
        self.consumer.subscribe(list(self.processor.topics), listener=_CommitOnRevoke(self))
        await self.dead_letters.start()
        await self.processor.start()
        await self.consumer.start()
        self.consuming = True
        log.info("%s: consuming %s", self.processor.name, ", ".join(self.processor.topics))
        try:
            while not self.stopping.is_set():
                batch = await self._poll()
                async with self.batch_lock:
                    if batch:
                        await self._process(batch)
                    if self._commit_due():
                        await self.commit_pending()
                await self._report_lag()
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self.consuming = False
            with contextlib.suppress(Exception):  # outputs are durable: keep the progress
                await self.commit_pending()
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

    async def _report_lag(self) -> None:
        """Lag per assigned partition: high watermark minus our (committed) position."""
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue  # nothing fetched from it yet
            position = await self.consumer.position(tp)
            metrics.CONSUMER_LAG.labels(self.processor.name, tp.topic, str(tp.partition)).set(
                max(0, end - position))

    async def _process(self, batch: Batch) -> None:
        started = time.perf_counter()
        gate = asyncio.Semaphore(self.processor.partition_concurrency)

        async def run_partition(records: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with gate:
                if self.processor.batched:
                    await self._handle_run(records)
                    return
                for record in records:
                    await self._handle_record(record)

        await asyncio.gather(*(run_partition(records) for records in batch.values()))
        await self._until_done(self.processor.flush, "flush")
        await self._until_done(self.dead_letters.flush, "dead-letter flush")
        self.pending.update({tp: records[-1].offset + 1 for tp, records in batch.items()})
        self.processed += sum(len(r) for r in batch.values())
        metrics.BATCH_SECONDS.labels(self.processor.name).observe(time.perf_counter() - started)

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        with log_context(processor=self.processor.name, topic=record.topic,
                         partition=record.partition, offset=record.offset):
            await self._decode_and_handle(record)

    async def _handle_run(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """A batched processor's run: decode all, apply at once, else one by one."""
        decoded = [(record, await self._decode(record)) for record in records]
        messages = [Message(event=event, record=record)
                    for record, event in decoded if event is not None]
        if not messages:
            return
        name = self.processor.name
        attempt = 0
        started = time.perf_counter()
        while True:
            attempt += 1
            try:
                with log_context(processor=name, topic=records[0].topic,
                                 partition=records[0].partition):
                    await self.processor.handle_run(messages)
                break
            except Exception as exc:
                if is_transient(exc):
                    await self._wait_transient(exc, attempt, "handle_run")
                    continue
                log.warning("%s: run of %d failed (%r); applying it one event at a time",
                            name, len(messages), exc)
                for message in messages:
                    await self._handle_record(message.record)
                return
        share = (time.perf_counter() - started) / len(messages)  # each event's part of it
        for message in messages:
            labels = (name, message.record.topic, message.event.type)
            metrics.EVENTS_CONSUMED.labels(*labels).inc()
            metrics.EVENTS_PROCESSED.labels(*labels).inc()
            metrics.PROCESSING_SECONDS.labels(*labels).observe(share)

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> Any | None:
        """The record's event, or None after dead-lettering a record that is not one."""
        try:
            return decode(record.value or b"")
        except InvalidEvent as exc:
            name = self.processor.name
            metrics.EVENTS_CONSUMED.labels(name, record.topic, INVALID).inc()
            log.warning("%s: invalid event at %s[%d]@%d: %s", name,
                        record.topic, record.partition, record.offset, exc)
            await self.dead_letters.add(record, exc, attempts=1)
            metrics.EVENTS_DEAD_LETTERED.labels(name, record.topic, INVALID).inc()
            return None

    async def _decode_and_handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        event = await self._decode(record)
        if event is None:
            return
        labels = (self.processor.name, record.topic, event.type)
        metrics.EVENTS_CONSUMED.labels(*labels).inc()
        with (log_context(event_id=event.event_id, event_type=event.type,
                          **_ids(event.payload)),
              metrics.PROCESSING_SECONDS.labels(*labels).time()):
            await self._handle_event(Message(event=event, record=record), labels)

    async def _handle_event(self, message: Message, labels: tuple[str, str, str]) -> None:
        record = message.record
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.processor.handle(message)
                metrics.EVENTS_PROCESSED.labels(*labels).inc()
                return
            except Exception as exc:
                metrics.EVENTS_FAILED.labels(*labels).inc()
                if is_transient(exc):
                    await self._wait_transient(exc, attempt, "handle")
                    continue
                if attempt >= self.max_attempts:
                    log.exception("%s: giving up on %s[%d]@%d after %d attempts",
                                  self.processor.name, record.topic, record.partition,
                                  record.offset, attempt)
                    await self.dead_letters.add(record, exc, attempts=attempt)
                    metrics.EVENTS_DEAD_LETTERED.labels(*labels).inc()
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

    def _commit_due(self) -> bool:
        interval = self.settings.kafka.commit_interval_ms / 1000
        return bool(self.pending) and time.monotonic() - self.committed_at >= interval

    async def commit_pending(self) -> None:
        """Commit every offset whose outputs are durable (none: nothing to do)."""
        if not self.pending:
            return
        offsets, self.pending = self.pending, {}
        self.committed_at = time.monotonic()
        await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        outcome = "ok"
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError, IllegalStateError) as exc:
            outcome = "skipped"
            # The partitions moved on: their new owner re-processes from the last commit,
            # which is safe because every effect is idempotent.
            log.warning("%s: commit skipped (%r); records will be redelivered",
                        self.processor.name, exc)
        except KafkaError as exc:
            outcome = "failed"
            log.warning("%s: commit failed (%r); records will be redelivered",
                        self.processor.name, exc)
        metrics.COMMITS.labels(self.processor.name, outcome).inc()


def _stop_all(runners: Sequence[Runner]) -> None:
    for runner in runners:
        runner.stop()


def _probes(runners: Sequence[Runner]) -> Any:
    """``/healthz``: no runner crashed; ``/readyz``: every runner is consuming."""
    from infra.metrics_http import probe_app

    async def healthy() -> tuple[bool, str]:
        failed = [f"{r.processor.name}: {r.failure!r}" for r in runners if r.failure]
        return not failed, "; ".join(failed) or "running"

    async def ready() -> tuple[bool, str]:
        waiting = [r.processor.name for r in runners
                   if not r.consuming or r.stopping.is_set()]
        return not waiting, ("not consuming: " + ", ".join(waiting)) if waiting else "consuming"

    return probe_app(healthy, ready, {"service": "processors",
                                      "processors": [r.processor.name for r in runners]})


async def run_processors(processors: Sequence[Processor], settings: Settings,
                         *, install_signal_handlers: bool = True,
                         metrics_port: int | None = None,
                         stop: asyncio.Event | None = None) -> None:
    """Run processors side by side until SIGINT/SIGTERM, then drain and commit cleanly.

    With ``metrics_port`` (0: any free port) the process also serves ``/metrics``,
    ``/healthz`` and ``/readyz`` there until the last runner has committed and stopped.
    Setting ``stop`` (for embedding callers) stops them as a signal would.
    """
    from infra.metrics_http import start_server, stop_server

    runners = [Runner(p, settings) for p in processors]
    if install_signal_handlers:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop_all, runners)
    probe = None
    if metrics_port is not None:
        try:
            probe = await start_server(_probes(runners), settings.metrics_host, metrics_port)
        except OSError as exc:
            # A second processor process on the same host: better metrics elsewhere than
            # a processor that will not start (a crash loop stops the pipeline).
            log.warning("%s; using a free port instead (set PHOTOSTREAM_METRICS_PORT or "
                        "--metrics-port per process)", exc)
            probe = await start_server(_probes(runners), settings.metrics_host, 0)
        bound = probe[0].servers[0].sockets[0].getsockname()[1]
        log.info("metrics, health and readiness on http://%s:%d/metrics",
                 settings.metrics_host, bound)
    started = time.monotonic()
    watcher = None
    if stop is not None:
        async def watch(event: asyncio.Event) -> None:
            await event.wait()
            _stop_all(runners)
        watcher = asyncio.create_task(watch(stop))
    try:
        await asyncio.gather(*(r.run() for r in runners))
    finally:
        if watcher is not None:
            watcher.cancel()
        log.info("processors ran %.0fs: %s", time.monotonic() - started,
                 ", ".join(f"{r.processor.name}={r.processed}" for r in runners))
        if probe is not None:
            await stop_server(*probe)
