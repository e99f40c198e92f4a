"""The whole pipeline on the cluster: upload -> derivatives -> metadata -> fan-out -> feed.

Same services, same code as on the single-node stack; only the PHOTOSTREAM_* variables
differ (3 brokers at RF 3 / min ISR 2, 3 Cassandra nodes at RF 3 and LOCAL_QUORUM, a
6-node Redis Cluster). The read goes through the HTTP read API, as a client's would.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from cassandra.cluster import Session

from infra.connect import kafka, s3
from infra.http.auth import mint
from infra.settings import Settings
from schemas.topics import TOPICS
from sinks import photos as photo_rows
from sinks.search import photos_with_hashtag
from tests.cluster.fleet import Fleet, eventually, upload
from tests.cluster.world import make_world
from tests.support.images import numbered_jpeg

pytestmark = [pytest.mark.stack, pytest.mark.cluster]


async def test_topics_and_keyspace_are_replicated_three_times(stack: Settings,
                                                              session: Session) -> None:
    admin = kafka.admin(stack)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in TOPICS])
        brokers = (await admin.describe_cluster())["brokers"]
    finally:
        await admin.close()
    assert len(brokers) == 3
    for topic in described:
        for partition in topic["partitions"]:
            assert len(partition["replicas"]) == 3, (topic["topic"], partition)
    ks = session.execute("SELECT replication FROM system_schema.keyspaces "
                         "WHERE keyspace_name = %s", (stack.cassandra.keyspace,)).one()
    assert ks["replication"]["datacenter1"] == "3"
    peers = list(session.execute("SELECT peer FROM system.peers_v2"))
    assert len(peers) == 2


async def test_upload_to_feed_on_the_cluster(stack: Settings, session: Session,
                                             fleet: Fleet) -> None:
    await fleet.start("processors", "process", "all")
    world = await make_world(stack, session, followers=3)
    ingest = await fleet.start("ingest", "ingest")
    tag = f"cl{int(time.time())}"
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest.port}",
                                 timeout=60) as client:
        token = mint(world.author, stack)
        ids = []
        for i in range(3):
            response = await upload(client, token, numbered_jpeg(i), f"on the cluster #{tag}")
            assert response.status_code == 202, response.text
            ids.append(int(response.json()["photo_id"]))

    async def ready() -> bool:
        rows = await photo_rows.get_photos(session, ids)
        return len(rows) == 3 and all(r.ready for r in rows.values())

    await eventually("3 photos ready", ready, timeout=180)
    minio = s3.client(stack)
    for row in (await photo_rows.get_photos(session, ids)).values():
        assert {d["name"] for d in row.derivatives} >= {"thumb", "large"}
        for d in row.derivatives:
            await asyncio.to_thread(minio.stat_object, stack.s3.media_bucket, d["key"])

    async def indexed() -> bool:
        return set(ids) <= set(await photos_with_hashtag(session, tag))

    await eventually("hashtag search", indexed, timeout=60)
    feeds = await _http_feeds(stack, fleet, world.followers, ids)
    seconds = time.monotonic() - began
    print(f"\npipeline on the cluster: 3 uploads -> ready, indexed and in "
          f"{len(feeds)} feeds in {seconds:.1f} s")


async def _http_feeds(stack: Settings, fleet: Fleet, followers: tuple[int, ...],
                      ids: list[int]) -> dict[int, list[int]]:
    """Every follower's home feed over the read API's HTTP, once all ids arrived."""
    api = await fleet.start("api", "api")
    feeds: dict[int, list[int]] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}", timeout=30) as http:
        for fan in followers:
            async def arrived(fan: int = fan) -> bool:
                page = await http.get("/v1/feed", headers={
                    "Authorization": f"Bearer {mint(fan, stack)}"})
                got = [int(item["photo_id"]) for item in page.json()["items"]]
                feeds[fan] = got
                return set(ids) <= set(got)

            await eventually(f"feed of {fan}", arrived, timeout=120)
    return feeds
