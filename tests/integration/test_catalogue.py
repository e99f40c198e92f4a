"""Topic catalogue as code (``topics diff|apply|describe``) and ``tail``, on the real Kafka.

Drift is made on test-only topics (``photostream.test-cat-<uuid>-*``) described by a
test catalogue, so the pipeline's shared topics are never altered; each is deleted after.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.connect import kafka
from infra.settings import REPO_ROOT, Settings
from operate.ops.catalogue import apply, diff
from operate.ops.cluster import admin_client, describe
from operate.ops.topics import describe_topic
from processors.deadletters import DeadLetterWriter
from schemas.engagement import LikeAdded
from schemas.envelope import encode, make
from schemas.errors import InvalidEvent
from schemas.topics import DAY_MS, DEADLETTERS, LIKES, Topic

from .test_ops import cli

pytestmark = pytest.mark.stack


def _topic(name: str, partitions: int) -> Topic:
    return Topic(name=name, key="photo_id", partitions=partitions, cleanup_policy="delete",
                 retention_ms=3 * DAY_MS, event_types=(), description="test",
                 why_this_key="test")


@pytest.fixture
async def names(stack: Settings) -> AsyncIterator[list[str]]:
    """Four test topic names; whatever of them exists afterwards is deleted."""
    base = f"photostream.test-cat-{uuid.uuid4().hex[:10]}"
    made = [f"{base}-{suffix}" for suffix in ("missing", "few", "config", "many")]
    yield made
    async with admin_client(stack) as admin:
        existing = set(await admin.list_topics())
        with contextlib.suppress(Exception):
            await admin.delete_topics([n for n in made if n in existing])


async def test_diff_finds_drift_and_apply_fixes_it_without_shrinking(
        stack: Settings, names: list[str]) -> None:
    missing, few, config, many = names
    catalogue = [_topic(missing, 3), _topic(few, 3), _topic(config, 2), _topic(many, 2)]
    rf = stack.kafka.replication_factor
    async with admin_client(stack) as admin:
        await admin.create_topics([
            NewTopic(few, 1, rf, topic_configs=catalogue[1].config()),
            NewTopic(config, 2, rf, topic_configs={"cleanup.policy": "delete",
                                                   "retention.ms": "1000",
                                                   "segment.ms": "3600000"}),
            NewTopic(many, 4, rf, topic_configs={**catalogue[3].config(),
                                                 "min.insync.replicas": "1"}),
        ])

    found = await diff(stack, catalogue)
    got = {(d.topic, d.kind, d.name, d.have, d.want) for d in found.drifts}
    assert (missing, "missing", "topic", None, "3 partitions") in got
    assert (few, "partitions", "partitions", "1", "3") in got
    assert (config, "config", "retention.ms", "1000", str(3 * DAY_MS)) in got
    assert (config, "config", "segment.ms", "3600000", None) in got  # undeclared override
    assert not [d for d in found.drifts if d.topic == many]
    assert any(many in w and "never shrunk" in w for w in found.warnings)

    fixed = await apply(stack, catalogue)
    assert {(d.topic, d.kind, d.name) for d in fixed.drifts} == {g[:3] for g in got}
    after = await diff(stack, catalogue)
    assert after.clean, after.drifts
    assert (await apply(stack, catalogue)).clean  # idempotent: nothing left to change
    async with admin_client(stack) as admin:
        metas = await describe(admin, names)
    assert [len(metas[n].partitions) for n in names] == [3, 3, 2, 4]  # raised, never shrunk
    described = await describe_topic(stack, config)
    assert described.dynamic_configs["retention.ms"] == str(3 * DAY_MS)
    assert "segment.ms" not in described.dynamic_configs


async def test_diff_command_exits_1_exactly_when_the_catalogue_drifts(stack: Settings) -> None:
    expected = 0 if (await diff(stack)).clean else 1
    code, out, err = await cli("topics", "diff")
    assert code == expected, out + err
    code, out, _ = await cli("topics", "describe", "likes")
    assert code == 0 and LIKES.name in out and "like.added" in out and "PARTITION" in out
    code, _, err = await cli("topics", "describe", "photostream.no-such-topic")
    assert code == 1 and "does not exist" in err


async def test_an_altered_config_on_a_test_topic_is_drift_until_applied(
        stack: Settings, names: list[str]) -> None:
    """The alteration an operator makes during an incident, via the admin API."""
    name = names[2]
    catalogue = [_topic(name, 2)]
    await apply(stack, catalogue)
    async with admin_client(stack) as admin:
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, name,
            {**catalogue[0].config(), "min.insync.replicas": "1", "max.message.bytes": "5000"})])
    assert [(d.name, d.have) for d in (await diff(stack, catalogue)).drifts] == [
        ("max.message.bytes", "5000")]
    await apply(stack, catalogue)
    assert (await diff(stack, catalogue)).clean


async def _tail(*args: str) -> asyncio.subprocess.Process:
    """Start ``photostream tail ARGS`` and return once it says it is positioned."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", "tail", *args, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 60)
    assert line.startswith(b"tailing "), line
    return proc


