"""The dead-letter topic writer: poison records leave the stream here, bytes intact.

A record lands here when it can never be processed as it is (invalid event, or an
error that repeats on every attempt). The exact original bytes, key and headers are
kept, with the error and the processor's name, so an operator can inspect it and
replay it once the cause is fixed. Writes are awaited in ``flush`` before the runtime
commits the batch: a dead letter is an output like any other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

from infra.connect import kafka
from infra.settings import Settings
from schemas.deadletter import dead_letter, encode_dead_letter
from schemas.topics import DEADLETTERS


class DeadLetterWriter:
    def __init__(self, settings: Settings, processor: str) -> None:
        self.settings = settings
        self.processor = processor
        self.producer: AIOKafkaProducer | None = None
        self.pending: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        self.count = 0

    async def start(self) -> None:
        self.producer = kafka.producer(self.settings)
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def add(self, record: ConsumerRecord[bytes, bytes], error: BaseException,
                  *, attempts: int, first_failed_at: datetime | None = None) -> None:
        """Queue the dead letter of ``record``; durable once ``flush`` returns."""
        assert self.producer is not None, "DeadLetterWriter.start() was not awaited"
        letter = dead_letter(
            topic=record.topic, partition=record.partition, offset=record.offset,
            key=record.key, value=record.value, headers=record.headers or (),
            error=error, processor=self.processor, attempts=attempts,
            first_failed_at=first_failed_at or datetime.now(UTC),
        )
        headers = [("processor", self.processor.encode()),
                   ("error_type", letter.error_type.encode())]
        self.pending.append((record.key, encode_dead_letter(letter), headers))
        self.count += 1

    async def flush(self) -> None:
        """Wait until every queued dead letter is acknowledged by all in-sync replicas."""
        if not self.pending:
            return
        assert self.producer is not None
        sent = [
            await self.producer.send(DEADLETTERS.name, value, key=key, headers=headers)
            for key, value, headers in self.pending
        ]
        # On failure everything stays pending and is sent again on the retry: a duplicate
        # dead letter is harmless, a lost one is not.
        await asyncio.gather(*sent)
        self.pending.clear()
