"""The local stack: real round trips, idempotent bootstrap, clear errors, durable data."""

from __future__ import annotations

import dataclasses
import io
import socket
import uuid
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from infra.connect import cassandra, kafka, s3
from infra.connect import redis as redis_connect
from infra.settings import Settings
from operate.commands.smoke import run_smoke
from operate.provision.migrations import apply_migrations, load_migrations
from operate.provision.topics import apply_topics
from operate.stack import manager
from operate.stack.base import StackError, process_gone
from operate.stack.redis import RedisService
from schemas.topics import TOPICS

pytestmark = pytest.mark.stack


async def test_each_service_answers_a_real_round_trip(stack: Settings) -> None:
    results = {name: detail for name, _, detail in await run_smoke(stack)}
    assert set(results) == {"kafka", "cassandra", "minio", "redis"}


async def test_topic_catalogue_applied_twice_changes_nothing(stack: Settings) -> None:
    assert await apply_topics(stack) == []
    admin = kafka.admin(stack)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in TOPICS])
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == {t.name: t.partitions for t in TOPICS}


async def test_migrations_applied_twice_change_nothing(stack: Settings, cassandra_session) -> None:
    assert await apply_migrations(stack) == []
    rows = cassandra_session.execute("SELECT version FROM schema_migrations")
    assert sorted(r["version"] for r in rows) == [m.version for m in load_migrations()]


async def test_a_taken_port_gives_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        base = Settings.from_env({"PHOTOSTREAM_STATE_DIR": str(tmp_path)})
        taken = dataclasses.replace(base, stack=dataclasses.replace(base.stack, redis_port=port))
        with pytest.raises(StackError) as err:
            await RedisService(taken).start()
    message = str(err.value)
    assert f"port {port}" in message and "already in use" in message
    assert "\n" not in message


async def test_a_second_checkout_reuses_the_running_stack(stack: Settings,
                                                         tmp_path: Path) -> None:
    """Another clone (another state dir, same ports) finds the servers already answering
    and uses them: nothing is started, no port error, no pid file of its own."""
    other = dataclasses.replace(stack, stack=dataclasses.replace(stack.stack,
                                                                 state_dir=tmp_path))
    report = await manager.up(other, init=False)
    assert {s.name for s in report.services} == {"kafka", "cassandra", "minio", "redis"}
    assert not any(s.started for s in report.services)
    assert _pids(other) == []
    results = {name for name, _, _ in await run_smoke(other)}
    assert results == {"kafka", "cassandra", "minio", "redis"}


def _pids(settings: Settings) -> list[int]:
    return [pid for _, pid, _, _ in manager.status(settings) if pid]


@pytest.mark.lifecycle
async def test_data_survives_down_and_up_and_down_leaves_nothing(stack: Settings) -> None:
    token = uuid.uuid4().hex
    producer = kafka.producer(stack)
    await producer.start()
    meta = await producer.send_and_wait("photostream.smoke", token.encode(), key=b"survive")
    await producer.stop()
    session = cassandra.connect(stack)
    session.execute("INSERT INTO stack_checks (check_id, at) VALUES (%s, toTimestamp(now()))",
                    (token,))
    session.cluster.shutdown()
    minio = s3.client(stack)
    minio.put_object(stack.s3.media_bucket, f"_survive/{token}", io.BytesIO(b"x"), 1)
    rds = redis_connect.client(stack)
    await rds.set(f"survive:{token}", token)
    await rds.aclose()

    pids = _pids(stack)
    assert len(pids) == 4
    await manager.down(stack)
    assert all(process_gone(pid) for pid in pids), "down left stack processes running"
    assert _pids(stack) == []

    await manager.up(stack)

    consumer = kafka.consumer(stack, group_id=f"survive-{token}")
    await consumer.start()
    tp = TopicPartition("photostream.smoke", meta.partition)
    consumer.assign([tp])
    consumer.seek(tp, meta.offset)
    record = await consumer.getone()
    await consumer.stop()
    assert record.value == token.encode()
    session = cassandra.connect(stack)
    row = session.execute("SELECT check_id FROM stack_checks WHERE check_id = %s", (token,)).one()
    session.cluster.shutdown()
    assert row is not None
    assert minio.stat_object(stack.s3.media_bucket, f"_survive/{token}").size == 1
    rds = redis_connect.client(stack)
    assert await rds.get(f"survive:{token}") == token.encode()
    await rds.aclose()