async def test_tail_prints_a_published_event_decoded(stack: Settings, names: list[str]) -> None:
    topic = names[0]
    await apply(stack, [_topic(topic, 3)])
    photo_id = uuid.uuid4().int >> 66
    event = make(LikeAdded(photo_id=photo_id, user_id=7, owner_id=8), producer="test-tail")
    other = make(LikeAdded(photo_id=photo_id + 1, user_id=7, owner_id=8), producer="test-tail")
    proc = await _tail(topic, "--key", str(photo_id), "--type", "like.added",
                       "--max", "1", "--timeout", "60")
    producer = kafka.producer(stack)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode(other), key=str(photo_id + 1).encode())
        await producer.send_and_wait(topic, b"not json", key=str(photo_id).encode())
        await producer.send_and_wait(topic, encode(event), key=str(photo_id).encode())
    finally:
        await producer.stop()
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    assert len(lines) == 1, lines
    assert f"key={photo_id} like.added v1 id={event.event_id}" in lines[0]
    assert f'"photo_id":{photo_id}' in lines[0]

    code, out_all, _ = await cli("tail", topic, "--from-beginning", "--key", str(photo_id),
                                 "--max", "2", "--timeout", "10")
    assert code == 0
    assert [line.split(" ", 3)[3][:7] for line in out_all.splitlines()] == ["INVALID",
                                                                            "like.ad"]


async def _record(settings: Settings, topic: str, key: bytes, value: bytes
                  ) -> ConsumerRecord[bytes, bytes]:
    """Publish one record to partition 0 and read it back, as a processor has it."""
    producer = kafka.producer(settings)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key, partition=0)
    finally:
        await producer.stop()
    consumer = kafka.consumer(settings, group_id=f"test-cat-read-{uuid.uuid4().hex}")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        return await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()


async def test_tail_decodes_dead_letters_and_their_originals(
        stack: Settings, names: list[str]) -> None:
    topic = names[1]
    await apply(stack, [_topic(topic, 3)])
    key = uuid.uuid4().hex.encode()
    original = await _record(stack, topic, key, b'{"type": "photo.exploded"}')
    processor = f"test-cat-{uuid.uuid4().hex[:10]}"
    writer = DeadLetterWriter(stack, processor)
    await writer.start()
    try:
        await writer.add(original, InvalidEvent("unknown type", "type"), attempts=1)
        await writer.flush()
    finally:
        await writer.stop()
    code, out, err = await cli("tail", DEADLETTERS.name, "--from-beginning",
                               "--key", key.decode(), "--max", "1", "--timeout", "20")
    assert code == 0, err
    [line] = out.splitlines()
    assert f"DEAD LETTER from {processor} of {topic}[0]@{original.offset}" in line
    assert "InvalidEvent" in line and "original: INVALID" in line
