"""Losing a node of each engine mid-run: nothing accepted is lost, service goes on.

Each test prints its figures (time to recover, records re-processed) with -s.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import pytest
from cassandra import ConsistencyLevel
from cassandra.cluster import Session

from api.feed import FeedReader
from infra.connect import redis as redis_connect
from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from infra.settings import Settings
from operate.stack import cluster
from schemas.engagement import LikeAdded
from schemas.envelope import make
from schemas.topics import MEDIA_UPLOADED
from sinks import durable_timelines
from sinks.counted import edge_count
from sinks.engagement import LIKES
from sinks.photos import photo_count
from sinks.redis_timelines import RedisTimelines
from tests.cluster.fleet import Fleet, eventually
from tests.cluster.nodes import (
    busiest_leader,
    fully_replicated,
    redis_master_of,
    redis_role,
    revive,
    sigkill,
)
from tests.cluster.world import PRODUCER, World, all_ready, make_world, upload_one

pytestmark = [pytest.mark.stack, pytest.mark.cluster]


@dataclass
class Uploads:
    """A steady stream of uploads, recording what was accepted and when."""

    client: httpx.AsyncClient
    settings: Settings
    author: int
    accepted: list[tuple[float, int]] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    slowest: float = 0.0
    running: bool = True

    async def run(self) -> None:
        index = 0
        while self.running:
            began = time.monotonic()
            photo_id = await upload_one(self.client, self.settings, self.author, index)
            self.slowest = max(self.slowest, time.monotonic() - began)
            if photo_id is None:
                self.refused.append(began)
            else:
                self.accepted.append((began, photo_id))
            index += 1
            await asyncio.sleep(0.3)

    def accepted_since(self, moment: float) -> int:
        return sum(1 for at, _ in self.accepted if at >= moment)

    @property
    def ids(self) -> list[int]:
        return [photo_id for _, photo_id in self.accepted]


async def _stream(stack: Settings, fleet: Fleet, world: World) -> tuple[Uploads, asyncio.Task]:
    ingest = fleet.copies["ingest"]
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest.port}", timeout=60)
    uploads = Uploads(client, stack, world.author)
    return uploads, asyncio.create_task(uploads.run())


async def _stop(uploads: Uploads, task: asyncio.Task) -> None:
    uploads.running = False
    await task
    await uploads.client.aclose()


async def test_kafka_leader_sigkill_loses_no_accepted_upload(
        stack: Settings, session: Session, fleet: Fleet) -> None:
    await fleet.start("processors", "process", "all")
    await fleet.start("ingest", "ingest")
    world = await make_world(stack, session, followers=2)
    uploads, task = await _stream(stack, fleet, world)
    await eventually("5 uploads accepted", lambda: _true(len(uploads.accepted) >= 5))

    leader = await busiest_leader(stack, MEDIA_UPLOADED.name)
    broker = cluster.kafka_nodes(stack)[leader - 1]
    sigkill(broker)
    killed = time.monotonic()
    first = await eventually("an upload accepted after the kill",
                             lambda: _true(uploads.accepted_since(killed) >= 1), timeout=120)
    await eventually("5 more uploads accepted", lambda: _true(uploads.accepted_since(killed) >= 5),
                     timeout=120)
    back = time.monotonic()
    await revive(broker)
    caught_up = await eventually("upload partitions back to 3 in-sync replicas",
                                 lambda: fully_replicated(stack, MEDIA_UPLOADED.name), timeout=180)
    await _stop(uploads, task)
    ids = uploads.ids
    processed = await eventually(f"all {len(ids)} accepted uploads ready",
                                 lambda: all_ready(session, ids), timeout=300)
    print(f"\nkafka: SIGKILL broker {leader} (leader of most upload partitions): first upload "
          f"accepted {first:.1f} s after; {len(ids)} accepted, {len(uploads.refused)} refused "
          f"(never acknowledged), slowest upload {uploads.slowest:.1f} s; broker restarted in "
          f"{back - killed:.0f} s, ISR full again {caught_up:.1f} s after its restart; "
          f"0 of {len(ids)} accepted lost (all ready {processed:.1f} s after the last)")


async def test_redis_master_sigkill_replica_takes_over(
        stack: Settings, session: Session, fleet: Fleet) -> None:
    await fleet.start("processors", "process", "all")
    await fleet.start("ingest", "ingest")
    world = await make_world(stack, session, followers=3)
    rds = redis_connect.client(stack)
    reader = FeedReader(session, rds, stack)
    try:
        uploads, task = await _stream(stack, fleet, world)
        await eventually("3 uploads accepted", lambda: _true(len(uploads.accepted) >= 3))
        uploads.running = False
        await task
        before = uploads.ids
        fan = world.followers[0]
        await eventually("feeds filled", lambda: _in_feeds(reader, world, before), timeout=120)

        port = await redis_master_of(RedisTimelines(rds, stack.timelines.redis_cap).key(fan))
        node = next(n for n in cluster.redis_nodes(stack) if n.endpoint().endswith(f":{port}"))
        sigkill(node)
        killed = time.monotonic()
        served = await eventually("feed served again", lambda: _has(reader, fan, before),
                                  timeout=60)
        promoted = await eventually("cluster ok", _cluster_ok, timeout=60)
        uploads.running = True
        task = asyncio.create_task(uploads.run())
        await eventually("2 uploads after the failover",
                         lambda: _true(uploads.accepted_since(killed) >= 2), timeout=60)
        await _stop(uploads, task)
        delivered = await eventually("fan-out delivers after the failover",
                                     lambda: _in_feeds(reader, world, uploads.ids), timeout=180)
        await revive(node)
        await eventually("cluster ok with the old master back", _cluster_ok, timeout=60)
        role = await redis_role(port)
        assert role == "slave", f"the old master should rejoin as a replica, is {role}"
    finally:
        await rds.aclose()
    print(f"\nredis: SIGKILL master :{port} (owner of {fan}'s timeline slot): feed served "
          f"again after {served:.1f} s, cluster ok after {promoted:.1f} s more; new uploads in "
          f"all {len(world.followers)} feeds {delivered:.1f} s after upload; old master "
          f"rejoined as {role}")


async def test_cassandra_node_down_quorum_goes_on_and_converges(
        stack: Settings, session: Session, fleet: Fleet) -> None:
    await fleet.start("processors", "process", "all")
    await fleet.start("ingest", "ingest")
    node = cluster.cassandra_nodes(stack)[2]
    began = time.monotonic()
    await node.stop()
    stopped = time.monotonic() - began
    rds = redis_connect.client(stack)
    reader = FeedReader(session, rds, stack)
    try:
        world = await make_world(stack, session, followers=2)  # follows written at quorum
        uploads, task = await _stream(stack, fleet, world)
        await eventually("3 uploads accepted", lambda: _true(len(uploads.accepted) >= 3))
        await _stop(uploads, task)
        ids = uploads.ids
        ready = await eventually("uploads ready with a node down",
                                 lambda: all_ready(session, ids), timeout=180)
        await eventually("feeds read at quorum", lambda: _in_feeds(reader, world, ids),
                         timeout=120)
    finally:
        await rds.aclose()
    back = time.monotonic()
    await revive(node)
    restart = time.monotonic() - back
    converged = await eventually("the restarted node has the rows written without it",
                                 lambda: _node_has(node.address, stack, ids), timeout=180)
    print(f"\ncassandra: stopped {node.name} ({stopped:.0f} s); {len(ids)} uploads ready "
          f"{ready:.1f} s later and feeds served at {stack.cassandra.consistency}; node back in "
          f"{restart:.0f} s, had every row (hints replayed) {converged:.1f} s after")


async def test_two_copies_of_a_processor_one_sigkilled_counts_exact(
        stack: Settings, session: Session, fleet: Fleet) -> None:
    await fleet.start("engagement-a", "process", "engagement")
    await fleet.start("engagement-b", "process", "engagement")
    run = int(time.time() * 1000) % 10**9
    photos = [run * 1000 + p for p in range(40)]
    users = [run * 1000 + 500 + u for u in range(15)]
    likes = [make(LikeAdded(photo_id=p, user_id=u, owner_id=1), producer=PRODUCER)
             for u in users for p in photos]

    async def publish() -> None:
        async with Publisher(stack) as publisher:
            for i in range(0, len(likes), 40):
                await publisher.publish_many(likes[i:i + 40])
                # Publish each like twice: a redelivery must not count twice either.
                await publisher.publish_many(likes[i:i + 10])
                await asyncio.sleep(0.1)

    sender = asyncio.create_task(publish())
    metric = "photostream_events_processed_total"
    done_a = 0.0

    async def a_busy() -> bool:
        nonlocal done_a
        done_a = await fleet.metric("engagement-a", metric)
        return done_a >= 100

    await eventually("copy a has processed 100 likes", a_busy, timeout=120)
    fleet.kill("engagement-a")
    killed = time.monotonic()
    await sender
    counted = await eventually("every like counted", lambda: _counts(session, photos, 15),
                               timeout=240)
    done_b = await fleet.metric("engagement-b", metric)
    sent = len(likes) + len(likes) // 4
    counts = [await edge_count(session, LIKES, p) for p in photos]
    assert counts == [len(users)] * len(photos), counts
    print(f"\ncompeting consumers: 2 engagement copies, SIGKILL one after it processed "
          f"{done_a:.0f}: all {len(likes)} likes counted exactly once (of {sent} records, "
          f"{sent - len(likes)} duplicates) {counted:.1f} s after the kill; survivor "
          f"processed {done_b:.0f}, so >= {max(0, done_a + done_b - sent):.0f} records were "
          f"re-processed after the rebalance")
    assert time.monotonic() >= killed


async def test_two_copies_of_every_processor_one_sigkilled_timelines_once(
        stack: Settings, session: Session, fleet: Fleet) -> None:
    """Every processor twice in the same groups; SIGKILL one copy mid-stream of uploads.

    The survivor takes the dead copy's partitions and re-processes what it had not
    committed: each photo must still be ready, listed and counted once under its author,
    and in every follower's hot (Redis) and durable (Cassandra) timeline exactly once.
    """
    await fleet.start("processors-a", "process", "all")
    await fleet.start("processors-b", "process", "all")
    await fleet.start("ingest", "ingest")
    world = await make_world(stack, session, followers=2)
    rds = redis_connect.client(stack)
    try:
        hot = RedisTimelines(rds, stack.timelines.redis_cap)
        after_kill, done_a, ids, ready, delivered = await _kill_one_copy_mid_stream(
            stack, session, fleet, world, rds, hot)
        for fan in world.followers:
            hot_ids = await hot.read(fan, limit=stack.timelines.redis_cap)
            cold = await durable_timelines.read_page(session, fan, limit=1000)
            cold_ids = [e.photo_id for e in cold]
            for where, found in (("hot", hot_ids), ("durable", cold_ids)):
                assert sorted(found) == sorted(ids), f"{where} timeline of {fan}"
    finally:
        await rds.aclose()
    listed = await photo_count(session, world.author)
    assert listed == len(ids), f"author's photo_count {listed}, uploads {len(ids)}"
    done_b = await fleet.metric("processors-b", COPY_METRIC)
    print(f"\ncompeting processors: 2 copies of every processor, SIGKILL one after it "
          f"processed {done_a:.0f} events; {len(ids)} uploads ({after_kill} after the kill) all "
          f"ready {ready:.1f} s after the last upload, each exactly once in "
          f"{len(world.followers)} hot and durable timelines {delivered:.1f} s later, "
          f"photo_count exact ({listed}); survivor processed {done_b:.0f} events")


COPY_METRIC = "photostream_events_processed_total"


async def _kill_one_copy_mid_stream(
        stack: Settings, session: Session, fleet: Fleet, world: World,
        rds: RedisClient, hot: RedisTimelines) -> tuple[int, float, list[int], float, float]:
    """Uploads flowing, SIGKILL copy a once it has done some work, wait for convergence.

    Returns (uploads accepted after the kill, events copy a had processed, all accepted
    ids, seconds until all ready, seconds until all in every timeline).
    """
    for fan in world.followers:
        # A first read builds the hot timeline; fan-out only edits timelines that exist.
        await FeedReader(session, rds, stack).home(fan, limit=10)
        assert await hot.exists(fan)
    uploads, task = await _stream(stack, fleet, world)

    async def a_busy() -> bool:
        # Mid-stream: uploads flowing and copy a past its share of any older backlog.
        return (len(uploads.accepted) >= 5
                and await fleet.metric("processors-a", COPY_METRIC) >= 20)

    await eventually("5 uploads accepted, copy a has processed 20 events", a_busy,
                     timeout=120)
    done_a = await fleet.metric("processors-a", COPY_METRIC)
    fleet.kill("processors-a")
    killed = time.monotonic()
    await eventually("10 uploads accepted after the kill",
                     lambda: _true(uploads.accepted_since(killed) >= 10), timeout=120)
    await _stop(uploads, task)
    ids = uploads.ids
    ready = await eventually(f"all {len(ids)} uploads ready",
                             lambda: all_ready(session, ids), timeout=240)
    delivered = await eventually("every upload in every hot and durable timeline",
                                 lambda: _timelines_hold(session, hot, world, ids),
                                 timeout=240)
    return uploads.accepted_since(killed), done_a, ids, ready, delivered


async def _timelines_hold(session: Session, hot: RedisTimelines, world: World,
                          ids: list[int]) -> bool:
    for fan in world.followers:
        if not set(ids) <= set(await hot.read(fan, limit=len(ids) + 50)):
            return False
        cold = await durable_timelines.read_page(session, fan, limit=len(ids) + 50)
        if not set(ids) <= {e.photo_id for e in cold}:
            return False
    return True


async def _true(value: bool) -> bool:
    return value


async def _cluster_ok() -> bool:
    states = []
    for port in cluster.redis_ports():
        try:
            states.append((await cluster.redis_cluster_state(port)).get("cluster_state"))
        except OSError:
            continue  # the dead node
        except Exception:
            continue
    return bool(states) and all(s == "ok" for s in states)


async def _has(reader: FeedReader, user: int, ids: list[int]) -> bool:
    return set(ids) <= set(await reader.home(user, limit=100))


async def _in_feeds(reader: FeedReader, world: World, ids: list[int]) -> bool:
    return all([await _has(reader, fan, ids) for fan in world.followers])


async def _counts(session: Session, photos: list[int], want: int) -> bool:
    return all([await edge_count(session, LIKES, p) == want for p in photos])


async def _node_has(address: str, stack: Settings, ids: list[int]) -> bool:
    """Read at ONE from ``address`` alone: only its own replica answers."""
    def query() -> bool:
        only = cluster.only_node(address, stack.cassandra.port)
        try:
            sess = only.connect(stack.cassandra.keyspace)
            found = 0
            for photo_id in ids:
                stmt = sess.prepare("SELECT photo_id FROM photos WHERE photo_id = ?")
                stmt.consistency_level = ConsistencyLevel.ONE
                found += len(list(sess.execute(stmt, (photo_id,))))
            return found == len(ids)
        finally:
            only.shutdown()

    return await asyncio.to_thread(query)
