"""``photostream smoke``: prove the running stack works end to end, one real request each.

Publishes and consumes a Kafka record, writes and reads a Cassandra row, puts and gets
a MinIO object, sets and gets a Redis key. Cheap enough to run after every ``up``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from infra.connect import cassandra, kafka, redis, s3
from infra.settings import Settings

SMOKE_TOPIC = "photostream.smoke"


def register(sub: Any) -> None:
    smoke = sub.add_parser("smoke", help="round-trip Kafka, Cassandra, MinIO and Redis")
    smoke.set_defaults(handler=cmd_smoke)


async def kafka_round_trip(settings: Settings, token: bytes) -> str:
    admin = kafka.admin(settings)
    await admin.start()
    try:
        if SMOKE_TOPIC not in await admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(
                    SMOKE_TOPIC, 1, settings.kafka.replication_factor,
                    topic_configs={"retention.ms": "3600000"})])
    finally:
        await admin.close()
    producer = kafka.producer(settings)
    await producer.start()
    try:
        meta = await producer.send_and_wait(SMOKE_TOPIC, token, key=b"smoke")
    finally:
        await producer.stop()
    consumer = kafka.consumer(settings, group_id="photostream-smoke")
    await consumer.start()
    try:
        tp = TopicPartition(SMOKE_TOPIC, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=15)
    finally:
        await consumer.stop()
    assert record.value == token, "consumed a different record than the one published"
    return f"published and consumed offset {meta.offset} of {SMOKE_TOPIC}"


def cassandra_round_trip(settings: Settings, token: str) -> str:
    cluster = cassandra.cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        session.execute(
            "INSERT INTO stack_checks (check_id, at) VALUES (%s, toTimestamp(now()))", (token,))
        row = session.execute(
            "SELECT check_id FROM stack_checks WHERE check_id = %s", (token,)).one()
        assert row and row["check_id"] == token, "Cassandra did not return the row written"
        version = session.execute("SELECT release_version FROM system.local").one()
        return f"wrote and read a row (Cassandra {version['release_version']})"
    finally:
        cluster.shutdown()


def minio_round_trip(settings: Settings, token: bytes) -> str:
    client = s3.client(settings)
    key = f"_smoke/{token.decode()}"
    client.put_object(settings.s3.media_bucket, key, io.BytesIO(token), len(token))
    response = client.get_object(settings.s3.media_bucket, key)
    try:
        body = response.read()
    finally:
        response.close()
        response.release_conn()
    client.remove_object(settings.s3.media_bucket, key)
    assert body == token, "MinIO returned different bytes"
    return f"put, got and removed s3://{settings.s3.media_bucket}/{key}"


async def redis_round_trip(settings: Settings, token: bytes) -> str:
    client = redis.client(settings)
    try:
        await client.set(b"smoke:" + token, token, ex=60)
        assert await client.get(b"smoke:" + token) == token, "Redis returned a different value"
        return "SET and GET a key"
    finally:
        await client.aclose()


async def _timed(name: str, step: Callable[[], Awaitable[str]]) -> tuple[str, float, str]:
    began = time.monotonic()
    detail = await step()
    return name, time.monotonic() - began, detail


async def run_smoke(settings: Settings) -> list[tuple[str, float, str]]:
    token = uuid.uuid4().hex
    raw = token.encode()
    return list(await asyncio.gather(
        _timed("kafka", lambda: kafka_round_trip(settings, raw)),
        _timed("cassandra", lambda: asyncio.to_thread(cassandra_round_trip, settings, token)),
        _timed("minio", lambda: asyncio.to_thread(minio_round_trip, settings, raw)),
        _timed("redis", lambda: redis_round_trip(settings, raw)),
    ))


async def cmd_smoke(args: argparse.Namespace, settings: Settings) -> int:
    for name, seconds, detail in await run_smoke(settings):
        print(f"  ok {name:<10} {seconds * 1000:7.1f} ms  {detail}")
    print("smoke run passed")
    return 0
