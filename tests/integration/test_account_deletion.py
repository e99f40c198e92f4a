"""Account deletion (``DELETE /v1/me``) end to end, against the real stack.

A person with real photos (uploaded through ingest, rendered by the media processor into
MinIO), likes and comments on other people's photos, follows both ways, entries in their
followers' timelines and search hits deletes their account. Afterwards nothing of theirs
is readable anywhere and the counts of the others are right again; their token is
refused at once by both services; a redelivered ``user.deleted`` changes nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cassandra.cluster import Session
from minio import Minio

from infra.connect.redis import RedisClient
from infra.settings import Settings
from processors.media.processor import MediaProcessor
from processors.runtime import Runner
from schemas.users import UserDeleted
from sinks import engagement, graph, users
from sinks.durable_timelines import newest_ids
from sinks.media_keys import original_key
from sinks.photo_objects import derivatives_prefix
from sinks.redis_timelines import RedisTimelines
from tests.integration.readside import Person, ReadWorld, read_world
from tests.integration.test_ingest_writes import _client, problem
from tests.integration.waiting import eventually
from tests.support.images import jpeg_bytes

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    media = Runner(MediaProcessor(stack), stack, backoff=0.1)
    task = asyncio.create_task(media.run())
    try:
        async with read_world(stack) as w:
            yield w
    finally:
        media.stop()
        await asyncio.wait_for(task, timeout=60)


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(world.settings):
        yield client


async def upload(ingest: httpx.AsyncClient, world: ReadWorld, who: Person,
                 caption: str) -> int:
    """A real upload through ingest, waited for until the media processor made it ready."""
    r = await ingest.post("/v1/media", headers=who.auth, data={"caption": caption},
                          files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 202, r.text
    photo_id = int(r.json()["photo_id"])

    async def ready() -> bool:
        got = await world.get(f"/v1/photos/{photo_id}", who)
        return got.status_code == 200 and got.json()["status"] == "ready"
    await eventually(ready, timeout=120)
    return photo_id


def objects(s3: Minio, settings: Settings, photo_id: int) -> list[str]:
    """The derivative keys of ``photo_id`` in the media bucket."""
    return [str(o.object_name) for o in s3.list_objects(
        settings.s3.media_bucket, prefix=derivatives_prefix(photo_id), recursive=True)]


async def card(world: ReadWorld, photo_id: int, viewer: Person) -> dict[str, Any]:
    r = await world.get(f"/v1/photos/{photo_id}", viewer)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def counts(world: ReadWorld, who: Person) -> dict[str, int]:
    r = await world.get(f"/v1/users/{who.user_id}", who)
    assert r.status_code == 200, r.text
    found: dict[str, int] = r.json()["counts"]
    return found


async def commenters(world: ReadWorld, photo_id: int, viewer: Person) -> set[str]:
    r = await world.get(f"/v1/photos/{photo_id}/comments", viewer)
    assert r.status_code == 200, r.text
    return {c["user"]["user_id"] for c in r.json()["items"]}


async def test_deleting_an_account_leaves_nothing_of_it_and_others_counts_right(
        world: ReadWorld, ingest: httpx.AsyncClient, cassandra_session: Session,
        redis_client: RedisClient, s3_client: Minio) -> None:
    settings, s = world.settings, cassandra_session
    alice, bob, carol = await world.user(), await world.user(), await world.user()
    tag = f"erase{random.getrandbits(40):x}"

    # Follows both ways: alice follows bob; bob and carol follow alice.
    await world.follow(alice, bob)
    await world.follow(bob, alice)
    await world.follow(carol, alice)
    # Alice's photos: real uploads, so real derivatives in MinIO, pushed to her followers.
    mine = [await upload(ingest, world, alice, f"sunny #{tag}") for _ in range(2)]
    for pid in mine:
        assert objects(s3_client, settings, pid), "the media processor wrote no derivatives"
    # Others' photos, which alice likes and comments on (and so does carol).
    bobs, carols = await world.photo(bob, "bob's"), await world.photo(carol, "carol's")
    for who, pid, owner in ((alice, bobs, bob), (carol, bobs, bob), (alice, carols, carol)):
        await world.like(who, pid, owner)
    for who, text in ((alice, "one"), (alice, "two"), (carol, "three")):
        await world.comment(who, bobs, bob, text)
    await world.comment(bob, mine[0], alice, "on alice's photo")

    async def everything_applied() -> bool:
        b, c = await card(world, bobs, bob), await card(world, carols, carol)
        feeds = [set(await world.feed_ids(f)) for f in (bob, carol)]
        hits = (await world.get("/v1/search", bob, q=f"#{tag}")).json()["photos"]
        return ((b["like_count"], b["comment_count"], c["like_count"]) == (2, 3, 1)
                and all(set(mine) <= feed for feed in feeds)
                and {int(h["photo_id"]) for h in hits} == set(mine))
    await eventually(everything_applied, timeout=90)
    assert await counts(world, bob) == {"photos": 1, "followers": 1, "following": 1}
    assert (await world.get("/v1/search", bob, q=alice.username)).json()["users"]

    started = time.monotonic()
    r = await ingest.delete("/v1/me", headers=alice.auth)
    assert r.status_code == 202, r.text

    # At once, before any processor: her token is refused by both services.
    problem(await ingest.patch("/v1/me", headers=alice.auth, json={"bio": "x"}), 401)
    problem(await world.get("/v1/me", alice), 401)
    problem(await ingest.delete("/v1/me", headers=alice.auth), 401)

    async def nothing_of_alice_left() -> bool:
        return await _nothing_left(world, s, redis_client, s3_client, alice, bob, carol,
                                   mine, bobs, carols, tag)
    await eventually(nothing_of_alice_left, timeout=120)
    print(f"account deleted everywhere {time.monotonic() - started:.1f}s after the 202")
    assert await counts(world, bob) == {"photos": 1, "followers": 0, "following": 0}
    assert await counts(world, carol) == {"photos": 1, "followers": 0, "following": 0}
    assert await users.user_id_for(s, alice.username) is None, "the username is free again"

    # A redelivered user.deleted (at-least-once) changes nothing.
    await world.publish(UserDeleted(user_id=alice.user_id))
    await asyncio.sleep(3)
    assert await _nothing_left(world, s, redis_client, s3_client, alice, bob, carol,
                               mine, bobs, carols, tag)
    assert await counts(world, bob) == {"photos": 1, "followers": 0, "following": 0}
    assert await engagement.like_count(s, bobs) == 1


async def _nothing_left(world: ReadWorld, s: Session, redis: RedisClient, s3: Minio,
                        alice: Person, bob: Person, carol: Person, mine: list[int],
                        bobs: int, carols: int, tag: str) -> bool:
    """Every check of the deletion, each a reason to keep waiting while false."""
    settings = world.settings
    hot = RedisTimelines(redis, settings.timelines.redis_cap)
    a = str(alice.user_id)
    b, c = await card(world, bobs, bob), await card(world, carols, carol)
    checks = {
        "profile 404": (await world.get(f"/v1/users/{alice.user_id}", bob)).status_code == 404,
        "by username 404": (await world.get(f"/v1/users/by-username/{alice.username}",
                                            bob)).status_code == 404,
        "photos 404": all([(await world.get(f"/v1/photos/{p}", bob)).status_code == 404
                           for p in mine]),
        "derivatives gone": not any(objects(s3, settings, p) for p in mine),
        "originals gone": not any(list(s3.list_objects(settings.s3.originals_bucket,
                                                       prefix=original_key(p)))
                                  for p in mine),
        "likes uncounted": (b["like_count"], c["like_count"]) == (1, 0),
        "comments gone": b["comment_count"] == 1
        and a not in await commenters(world, bobs, bob)
        and alice.user_id not in {x.user_id for x in await engagement.recent_comments(s, bobs)},
        "feeds": not set(mine) & (set(await world.feed_ids(bob))
                                  | set(await world.feed_ids(carol))),
        "hot timelines": not set(mine) & (set(await hot.read(bob.user_id, 100))
                                          | set(await hot.read(carol.user_id, 100))),
        "durable timelines": not set(mine) & (set(await newest_ids(s, bob.user_id, 100))
                                              | set(await newest_ids(s, carol.user_id, 100))),
        "no photo search hit": (await world.get("/v1/search", bob,
                                                q=f"#{tag}")).json()["photos"] == [],
        "no user search hit": a not in {u["user_id"] for u in (await world.get(
            "/v1/search", bob, q=alice.username)).json()["users"]},
        "graph edges": not await graph.is_following(s, bob.user_id, alice.user_id)
        and not await graph.is_following(s, alice.user_id, bob.user_id),
        "liked list": await engagement.liked_photos(s, alice.user_id, 10) == [],
        "comment list": await engagement.authored_comments(s, alice.user_id, 10) == [],
    }
    failing = [name for name, ok in checks.items() if not ok]
    if failing:
        print("still waiting for:", ", ".join(failing))
    return not failing
