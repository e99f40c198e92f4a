"""Fan-out end to end on the real stack: events on Kafka, the planner and worker running
(in-process Runners, or real ``photostream process`` subprocesses for the crash test),
timelines checked in Redis and Cassandra and through ``FeedReader.home``.

The graph is seeded with the graph sinks directly (the graph processor is not running
here): the fan-out only reads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from cassandra.cluster import Session
from cassandra.query import BatchStatement

from api.feed import FeedReader
from infra.connect import kafka
from infra.connect import redis as redis_connect
from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from infra.settings import REPO_ROOT, RedisSettings, Settings, get_settings
from operate.commands.timelines import rebuild
from operate.ops.lag import consumer_lag
from operate.processes import stop_processes
from schemas.envelope import Event, make
from schemas.graph import FollowApproved, FollowRemoved, FollowRequested
from schemas.media import Derivative, PhotoDeleted, PhotoProcessed, Placeholder
from schemas.payload import Payload
from schemas.topics import FANOUT_GROUP, FANOUT_WORKER_GROUP
from sinks import cache, graph, users, withdrawn
from sinks.durable_timelines import newest_ids
from sinks.reader_activity import set_activity
from sinks.redis_timelines import RedisTimelines
from sinks.statements import QUORUM
from sinks.timelines import Timelines
from tests.integration.waiting import eventually
from tests.support.ids import random_id, time_id
from tests.support.processors import running

pytestmark = [pytest.mark.stack, pytest.mark.slow]

def ev(payload: Payload) -> Event[Payload]:
    return make(payload, producer="tests")


def processed(photo_id: int, owner_id: int) -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner_id, media_kind="photo", original_width=64,
        original_height=48, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"{photo_id}/t.jpg", width=64, height=48,
                                bytes=10, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#000000", blurhash=None),
        caption="", title="", location=None)


def pipeline(settings: Settings, *, worker: bool = True) -> AbstractAsyncContextManager[None]:
    """The planner (and worker) as in-process Runners for the duration of a test."""
    return running(settings, *(["fanout", "fanout-worker"] if worker else ["fanout"]))


async def publish(settings: Settings, *payloads: Payload) -> list[RecordMetadata]:
    async with Publisher(settings) as pub:
        return await pub.publish_many([ev(p) for p in payloads])


async def consumed(settings: Settings, group: str, sent: Sequence[RecordMetadata]) -> None:
    """Wait until ``group`` committed past every record in ``sent``."""
    admin = kafka.admin(settings)
    await admin.start()
    try:
        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(group)
            return all(
                (done := offsets.get(TopicPartition(m.topic, m.partition))) is not None
                and done.offset > m.offset for m in sent)
        await eventually(committed)
    finally:
        await admin.close()


@pytest.fixture
def hot(redis_client: RedisClient, settings: Settings) -> RedisTimelines:
    return RedisTimelines(redis_client, settings.timelines.redis_cap)


def reader(s: Session, r: RedisClient, settings: Settings) -> FeedReader:
    return FeedReader(s, r, settings, pull_refresh_seconds=0)


async def follow(s: Session, followee: int, *followers: int) -> None:
    for f in followers:
        await graph.follow(s, f, followee, datetime.now(UTC))
    await _followings_changed(followers)


async def _followings_changed(followers: Sequence[int]) -> None:
    """What the graph processor (not running here) does after an edge change: the read
    side's cached following lists of these users are stale now."""
    settings = get_settings()
    client = redis_connect.client(settings)
    try:
        await cache.invalidate(client, cache.FOLLOWING, followers)
    finally:
        await client.aclose()


