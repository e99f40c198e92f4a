"""Throwaway Kafka topics, for benchmarks and tests that need a log of their own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from aiokafka.admin import NewTopic

from infra.connect import kafka
from infra.settings import Settings


@contextlib.asynccontextmanager
async def fresh_topic(settings: Settings, what: str, partitions: int) -> AsyncIterator[str]:
    """A new topic ``photostream.<what>-<random>``, deleted when the block ends."""
    name = f"photostream.{what}-{uuid.uuid4().hex[:12]}"
    admin = kafka.admin(settings)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions,
                                            settings.kafka.replication_factor)])
        yield name
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics([name])
        await admin.close()
