"""Read what was appended to a real Kafka topic between two moments (test helper).

Tests snapshot the end offsets before acting, then read exactly the records appended
since, so records of earlier runs or other tests never confuse an "exactly one" check.
"""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from infra.connect import kafka
from infra.settings import Settings

Offsets = dict[TopicPartition, int]


async def _consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = kafka.consumer(settings, group_id=f"test-tail-{uuid.uuid4().hex}")
    await consumer.start()
    return consumer


async def _partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    producer = kafka.producer(settings)  # partitions_for() is the public metadata lookup
    await producer.start()
    try:
        partitions = await producer.partitions_for(topic)
    finally:
        await producer.stop()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def end_offsets(settings: Settings, topic: str) -> Offsets:
    """The current end offset of every partition of ``topic``."""
    tps = await _partitions(settings, topic)
    consumer = await _consumer(settings)
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def records_since(settings: Settings, start: Offsets, timeout: float = 20.0
                        ) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record appended after ``start`` up to the end offsets as of now."""
    consumer = await _consumer(settings)
    try:
        tps = list(start)
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, start[tp])
        records: list[ConsumerRecord[bytes, bytes]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        async def drain() -> None:
            while await behind():
                batches = await consumer.getmany(*tps, timeout_ms=500)
                for batch in batches.values():
                    records.extend(r for r in batch if r.offset < end[TopicPartition(
                        r.topic, r.partition)])

        await asyncio.wait_for(drain(), timeout)
        return records
    finally:
        await consumer.stop()
