"""Operator tooling (``operate/ops``, ``photostream topics|deadletters``) against the real stack.

Every test works on its own topic (``photostream.test-ops-<uuid>``, deleted afterwards)
and its own consumer groups and processor names, so it neither disturbs nor is
disturbed by the pipeline's topics or earlier runs.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from bench.scratch import fresh_topic
from infra.connect import kafka
from infra.settings import REPO_ROOT, Settings
from operate.ops import OpsError
from operate.ops.deadletters import (
    REPLAYED_FROM,
    Filter,
    get_dead_letter,
    list_dead_letters,
    replay,
    show_bytes,
)
from operate.ops.lag import consumer_lag
from operate.ops.replay import reset_offsets
from operate.ops.topics import topic_reports
from processors.deadletters import DeadLetterWriter
from schemas.errors import InvalidEvent
from schemas.topics import TOPICS

from .kafka_tail import end_offsets, records_since

pytestmark = pytest.mark.stack

PARTITIONS = 3


async def cli(*args: str) -> tuple[int, str, str]:
    """Run ``photostream ARGS`` as operators do, in a real child process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", *args, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def topic(stack: Settings) -> AsyncIterator[str]:
    """A fresh 3-partition topic, deleted after the test."""
    async with fresh_topic(stack, "test-ops", PARTITIONS) as name:
        yield name


async def produce(settings: Settings, topic: str, per_partition: dict[int, int], *,
                  timestamp_ms: int | None = None) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for partition, count in per_partition.items():
            for i in range(count):
                await producer.send_and_wait(topic, f"r{i}".encode(), key=b"k",
                                             partition=partition, timestamp_ms=timestamp_ms)
    finally:
        await producer.stop()


