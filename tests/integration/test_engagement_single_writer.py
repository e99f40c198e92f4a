"""Likes stay exact without Paxos through the races single-writer counting must survive.

The engagement processor writes like counts as absolute values from what it reads
(``sinks/owned_edges.py``), trusting that Kafka gives each photo one writer. These
tests break that trust the ways production does: a second copy joining mid-stream (a
rebalance moves partitions while batches are in flight), ``kill -9`` of a copy while
it may hold a batch (no drain, no commit: whatever it had is redelivered to the survivor),
every like sent twice, and a replay of the whole topic from an earlier offset.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from cassandra.cluster import Session

from bench.cassandra_ops import PAXOS_WRITES, table_ops
from infra.connect import kafka
from infra.settings import Settings
from operate.ops.cluster import admin_client
from operate.ops.groups import group_state
from operate.ops.lag import consumer_lag
from operate.ops.replay import reset_offsets
from operate.processes import stop_processes
from schemas.engagement import LikeAdded, LikeRemoved
from schemas.envelope import encode, make
from schemas.topics import ENGAGEMENT_GROUP, LIKES
from sinks import engagement
from tests.support.ids import random_id

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
PHOTOS = 40
LIKERS = 60


def _start(log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(REPO / ".venv" / "bin" / "photostream"), "process",
                                 "engagement", "--metrics-port", "0"],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ))


def _records(photos: list[int], likers: list[int], owner: int
             ) -> tuple[list[tuple[bytes, bytes]], dict[int, int]]:
    """Every like twice, then an unlike of each photo's first three likers."""
    records, expected = [], {}
    for copy in range(2):
        for photo in photos:
            for user in likers:
                like = LikeAdded(photo_id=photo, user_id=user, owner_id=owner)
                records.append((str(photo).encode(), encode(make(like, producer="test"))))
            expected[photo] = len(likers)
            if copy:
                for user in likers[:3]:
                    unlike = LikeRemoved(photo_id=photo, user_id=user, owner_id=owner)
                    records.append((str(photo).encode(), encode(make(unlike, producer="test"))))
                expected[photo] -= 3
    return records, expected


async def _publish(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer: AIOKafkaProducer = kafka.producer(settings, linger_ms=5)
    await producer.start()
    try:
        sends = [await producer.send(LIKES.name, value, key=key) for key, value in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _lag(settings: Settings) -> int:
    return (await consumer_lag(settings, [ENGAGEMENT_GROUP.group_id]))[0].total_lag


async def _until_caught_up(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await _lag(settings):
        assert time.monotonic() < deadline, "the engagement group did not catch up"
        await asyncio.sleep(0.5)


async def _until_empty(settings: Settings, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with admin_client(settings) as admin:
        while (await group_state(admin, ENGAGEMENT_GROUP.group_id)).members:
            assert time.monotonic() < deadline, "the engagement group kept a member"
            await asyncio.sleep(1)


async def _counts(session: Session, photos: list[int]) -> dict[int, int]:
    found = await engagement.engagement_counts(session, photos)
    return {p: found[p][0] for p in photos}


async def test_two_copies_a_kill_9_mid_batch_and_a_replay_leave_every_like_count_exact(
        stack: Settings, cassandra_session: Session, tmp_path: Path) -> None:
    owner = random_id()
    photos = [random_id() for _ in range(PHOTOS)]
    likers = [random_id() for _ in range(LIKERS)]
    records, expected = _records(photos, likers, owner)
    log = tmp_path / "engagement.log"
    paxos_before = (await table_ops(cassandra_session)).get(PAXOS_WRITES, 0)
    began = datetime.now(UTC)

    first = _start(log)
    second: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.sleep(3)
        half = len(records) // 2
        await _publish(stack, records[:half])
        second = _start(log)  # joins mid-stream: a rebalance while batches are in flight
        await _publish(stack, records[half:])
        await asyncio.sleep(4)
        first.send_signal(signal.SIGKILL)  # no drain, no commit: its batch is redelivered
        await asyncio.to_thread(first.wait, 10)
        # The dead member keeps its partitions until its session times out.
        await _until_caught_up(stack, 180)
        assert await _counts(cassandra_session, photos) == expected, log.read_text()[-3000:]
        paxos = (await table_ops(cassandra_session)).get(PAXOS_WRITES, 0) - paxos_before
        assert paxos == 0, f"{paxos} Paxos writes for likes"

        # A replay of everything since the test began (an operator rewinding the group
        # an hour, say) changes nothing.
        assert second is not None
        await stop_processes([second], grace=30)
        await _until_empty(stack)  # the SIGKILLed member lingers until its session expires
        await reset_offsets(stack, ENGAGEMENT_GROUP.group_id, LIKES.name, began)
        second = _start(log)
        await _until_caught_up(stack, 180)
        assert await _counts(cassandra_session, photos) == expected
        for photo in photos[:3]:
            assert sorted(await engagement.likers(cassandra_session, photo, limit=100)) == \
                sorted(likers[3:])
    finally:
        await stop_processes([p for p in (first, second) if p is not None], grace=30)
