"""The publisher against the real broker: what publish() reports is what a consumer reads."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest
from aiokafka import TopicPartition

from infra.connect import kafka
from infra.connect.publisher import Publisher, PublishError
from infra.settings import KafkaSettings, Settings
from schemas.engagement import LikeAdded
from schemas.envelope import Event, decode, make
from schemas.topics import LIKES

from .kafka_tail import end_offsets, records_since

pytestmark = pytest.mark.stack


def _like(photo_id: int) -> Event[LikeAdded]:
    return make(LikeAdded(photo_id=photo_id, user_id=7, owner_id=8), producer="test-publisher")


async def test_publish_returns_metadata_of_the_stored_record(stack: Settings) -> None:
    event = _like(random.randrange(1, 2**62))
    async with Publisher(stack) as publisher:
        meta = await publisher.publish(event)
    assert meta.topic == LIKES.name
    consumer = kafka.consumer(stack, group_id="test-publisher-readback")
    await consumer.start()
    try:
        tp = TopicPartition(meta.topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=15)
    finally:
        await consumer.stop()
    assert record.offset == meta.offset
    assert record.key == str(event.payload.photo_id).encode()
    assert decode(record.value) == event


async def test_publish_many_is_ordered_and_complete(stack: Settings) -> None:
    photo_id = random.randrange(1, 2**62)
    events = [_like(photo_id) for _ in range(20)]
    before = await end_offsets(stack, LIKES.name)
    async with Publisher(stack) as publisher:
        metas = await publisher.publish_many(events)
    assert len(metas) == 20
    assert len({m.partition for m in metas}) == 1  # one key, one partition
    assert [m.offset for m in metas] == sorted(m.offset for m in metas)
    mine = [decode(r.value) for r in await records_since(stack, before)
            if r.key == str(photo_id).encode()]
    assert [e.event_id for e in mine] == [e.event_id for e in events]


async def test_unreachable_broker_is_a_publish_error(stack: Settings) -> None:
    dead = dataclasses.replace(stack, kafka=KafkaSettings(bootstrap_servers=("127.0.0.1:1",)))
    with pytest.raises(PublishError, match=r"127\.0\.0\.1:1"):
        await asyncio.wait_for(Publisher(dead, request_timeout_ms=2000).start(), 30)