async def commit(settings: Settings, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = kafka.consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    admin = kafka.admin(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic}


async def test_topics_list_shows_the_catalogue_and_extra_topics(stack: Settings,
                                                               topic: str) -> None:
    reports = {r.name: r for r in await topic_reports(stack)}
    for t in TOPICS:
        report = reports[t.name]
        assert report.partitions == t.partitions, t.name
        assert report.cleanup_policy == t.cleanup_policy, t.name
        assert report.retention_ms == t.retention_ms, t.name
        assert report.catalogue == t
    extra = reports[topic]
    assert extra.catalogue is None and extra.partitions == PARTITIONS
    assert extra.status.startswith("EXTRA")

    code, out, _ = await cli("topics", "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for t in TOPICS:
        assert rows[t.name][1] == str(t.partitions)


async def test_lag_counts_produced_but_unconsumed_records(stack: Settings, topic: str) -> None:
    group = f"test-ops-lag-{uuid.uuid4().hex}"
    await produce(stack, topic, {0: 4, 1: 3, 2: 0})
    await commit(stack, group, {TopicPartition(topic, 0): 1, TopicPartition(topic, 1): 3})
    await produce(stack, topic, {0: 1, 2: 2})

    [lag] = await consumer_lag(stack, [group])
    by_partition = {p.partition: p for p in lag.partitions if p.topic == topic}
    assert {p: (v.committed, v.end, v.lag) for p, v in by_partition.items()} == {
        0: (1, 5, 4), 1: (3, 3, 0), 2: (None, 2, 2)}
    assert lag.total_lag == 6
    assert (lag.state.members, lag.state.state) == (0, "Empty")

    code, out, _ = await cli("topics", "lag", group)
    assert code == 0
    assert any(line.split() == [group, "6"] for line in out.splitlines())


async def _bad_record(settings: Settings, topic: str, partition: int, value: bytes,
                      headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    """Publish a record, then read it back: a real ConsumerRecord, as a processor has it."""
    producer = kafka.producer(settings)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=b"key-" + value[:2],
                                            partition=partition, headers=headers)
    finally:
        await producer.stop()
    consumer = kafka.consumer(settings, group_id=f"test-ops-read-{uuid.uuid4().hex}")
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        return await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()


async def test_dead_letters_are_listed_shown_and_replayed_byte_exact(
        stack: Settings, topic: str) -> None:
    processor = f"test-ops-{uuid.uuid4().hex[:12]}"
    binary = b"\xff\xfe\x00not utf-8 " + uuid.uuid4().bytes
    text = b'{"type": "photo.exploded"}'
    originals = [await _bad_record(stack, topic, 1, binary, [("trace", b"abc")]),
                 await _bad_record(stack, topic, 2, text, [])]
    writer = DeadLetterWriter(stack, processor)
    await writer.start()
    try:
        for record in originals:
            await writer.add(record, InvalidEvent("bad payload", "payload.photo_id"), attempts=2)
        await writer.flush()
    finally:
        await writer.stop()

    listing = await list_dead_letters(stack, limit=10, where=Filter(processor=processor))
    assert len(listing.letters) == 2
    newest, oldest = listing.letters
    assert (oldest.letter.value, newest.letter.value) == (binary, text)
    assert oldest.letter.topic == topic and oldest.letter.offset == originals[0].offset
    assert oldest.letter.headers == (("trace", b"abc"),)
    assert oldest.letter.error_type == "schemas.errors.InvalidEvent"
    assert len((await list_dead_letters(stack, limit=1, where=Filter(processor=processor))
                ).letters) == 1
    by_type = Filter(processor=processor, topic=topic, error_type="InvalidEvent")
    assert len((await list_dead_letters(stack, where=by_type)).letters) == 2
    other = Filter(processor=processor, error_type="TimeoutError")
    assert (await list_dead_letters(stack, where=other)).letters == []

    shown = await get_dead_letter(stack, oldest.ref)
    assert shown.letter == oldest.letter
    assert show_bytes(shown.letter.value).startswith("base64:")
    code, out, _ = await cli("deadletters", "show", str(oldest.ref))
    assert code == 0 and processor in out and "base64:" in out and "bad payload" in out

    before = await end_offsets(stack, topic)
    dry = await replay(stack, [oldest], dry_run=True)
    assert [r.offset for r in dry] == [None]
    assert await end_offsets(stack, topic) == before

    code, out, _ = await cli("deadletters", "replay", "--all-from-processor", processor)
    assert code == 0, out
    assert str(oldest.ref) in out and str(newest.ref) in out
    replayed = sorted(await records_since(stack, before), key=lambda r: r.partition)
    assert [(r.partition, r.key, r.value) for r in replayed] == [
        (o.partition, o.key, o.value) for o in originals]
    assert list(replayed[0].headers) == [("trace", b"abc"),
                                         (REPLAYED_FROM, oldest.ref.trace)]
    assert list(replayed[1].headers) == [(REPLAYED_FROM, newest.ref.trace)]

    # The dead letters stay: a replay can be repeated, here for one chosen by reference.
    before = await end_offsets(stack, topic)
    [again] = await replay(stack, [await get_dead_letter(stack, newest.ref)])
    [record] = await records_since(stack, before)
    assert (record.partition, record.offset) == (again.partition, again.offset)
    assert (record.key, record.value) == (originals[1].key, text)


async def test_reset_offsets_moves_an_idle_group_and_refuses_an_active_one(
        stack: Settings, topic: str) -> None:
    now_ms = int(time.time() * 1000)
    await produce(stack, topic, {0: 3, 1: 2, 2: 1}, timestamp_ms=now_ms - 3_600_000)
    await produce(stack, topic, {0: 2, 1: 2, 2: 0}, timestamp_ms=now_ms)
    group = f"test-ops-reset-{uuid.uuid4().hex}"
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    await commit(stack, group, dict(zip(tps, (5, 4, 1), strict=True)))

    half_hour_ago = datetime.fromtimestamp(now_ms / 1000 - 1800, UTC)
    plan = await reset_offsets(stack, group, topic, half_hour_ago, dry_run=True)
    assert [(m.current, m.target) for m in plan.moves] == [(5, 3), (4, 2), (1, 1)]
    assert await committed(stack, group, topic) == {0: 5, 1: 4, 2: 1}

    await reset_offsets(stack, group, topic, half_hour_ago)
    assert await committed(stack, group, topic) == {0: 3, 1: 2, 2: 1}
    code, _, err = await cli("topics", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert code == 0, err
    assert await committed(stack, group, topic) == {0: 0, 1: 0, 2: 0}

    active = f"test-ops-active-{uuid.uuid4().hex}"
    consumer = kafka.consumer(stack, topic, group_id=active)
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        with pytest.raises(OpsError, match="active member"):
            await reset_offsets(stack, active, topic, "earliest")
        code, _, err = await cli("topics", "reset-offsets", active, "--topic", topic,
                                 "--to-latest")
        assert code == 1
        assert err.count("\n") == 1 and "active member" in err
    finally:
        await consumer.stop()