async def test_follow_then_upload_reaches_everyone_once(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    author, f1, f2 = random_id(), random_id(), random_id()
    await follow(s, author, f1, f2)
    await hot.replace_many({u: [] for u in (author, f1, f2)})
    p = time_id()
    async with pipeline(stack):
        # the very same events twice (a producer retry): nothing changes
        for _ in range(2):
            await publish(stack, FollowApproved(follower_id=f1, followee_id=author),
                          processed(p, author), processed(p, author))

        async def everywhere() -> bool:
            return all([await hot.read(u, 10) == [p] and await newest_ids(s, u, 10) == [p]
                        for u in (author, f1, f2)])
        await eventually(everywhere)
        await asyncio.sleep(1)  # let any straggling duplicate land
        assert await everywhere()
    assert await reader(s, redis_client, stack).home(f1) == [p]


async def test_unfollow_and_delete_remove_from_timelines(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    author, f1, f2 = random_id(), random_id(), random_id()
    await follow(s, author, f1, f2)
    await hot.replace_many({u: [] for u in (author, f1, f2)})
    p1, p2 = time_id(), time_id()
    async with pipeline(stack):
        await publish(stack, processed(p1, author), processed(p2, author))

        async def delivered() -> bool:
            return all([await hot.read(u, 10) == [p2, p1] for u in (author, f1, f2)])
        await eventually(delivered)

        await graph.unfollow(s, f1, author)
        await _followings_changed([f1])
        await publish(stack, FollowRemoved(follower_id=f1, followee_id=author))

        async def unfollowed() -> bool:
            return await hot.read(f1, 10) == [] and await newest_ids(s, f1, 10) == []
        await eventually(unfollowed)

        await publish(stack, PhotoDeleted(photo_id=p2, owner_id=author))

        async def deleted() -> bool:
            return all([await hot.read(u, 10) == [p1] and await newest_ids(s, u, 10) == [p1]
                        for u in (author, f2)])
        await eventually(deleted)
    feed = reader(s, redis_client, stack)
    assert await feed.home(f2) == [p1]
    assert await feed.home(f1) == []


async def test_a_deletion_that_overtakes_its_post_never_reaches_a_hot_timeline(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    """The planner sees the deletion first (another topic), then plans the post blind:
    the worker pushes it, finds the withdrawn mark (sinks.withdrawn) and undoes it."""
    s = cassandra_session
    author, f1 = random_id(), random_id()
    await follow(s, author, f1)
    await hot.replace_many({u: [] for u in (author, f1)})
    gone, kept = time_id(), time_id()
    async with pipeline(stack):
        await consumed(stack, FANOUT_GROUP.group_id,
                       await publish(stack, PhotoDeleted(photo_id=gone, owner_id=author)))
        assert await withdrawn.is_withdrawn(redis_client, gone)
        await consumed(stack, FANOUT_GROUP.group_id,
                       await publish(stack, processed(gone, author), processed(kept, author)))

        async def worker_done() -> bool:
            [lag] = await consumer_lag(stack, [FANOUT_WORKER_GROUP.group_id])
            return lag.total_lag == 0
        await eventually(worker_done)
        for u in (author, f1):
            assert await hot.read(u, 10) == [kept]
            assert await newest_ids(s, u, 10) == [kept]


async def test_follow_backfills_recent_photos(
        stack: Settings, cassandra_session: Session, hot: RedisTimelines) -> None:
    s = cassandra_session
    author, fan = random_id(), random_id()
    p1, p2 = time_id(), time_id()
    async with pipeline(stack):
        await hot.replace(author, [])
        await publish(stack, processed(p1, author), processed(p2, author))
        await eventually(lambda: _is(hot.read(author, 10), [p2, p1]))
        await hot.replace(fan, [])
        await follow(s, author, fan)
        await publish(stack, FollowApproved(follower_id=fan, followee_id=author))

        async def backfilled() -> bool:
            return (await hot.read(fan, 10) == [p2, p1]
                    and await newest_ids(s, fan, 10) == [p2, p1])
        await eventually(backfilled)


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_private_author_never_reaches_a_pending_requester(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    author, approved, pending = random_id(), random_id(), random_id()
    await users.upsert_profile(s, author, f"priv{author % 10**9}", "", "", True,
                               datetime.now(UTC), registered=True)
    await follow(s, author, approved)
    assert await graph.request_follow(s, pending, author, datetime.now(UTC))
    await hot.replace_many({u: [] for u in (author, approved, pending)})
    p1, p2 = time_id(), time_id()
    async with pipeline(stack):
        sent = await publish(stack, processed(p1, author),
                             FollowRequested(follower_id=pending, followee_id=author),
                             processed(p2, author))
        await consumed(stack, "photostream-fanout", sent)
        await eventually(lambda: _is(hot.read(approved, 10), [p2, p1]))
    assert await graph.follower_count(s, author) == 1
    assert await hot.read(pending, 10) == []
    assert await newest_ids(s, pending, 10) == []
    assert await reader(s, redis_client, stack).home(pending) == []
    assert await reader(s, redis_client, stack).home(approved) == [p2, p1]


async def test_celebrities_are_pulled_and_crossing_the_threshold_keeps_feeds_right(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    tiny = dataclasses.replace(stack, timelines=dataclasses.replace(
        stack.timelines, celebrity_threshold=3))
    author, f1, f2, f3, f4 = (random_id() for _ in range(5))
    await follow(s, author, f1, f2)
    await hot.replace_many({u: [] for u in (author, f1, f2, f3, f4)})
    feed = reader(s, redis_client, tiny)
    p1, p2, p3 = time_id(), time_id(), time_id()
    async with pipeline(tiny):
        await publish(tiny, processed(p1, author))  # 2 followers: pushed
        await eventually(lambda: _is(hot.read(f1, 10), [p1]))

        await follow(s, author, f3, f4)  # 4 > 3: a celebrity now
        await publish(tiny, FollowApproved(follower_id=f3, followee_id=author),
                      FollowApproved(follower_id=f4, followee_id=author))
        await eventually(lambda: _is(hot.read(f4, 10), [p1]))  # backfilled
        await publish(tiny, processed(p2, author))
        await eventually(lambda: _is(hot.read(author, 10), [p2, p1]))  # own timeline
        for u in (f1, f2, f3, f4):
            assert await hot.read(u, 10) == [p1], "pulled, not pushed"
            assert await feed.home(u) == [p2, p1], "merged at read time"

        for u in (f3, f4):  # back to 2 followers: pushed again
            await graph.unfollow(s, u, author)
        await _followings_changed([f3, f4])
        await publish(tiny, FollowRemoved(follower_id=f3, followee_id=author),
                      FollowRemoved(follower_id=f4, followee_id=author))
        await eventually(lambda: _is(hot.read(f4, 10), []))
        await publish(tiny, processed(p3, author))
        await eventually(lambda: _is(hot.read(f1, 10), [p3, p1]))
    for u in (f1, f2, author):
        assert await feed.home(u) == [p3, p2, p1]
    for u in (f3, f4):
        assert await feed.home(u) == []
    assert await feed.home(f1, limit=2) == [p3, p2]
    assert await feed.home(f1, before=p2) == [p1]


async def test_inactive_follower_is_skipped_in_redis_and_rebuilt_on_return(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    author, active, sleeper = random_id(), random_id(), random_id()
    await follow(s, author, active, sleeper)
    feed = reader(s, redis_client, stack)
    for u in (author, active, sleeper):
        assert await feed.home(u) == []  # builds the hot timelines, marks them active
    long_ago = time.time() - (stack.timelines.inactive_after_days + 10) * 86_400
    timelines = Timelines(s, redis_client, hot)
    await set_activity(s, redis_client, hot, sleeper, long_ago)
    p = time_id()
    async with pipeline(stack):
        await publish(stack, processed(p, author))
        await eventually(lambda: _is(hot.read(active, 10), [p]))
        await eventually(lambda: _is(newest_ids(s, sleeper, 10), [p]))
    assert not await hot.exists(sleeper), "an inactive user's hot timeline is dropped"
    assert await timelines.inactive_among([sleeper, active]) == {sleeper}
    assert await feed.home(sleeper) == [p]  # back: rebuilt from Cassandra
    assert await hot.read(sleeper, 10) == [p]
    assert await timelines.inactive_among([sleeper]) == set()


# -- crash and loss ------------------------------------------------------------------

_FOLLOWER_ROW = "INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) IF NOT EXISTS"
_FOLLOWER_COUNT = "UPDATE followers SET follower_count = ? WHERE user_id = ? IF follower_count = ?"


def seed_followers(s: Session, author: int, followers: Sequence[int]) -> None:
    """Many edges of one author fast, in the LWT pattern of ``sinks.counted``: each
    conditional batch inserts a few hundred edges and moves the count with them
    (per-edge LWTs on one partition would contend for its Paxos state)."""
    row, count = s.prepare(_FOLLOWER_ROW), s.prepare(_FOLLOWER_COUNT)
    current: int | None = None
    since = datetime.now(UTC)
    for i in range(0, len(followers), 250):
        part = followers[i:i + 250]
        batch = BatchStatement(consistency_level=QUORUM)
        for f in part:
            batch.add(row, (author, f, since))
        batch.add(count, ((current or 0) + len(part), author, current))
        result = s.execute(batch).one()
        assert result["[applied]"], result
        current = (current or 0) + len(part)


def _worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(REPO_ROOT / ".venv" / "bin" / "photostream"), "process", "fanout-worker"],
        cwd=REPO_ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


async def test_sigkill_of_the_worker_mid_fanout_delivers_exactly_once(
        stack: Settings, cassandra_session: Session, redis_client: RedisClient,
        hot: RedisTimelines) -> None:
    s = cassandra_session
    author = random_id()
    followers = sorted(random_id() for _ in range(5_000))
    everyone = [author, *followers]
    await asyncio.to_thread(seed_followers, s, author, followers)
    assert await graph.follower_count(s, author) == 5_000
    for i in range(0, len(everyone), 1_000):
        await hot.replace_many({u: [] for u in everyone[i:i + 1_000]})
    chunked = dataclasses.replace(stack, timelines=dataclasses.replace(
        stack.timelines, fanout_chunk=100))
    p = time_id()
    marker = p.to_bytes(8, "big")

    async def delivered() -> int:
        pipe = redis_client.pipeline(transaction=False)
        for u in everyone:
            pipe.getrange(hot.key(u), 4, 11)  # the newest id in the timeline's header
        return sum(1 for v in await pipe.execute() if v == marker)

    worker = _worker()
    try:
        async with pipeline(chunked, worker=False):
            await publish(chunked, processed(p, author))
            deadline = time.monotonic() + 60
            while (done := await delivered()) == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            at_kill = await delivered()
            assert 0 < done <= at_kill < len(everyone), (done, at_kill)
            print(f"worker killed with {at_kill}/{len(everyone)} timelines delivered")

            worker = _worker()  # takes over after the dead member's session expires
            await eventually(lambda: _is(delivered(), len(everyone)), timeout=120)
    finally:
        await stop_processes([worker], grace=30)

    gate = asyncio.Semaphore(64)

    async def both(u: int) -> tuple[list[int], list[int]]:
        async with gate:
            return await hot.read(u, 10), await newest_ids(s, u, 10)
    found = await asyncio.gather(*(both(u) for u in everyone))
    assert all(pair == ([p], [p]) for pair in found), "every follower has it exactly once"
    await Timelines(s, redis_client, hot).drop_hot(everyone)  # tidy the shared Redis


async def test_redis_flush_then_rebuild_gives_the_same_timelines(
        stack: Settings, cassandra_session: Session) -> None:
    """Runs on its own Redis logical DB (15) so FLUSHDB touches nobody else's data."""
    s = cassandra_session
    base = stack.redis.url.rsplit("/", 1)[0]
    isolated = dataclasses.replace(stack, redis=RedisSettings(url=f"{base}/15"))
    r = redis_connect.client(isolated)
    try:
        await r.flushdb()
        hot = RedisTimelines(r, isolated.timelines.redis_cap)
        timelines = Timelines(s, r, hot)
        feed = reader(s, r, isolated)
        author, others = random_id(), [random_id() for _ in range(4)]
        readers = [author, *others]
        await follow(s, author, *others)
        for u in readers:
            await feed.home(u)  # built and active
        posts = [time_id() for _ in range(30)]
        for p in posts:  # what the worker does for each chunk
            await timelines.push(readers, p, author, datetime.now(UTC))
        before = {u: await hot.read(u, 1_000) for u in readers}
        feeds = {u: await feed.home(u, limit=20) for u in readers}
        assert before[author] == sorted(posts, reverse=True)

        await r.flushdb()
        assert not any([await hot.exists(u) for u in readers])
        rebuilt = await rebuild(isolated, None)  # photostream timelines rebuild --all
        assert rebuilt >= len(readers)
        assert {u: await hot.read(u, 1_000) for u in readers} == before

        await r.flushdb()
        assert await rebuild(isolated, [author]) == 1  # --user ID
        assert await hot.read(author, 1_000) == before[author]
        # the rest lazily, on their next read
        assert {u: await feed.home(u, limit=20) for u in readers} == feeds
        assert {u: await hot.read(u, 1_000) for u in readers} == before
    finally:
        await r.flushdb()
        await r.aclose()


def test_rebuild_cli_parses() -> None:
    from operate.cli import build_parser
    args = build_parser().parse_args(["timelines", "rebuild", "--user", "7", "--user", "8"])
    assert args.user == [7, 8] and not args.all
    assert build_parser().parse_args(["timelines", "rebuild", "--all"]).all
