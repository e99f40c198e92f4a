"""``photostream tail``: follow a topic and see its records decoded, one per line.

Reading raw JSON with ``kcat`` tells an operator neither whether a record is a valid
event nor, for the dead-letter topic, what the wrapped original was; here every record
goes through the same decoders the processors use (``schemas.envelope.decode``,
``schemas.deadletter.decode_dead_letter``), so what is shown is what a processor sees,
and an undecodable record is shown with the reason instead of being skipped.

The reader assigns partitions directly and never commits: tailing leaves no consumer
group behind and moves no processor's offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from infra.settings import Settings
from operate.ops.cluster import admin_client, offset_bounds, partitions_of, reader, require_topic
from operate.ops.deadletters import show_bytes
from schemas.deadletter import decode_dead_letter
from schemas.envelope import Event, decode
from schemas.errors import InvalidEvent
from schemas.payload import Payload
from schemas.topics import DEADLETTERS


@dataclass(frozen=True)
class Tailed:
    """One record as ``tail`` shows it."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: str
    event_type: str | None
    """The event type; for a dead letter, the type of the original (None if undecodable)."""
    text: str
    """The decoded record on one line, without the position prefix."""

    def line(self) -> str:
        at = self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{self.partition}:{self.offset} {at} key={self.key} {self.text}"


def _event_text(event: Event[Payload]) -> str:
    payload = msgspec.json.encode(event.payload).decode()
    return f"{event.type} v{event.version} id={event.event_id} {payload}"


def _decode_event(value: bytes | None) -> tuple[str | None, str]:
    try:
        event = decode(value)
    except InvalidEvent as exc:
        return None, f"INVALID ({exc}) value={show_bytes(value)}"
    return event.type, _event_text(event)


def _decode_dead_letter(value: bytes | None) -> tuple[str | None, str]:
    try:
        letter = decode_dead_letter(value or b"")
    except InvalidEvent as exc:
        return None, f"INVALID dead letter ({exc}) value={show_bytes(value)}"
    original_type, original = _decode_event(letter.value)
    kind = letter.error_type.rsplit(".", 1)[-1]
    error = " ".join(f"{kind}: {letter.error}".split())
    return original_type, (f"DEAD LETTER from {letter.processor} of "
                           f"{letter.topic}[{letter.partition}]@{letter.offset} after "
                           f"{letter.attempts} attempt(s): {error} | original: {original}")


def decode_record(record: ConsumerRecord[bytes, bytes]) -> Tailed:
    """Decode one record of any photostream topic (the dead-letter topic included)."""
    decoder = _decode_dead_letter if record.topic == DEADLETTERS.name else _decode_event
    event_type, text = decoder(record.value)
    return Tailed(record.topic, record.partition, record.offset,
                  datetime.fromtimestamp(record.timestamp / 1000, UTC),
                  show_bytes(record.key), event_type, text)


@dataclass(frozen=True)
class TailOptions:
    from_beginning: bool = False
    key: str | None = None
    event_type: str | None = None
    max_records: int | None = None
    """Stop after this many shown records (None: never)."""
    idle_timeout: float | None = None
    """Stop after this many seconds without a shown record (None: never)."""

    def matches(self, tailed: Tailed) -> bool:
        return ((self.key is None or tailed.key == self.key)
                and (self.event_type is None or tailed.event_type == self.event_type))


async def tail(settings: Settings, topic: str, options: TailOptions,
               on_ready: Callable[[int], None] | None = None) -> AsyncIterator[Tailed]:
    """Decoded records of ``topic`` matching ``options``, oldest first per partition.

    ``on_ready(partitions)`` is called once the reader is positioned, so a caller knows
    that anything published from then on will be shown.
    """
    async with admin_client(settings) as admin:
        tps = partitions_of([await require_topic(admin, topic)])
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp] if options.from_beginning else end[tp])
        if on_ready is not None:
            on_ready(len(tps))
        async for tailed in _follow(consumer, tps, options):
            yield tailed


async def _follow(consumer: AIOKafkaConsumer, tps: list[TopicPartition],
                  options: TailOptions) -> AsyncIterator[Tailed]:
    loop = asyncio.get_running_loop()
    shown = 0
    last = loop.time()
    while options.max_records is None or shown < options.max_records:
        if options.idle_timeout is not None and loop.time() - last > options.idle_timeout:
            return
        batches = await consumer.getmany(*tps, timeout_ms=200)
        for batch in batches.values():
            for record in batch:
                tailed = decode_record(record)
                if not options.matches(tailed):
                    continue
                yield tailed
                shown += 1
                last = loop.time()
                if options.max_records is not None and shown >= options.max_records:
                    return
