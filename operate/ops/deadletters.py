"""Inspect and replay the dead-letter topic (``photostream.deadletters``).

A dead letter keeps the original record byte-exact (``schemas/deadletter.py``), so once
the cause is fixed (a processor bug, a missing upstream field) the operator replays it:
the original key, value and headers are re-published to the original topic, to the
original partition, and the processor sees it again as if it had just arrived. The dead
letter itself stays where it is: topics are append-only, and keeping it means a replay
can always be repeated or audited. Each replayed record carries
``photostream-replayed-from: deadletters/<partition>/<offset>`` so the two can be joined.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from infra.connect import kafka
from infra.settings import Settings
from operate.ops import OpsError
from operate.ops.cluster import admin_client, describe, offset_bounds, partitions_of, reader
from schemas.deadletter import DeadLetter, decode_dead_letter
from schemas.errors import InvalidEvent
from schemas.topics import DEADLETTERS, PREFIX, group_id

REPLAYED_FROM = "photostream-replayed-from"
SCAN_TIMEOUT_S = 300.0


@dataclass(frozen=True, order=True)
class DeadLetterRef:
    """Where a dead letter is stored: ``PARTITION:OFFSET`` of the dead-letter topic."""

    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> DeadLetterRef:
        match = re.fullmatch(r"(\d+):(\d+)", text.strip())
        if match is None:
            raise OpsError(f"{text!r} is not PARTITION:OFFSET of {DEADLETTERS.name}, e.g. 3:17")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def trace(self) -> bytes:
        """The value of the ``photostream-replayed-from`` header of a replay of this one."""
        return f"deadletters/{self.partition}/{self.offset}".encode()


@dataclass(frozen=True)
class StoredDeadLetter:
    ref: DeadLetterRef
    appended_at: datetime
    """When the dead letter was written (the record timestamp)."""
    letter: DeadLetter


@dataclass(frozen=True)
class Filter:
    """Which dead letters an operator means; every field given must match."""

    processor: str | None = None
    """Processor that gave up: short (``media``) or group name (``photostream-media``)."""
    topic: str | None = None
    """Original topic, with or without the ``photostream.`` prefix."""
    error_type: str | None = None
    """Qualified exception class, or just its last part (``InvalidEvent``)."""

    def matches(self, letter: DeadLetter) -> bool:
        if self.processor and letter.processor not in {self.processor,
                                                       group_id(self.processor)}:
            return False
        if self.topic and letter.topic not in {self.topic, PREFIX + self.topic}:
            return False
        return not self.error_type or (
            letter.error_type == self.error_type
            or letter.error_type.endswith("." + self.error_type))


@dataclass(frozen=True)
class Listing:
    letters: list[StoredDeadLetter]
    """Newest first."""
    scanned: int
    undecodable: list[DeadLetterRef]
    """Records of the dead-letter topic that are not valid dead letters (never dropped
    silently: an operator should know the topic holds something else)."""


def show_bytes(data: bytes | None) -> str:
    """Text if the bytes are UTF-8, else ``base64:...`` (the bytes are often why it failed)."""
    if data is None:
        return "(null)"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def _stored(record: ConsumerRecord[bytes, bytes]) -> StoredDeadLetter:
    ref = DeadLetterRef(record.partition, record.offset)
    if record.value is None:
        raise InvalidEvent("empty record")
    return StoredDeadLetter(ref, datetime.fromtimestamp(record.timestamp / 1000, UTC),
                            decode_dead_letter(record.value))


async def _scan(settings: Settings) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of the dead-letter topic up to its end as of now.

    A full scan is affordable: dead letters are rare by design and retention is 30 days.
    """
    async with admin_client(settings) as admin:
        tps = partitions_of((await describe(admin, [DEADLETTERS.name])).values())
    if not tps:
        raise OpsError(f"topic {DEADLETTERS.name} does not exist (run `photostream stack init`)")
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, tps)
        todo = [tp for tp in tps if start[tp] < end[tp]]
        consumer.assign(todo)
        for tp in todo:
            consumer.seek(tp, start[tp])
        deadline = asyncio.get_running_loop().time() + SCAN_TIMEOUT_S
        while todo:
            if asyncio.get_running_loop().time() > deadline:
                raise OpsError(f"reading {DEADLETTERS.name} took over {SCAN_TIMEOUT_S:.0f}s")
            batches = await consumer.getmany(*todo, timeout_ms=500)
            for tp, batch in batches.items():
                for record in batch:
                    if record.offset < end[tp]:
                        yield record
            todo = [tp for tp in todo if await consumer.position(tp) < end[tp]]


