"""The publisher library: how any upstream app (and the ingest service) puts events on Kafka.

Why a wrapper instead of a bare producer: the topic and the record key of an event are
part of the contract (:mod:`schemas.topics`), and "published" must mean "every in-sync
replica has it" (``acks=all`` on an idempotent producer from :mod:`infra.connect.kafka`).
Putting both here means no caller can pick a wrong topic, a wrong key (and so a wrong
partition and a broken per-entity order), or report success before the broker has the
record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from infra.connect import kafka
from infra.settings import Settings
from schemas.envelope import Event, encode
from schemas.payload import Payload
from schemas.topics import key_for, topic_for

__all__ = ["PublishError", "Publisher", "RecordMetadata"]


class PublishError(RuntimeError):
    """The broker did not take a record, after the producer's own retries were exhausted.

    Raised instead of the raw aiokafka error so callers (the ingest service answering 503,
    an upstream app deciding to retry later) catch one type that names the topic.
    """

    def __init__(self, topic: str, cause: BaseException) -> None:
        super().__init__(topic, cause)
        self.topic = topic
        self.cause = cause

    def __str__(self) -> str:
        detail = str(self.cause) or type(self.cause).__name__
        return f"could not publish to {self.topic}: {detail}"


class Publisher:
    """Publishes validated events to their catalogue topic, keyed by their catalogue key.

    Use as ``async with Publisher(settings) as pub: await pub.publish(event)``. One
    instance per process is enough (the producer batches concurrent sends, ``linger``);
    ``overrides`` go to :func:`infra.connect.kafka.producer` (tests, tuning).
    """

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self._settings = settings
        self._overrides = overrides
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the brokers (fails fast with PublishError if none answers)."""
        if self._producer is not None:
            return
        producer = kafka.producer(self._settings, **self._overrides)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise PublishError(",".join(self._settings.kafka.bootstrap_servers), exc) from exc
        self._producer = producer

    async def stop(self) -> None:
        """Flush what is still batched, then disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The running producer (for health checks); RuntimeError before :meth:`start`."""
        if self._producer is None:
            raise RuntimeError("Publisher is not started: use 'async with Publisher(...)'")
        return self._producer

    async def publish(self, event: Event[Payload]) -> RecordMetadata:
        """Publish one event; returns once the broker acknowledged it (acks=all).

        Raises InvalidEvent (before sending) for an event that breaks its schema, and
        PublishError when the broker did not take it.
        """
        topic, key, value = _record(event)
        try:
            return await self.producer.send_and_wait(topic, value, key=key)
        except KafkaError as exc:
            raise PublishError(topic, exc) from exc

    async def publish_many(self, events: Iterable[Event[Payload]]) -> list[RecordMetadata]:
        """Publish several events pipelined (all sent, then all awaited), in input order.

        Much faster than awaiting one ``publish`` after another, since the producer puts
        the records into shared batches. Records of one key keep their relative order
        (idempotent producer). If any record fails, PublishError names the first failed
        topic after every send has settled; records that did succeed stay published.
        """
        records = [_record(event) for event in events]  # validate all before sending any
        producer = self.producer
        pending: list[tuple[str, asyncio.Future[RecordMetadata] | BaseException]] = []
        for topic, key, value in records:
            try:
                pending.append((topic, await producer.send(topic, value, key=key)))
            except KafkaError as exc:
                pending.append((topic, exc))
        results: list[RecordMetadata] = []
        failure: PublishError | None = None
        for topic, outcome in pending:
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                results.append(await outcome)
            except KafkaError as exc:
                failure = failure or PublishError(topic, exc)
        if failure is not None:
            raise failure
        return results


def _record(event: Event[Payload]) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of ``event``: encoding validates it first."""
    value = encode(event)
    return topic_for(event.type).name, key_for(event), value
