"""The runner's spaced commits on real Kafka: offsets move only after outputs are durable,
at most every ``commit_interval_ms``, and never later than a revocation or a stop.

The processor here is the smallest real one (it records what it handled); the group,
topic, broker and commits are real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import pytest

from bench.scratch import fresh_topic
from infra.connect import kafka
from infra.settings import Settings
from operate.ops.lag import consumer_lag
from processors.runtime import Message, Processor, Runner
from schemas.engagement import LikeAdded
from schemas.envelope import encode, make
from tests.integration.waiting import eventually
from tests.support.processors import consuming

pytestmark = pytest.mark.stack

PARTITIONS = 2


@pytest.fixture
async def topic(stack: Settings) -> AsyncIterator[str]:
    async with fresh_topic(stack, "test-commits", PARTITIONS) as name:
        yield name


class Recorder(Processor):
    """Records the user id of every like it handled (a class list: shared by copies)."""

    handled: ClassVar[list[int]]

    async def handle(self, message: Message) -> None:
        self.handled.append(message.event.payload.user_id)


def recorder(topic: str) -> type[Recorder]:
    """A Recorder of ``topic`` in a group of its own."""

    class One(Recorder):
        name = f"photostream-test-{uuid.uuid4().hex[:12]}"
        topics = (topic,)
        handled = []

    return One


async def publish(settings: Settings, topic: str, users: range) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for user in users:
            like = LikeAdded(photo_id=1, owner_id=2, user_id=user)
            await producer.send_and_wait(topic, encode(make(like, producer="test")),
                                         partition=user % PARTITIONS)
    finally:
        await producer.stop()


async def committed(settings: Settings, group: str) -> int:
    """Records committed by ``group``, summed over partitions (the operator's lag view)."""
    [lag] = await consumer_lag(settings, [group])
    return sum(p.committed or 0 for p in lag.partitions)


def spaced(settings: Settings, ms: int) -> Settings:
    return dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka,
                                                                     commit_interval_ms=ms))


def handled(processor: type[Recorder], count: int) -> Callable[[], Awaitable[bool]]:
    async def all_handled() -> bool:
        return len(processor.handled) == count
    return all_handled


async def test_offsets_wait_for_the_interval_and_are_committed_at_stop(
        stack: Settings, topic: str) -> None:
    settings = spaced(stack, 600_000)
    processor = recorder(topic)
    async with consuming(Runner(processor(settings), settings)):
        await publish(settings, topic, range(1, 7))
        await eventually(handled(processor, 6))
        await asyncio.sleep(1.0)  # several empty polls: none of them commits early
        assert await committed(settings, processor.name) == 0
    assert await committed(settings, processor.name) == 6


async def test_a_revocation_commits_what_is_durable_before_the_partitions_move(
        stack: Settings, topic: str) -> None:
    settings = spaced(stack, 600_000)
    processor = recorder(topic)
    async with consuming(Runner(processor(settings), settings)):
        await publish(settings, topic, range(1, 5))
        await eventually(handled(processor, 4))
        # A second copy in the same group: a rebalance revokes the first one's partitions.
        async with consuming(Runner(processor(settings), settings)):

            async def committed_on_revoke() -> bool:
                return await committed(settings, processor.name) == 4

            await eventually(committed_on_revoke, timeout=60)
            assert len(processor.handled) == 4  # nothing redelivered to the newcomer


async def test_interval_zero_commits_every_batch_while_running(
        stack: Settings, topic: str) -> None:
    settings = spaced(stack, 0)
    processor = recorder(topic)
    async with consuming(Runner(processor(settings), settings)):
        await publish(settings, topic, range(1, 4))

        async def all_committed() -> bool:
            return await committed(settings, processor.name) == 3

        await eventually(all_committed)
