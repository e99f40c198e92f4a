"""Follower and following counts stay exact without Paxos through the races of owning.

The graph processor writes ``followers`` as the followee's single writer and repartitions
each edge onto ``photostream.following``, whose owner (the following processor) mirrors
it into ``following`` (``sinks/graph.py``). These tests break the single-writer trust
the ways production does, for both processors at once: a second copy of each joining
mid-stream (a rebalance while batches are in flight), ``kill -9`` of the first copies
(no drain, no commit), every follow sent twice, unfollows before follows of the same
edge within a key, an unfollow whose clock is older than its follow, and a replay of the
follows topic from an earlier offset.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cassandra.cluster import Session

from bench.cassandra_ops import PAXOS_WRITES, table_ops
from bench.follows import publish_follows
from bench.synthetic import skip_synthetic
from infra.settings import Settings
from operate.ops.cluster import admin_client
from operate.ops.groups import group_state
from operate.ops.lag import consumer_lag
from operate.ops.replay import reset_offsets
from operate.processes import stop_processes
from schemas.envelope import encode, make
from schemas.graph import FollowApproved, FollowRemoved
from schemas.topics import FOLLOWING_GROUP, FOLLOWS, GRAPH_GROUP
from sinks import graph
from tests.support.ids import random_id

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
FOLLOWEES = 40
FOLLOWERS = 60
GROUPS = (GRAPH_GROUP.group_id, FOLLOWING_GROUP.group_id)

Expected = dict[tuple[int, int], bool]


def _start(name: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "operate.cli", "process", name,
                                 "--metrics-port", "0"],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _record(payload: FollowApproved | FollowRemoved, at: datetime) -> tuple[bytes, bytes]:
    event = make(payload, producer="test", occurred_at=at)
    return str(payload.followee_id).encode(), encode(event)


def _records(followees: list[int], followers: list[int]
             ) -> tuple[list[tuple[bytes, bytes]], Expected]:
    """Every follow twice; per followee, an unfollow of the first three followers (the
    third with a clock older than its follow); and for the fourth, its unfollow first,
    then its follow (log order wins: followed)."""
    now = datetime.now(UTC)
    records: list[tuple[bytes, bytes]] = []
    expected: Expected = {}
    for followee in followees:
        fourth = followers[3]
        records.append(_record(FollowRemoved(follower_id=fourth, followee_id=followee), now))
    for copy in range(2):
        for followee in followees:
            for follower in followers:
                follow = FollowApproved(follower_id=follower, followee_id=followee)
                records.append(_record(follow, now))
                expected[(follower, followee)] = True
            if copy:
                for i, follower in enumerate(followers[:3]):
                    clock = now - timedelta(minutes=5) if i == 2 else now
                    unfollow = FollowRemoved(follower_id=follower, followee_id=followee)
                    records.append(_record(unfollow, clock))
                    expected[(follower, followee)] = False
    return records, expected


async def _until_caught_up(settings: Settings, timeout: float) -> None:
    """Both groups at lag 0, the following group after the graph group (it is fed by it)."""
    deadline = time.monotonic() + timeout
    for group in GROUPS:
        while (await consumer_lag(settings, [group]))[0].total_lag:
            assert time.monotonic() < deadline, f"{group} did not catch up"
            await asyncio.sleep(0.5)


async def _until_empty(settings: Settings, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with admin_client(settings) as admin:
        for group in GROUPS:
            while (await group_state(admin, group)).members:
                assert time.monotonic() < deadline, f"{group} kept a member"
                await asyncio.sleep(1)


async def _assert_exact(s: Session, followees: list[int], followers: list[int],
                        expected: Expected, log: Path) -> None:
    for followee in followees:
        want = sorted(f for f in followers if expected[(f, followee)])
        page = await graph.followers_page(s, followee, limit=1000)
        assert (page, await graph.follower_count(s, followee)) == (want, len(want)), log
    for follower in followers:
        want = sorted(e for e in followees if expected[(follower, e)])
        assert sorted(await graph.following(s, follower)) == want, log
        assert await graph.following_count(s, follower) == len(want)


async def test_two_copies_a_kill_9_mid_batch_and_a_replay_leave_every_follow_count_exact(
        stack: Settings, cassandra_session: Session, tmp_path: Path) -> None:
    followees = [random_id() for _ in range(FOLLOWEES)]
    followers = [random_id() for _ in range(FOLLOWERS)]
    records, expected = _records(followees, followers)
    log = tmp_path / "processors.log"
    s = cassandra_session
    paxos_before = (await table_ops(s)).get(PAXOS_WRITES, 0)
    began = datetime.now(UTC)

    first = [_start("graph", log), _start("following", log)]
    second: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.sleep(3)
        half = len(records) // 2
        await publish_follows(stack, records[:half])
        second = [_start("graph", log), _start("following", log)]  # rebalances in flight
        await publish_follows(stack, records[half:])
        await asyncio.sleep(1)
        backlog = (await consumer_lag(stack, [GRAPH_GROUP.group_id]))[0].total_lag
        for proc in first:
            proc.send_signal(signal.SIGKILL)  # no drain, no commit: redelivered
        for proc in first:
            await asyncio.to_thread(proc.wait, 10)
        # The dead members keep their partitions until their sessions time out.
        await _until_caught_up(stack, 240)
        await _assert_exact(s, followees, followers, expected, log)
        print(f"graph lag when the first copies were killed: {backlog}")
        paxos = (await table_ops(s)).get(PAXOS_WRITES, 0) - paxos_before
        assert paxos == 0, f"{paxos} Paxos writes for follows"

        # A replay of the follows topic since the test began changes nothing.
        await stop_processes(second, grace=30)
        await _until_empty(stack)
        await reset_offsets(stack, GRAPH_GROUP.group_id, FOLLOWS.name, began)
        second = [_start("graph", log), _start("following", log)]
        await _until_caught_up(stack, 240)
        await _assert_exact(s, followees, followers, expected, log)
    finally:
        await stop_processes([*first, *second], grace=30)
        await skip_synthetic(stack, FOLLOWS, GRAPH_GROUP)  # else the next tests wait behind them