async def list_dead_letters(settings: Settings, *, limit: int | None = 20,
                            where: Filter = Filter()) -> Listing:
    """The newest ``limit`` dead letters matching ``where`` (None: all of them)."""
    newest: list[tuple[int, int, int, StoredDeadLetter]] = []
    matched: list[StoredDeadLetter] = []
    undecodable: list[DeadLetterRef] = []
    scanned = 0
    async for record in _scan(settings):
        scanned += 1
        try:
            stored = _stored(record)
        except InvalidEvent:
            undecodable.append(DeadLetterRef(record.partition, record.offset))
            continue
        if not where.matches(stored.letter):
            continue
        if limit is None:
            matched.append(stored)
            continue
        item = (record.timestamp, record.partition, record.offset, stored)
        if len(newest) < limit:
            heapq.heappush(newest, item)
        elif limit > 0:
            heapq.heappushpop(newest, item)
    if limit is not None:
        matched = [item[3] for item in newest]
    matched.sort(key=lambda s: (s.appended_at, s.ref), reverse=True)
    return Listing(matched, scanned, undecodable)


async def get_dead_letter(settings: Settings, ref: DeadLetterRef) -> StoredDeadLetter:
    """The dead letter stored at ``ref``; OpsError naming the valid range if there is none."""
    tp = TopicPartition(DEADLETTERS.name, ref.partition)
    async with admin_client(settings) as admin:
        meta = (await describe(admin, [DEADLETTERS.name])).get(DEADLETTERS.name)
    if meta is None or ref.partition not in meta.partitions:
        count = len(meta.partitions) if meta else 0
        raise OpsError(f"{DEADLETTERS.name} has no partition {ref.partition} "
                       f"({count} partitions)")
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, [tp])
        if not start[tp] <= ref.offset < end[tp]:
            held = f"offsets {start[tp]}..{end[tp] - 1}" if end[tp] > start[tp] else "nothing"
            raise OpsError(f"no dead letter at {ref}: partition {ref.partition} holds {held}")
        consumer.assign([tp])
        consumer.seek(tp, ref.offset)
        batch = await consumer.getmany(tp, timeout_ms=10_000)
        records = batch.get(tp, [])
    if not records or records[0].offset != ref.offset:
        raise OpsError(f"no dead letter at {ref} (not a data record, e.g. a transaction marker)")
    try:
        return _stored(records[0])
    except InvalidEvent as exc:
        raise OpsError(f"the record at {ref} is not a valid dead letter: {exc}") from None


@dataclass(frozen=True)
class Replayed:
    """One dead letter re-published (``offset`` None: a dry run, nothing was sent)."""

    source: StoredDeadLetter
    topic: str
    partition: int
    offset: int | None


async def replay(settings: Settings, letters: Iterable[StoredDeadLetter], *,
                 dry_run: bool = False) -> list[Replayed]:
    """Re-publish the original key, value and headers of ``letters`` to their topics.

    In dead-letter order (partition, offset): all failures of one key share a dead-letter
    partition in their original order, so they are replayed in that order. Each goes to
    its original partition (same single writer downstream, whatever partitioner the
    original producer used). Every target topic is checked first, so a missing one
    aborts before anything is sent. The producer is idempotent with ``acks=all``; this
    returns once every record is acknowledged.
    """
    chosen = sorted({s.ref: s for s in letters}.values(), key=lambda s: s.ref)
    if not chosen:
        return []
    async with admin_client(settings) as admin:
        metas = await describe(admin, sorted({s.letter.topic for s in chosen}))
    missing = sorted({s.letter.topic for s in chosen} - set(metas))
    if missing:
        raise OpsError(f"original topic {missing[0]} no longer exists; nothing was replayed")

    def target(s: StoredDeadLetter) -> int | None:
        return s.letter.partition if s.letter.partition in metas[s.letter.topic].partitions \
            else None

    if dry_run:
        return [Replayed(s, s.letter.topic, s.letter.partition, None) for s in chosen]
    producer = kafka.producer(settings)
    try:
        await producer.start()
        futures = [
            await producer.send(
                s.letter.topic, s.letter.value, key=s.letter.key, partition=target(s),
                headers=[*s.letter.headers, (REPLAYED_FROM, s.ref.trace)])
            for s in chosen
        ]
        metadata = await asyncio.gather(*futures)
    except KafkaError as exc:
        raise OpsError(f"replay failed, records may be partly re-published "
                       f"(replaying again is safe: processors are idempotent): "
                       f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    finally:
        await producer.stop()
    return [Replayed(s, m.topic, m.partition, m.offset)
            for s, m in zip(chosen, metadata, strict=True)]


async def select(settings: Settings, refs: Sequence[DeadLetterRef] = (), *,
                 processor: str | None = None) -> list[StoredDeadLetter]:
    """The dead letters an operator named: explicit refs, or all of one processor."""
    if processor is not None:
        return (await list_dead_letters(settings, limit=None,
                                        where=Filter(processor=processor))).letters
    return [await get_dead_letter(settings, ref) for ref in refs]
