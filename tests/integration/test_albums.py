"""Album posts end to end against the real stack: ordering, the failure bound, 403/409,
deletion, alt text and content warnings through the API.

Real uploads through ingest (detached, then ``POST /v1/posts``; or several files in one
request), rendered by the media processor, assembled by the albums processor, read
through the read API as a follower sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from minio import Minio

from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import Settings
from producers.ingest.photos import PhotoRows
from schemas.media import AlbumPosted, PhotoUploaded
from sinks import cache, trending
from sinks.photo_objects import derivatives_prefix
from tests.integration.readside import Person, ReadWorld, read_world
from tests.integration.test_ingest_writes import _client, problem
from tests.integration.waiting import eventually
from tests.support.ids import time_id
from tests.support.images import image_bytes
from tests.support.processors import running

pytestmark = [pytest.mark.stack, pytest.mark.slow]

#: The bound of these tests: short, so the "stuck item" case takes seconds.
BOUND_SECONDS = 8.0


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    settings = dataclasses.replace(stack, albums=dataclasses.replace(
        stack.albums, ready_timeout_seconds=BOUND_SECONDS, sweep_seconds=0.5))
    async with read_world(settings) as w, running(w.settings, "media", "albums"):
        yield w


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(world.settings):
        yield client


def picture(index: int) -> bytes:
    """Distinct sizes per index, so an item is recognisable by its dimensions."""
    return image_bytes(200 + 40 * index, 100 + 10 * index, ((index * 70) % 256, 90, 160))


async def detached(ingest: httpx.AsyncClient, who: Person, index: int, *,
                   alt: str = "") -> int:
    r = await ingest.post("/v1/media", headers=who.auth,
                          data={"detached": "true", "alt_text": alt},
                          files={"file": (f"{index}.jpg", picture(index), "image/jpeg")})
    assert r.status_code == 202, r.text
    return int(r.json()["photo_id"])


async def post(ingest: httpx.AsyncClient, who: Person, media_ids: list[int],
               **fields: Any) -> httpx.Response:
    return await ingest.post("/v1/posts", headers=who.auth,
                             json={"media_ids": [str(m) for m in media_ids], **fields})


async def card_of(world: ReadWorld, photo_id: int, who: Person) -> dict[str, Any] | None:
    r = await world.get(f"/v1/photos/{photo_id}", who)
    return r.json() if r.status_code == 200 else None


async def until_ready(world: ReadWorld, photo_id: int, who: Person,
                      timeout: float = 120) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def ready() -> bool:
        card = await card_of(world, photo_id, who)
        if card is not None and card["status"] == "ready":
            found.update(card)
            return True
        return False
    await eventually(ready, timeout=timeout)
    return found


@contextlib.asynccontextmanager
async def photo_rows(settings: Settings) -> AsyncIterator[PhotoRows]:
    """The ingest service's photo rows, on connections of their own."""
    session = cassandra.connect(settings)
    redis = redis_connect.client(settings)
    try:
        yield await PhotoRows.create(session, redis)
    finally:
        await redis.aclose()
        session.cluster.shutdown()



async def test_album_in_the_authors_order_reaches_a_follower_once(
        world: ReadWorld, ingest: httpx.AsyncClient, stack: Settings) -> None:
    alice, bob = await world.user(prefix="alb"), await world.user(prefix="bob")
    await world.follow(bob, alice)
    media = [await detached(ingest, alice, i, alt=f"picture number {i}") for i in range(3)]
    # A detached upload is no post: once processed, nobody else sees it, and it is in
    # no grid, not even its owner's.
    await until_ready(world, media[0], alice)
    assert await card_of(world, media[0], bob) is None
    order = [media[2], media[0], media[1]]
    r = await post(ingest, alice, order, caption="three of them #albumorder")
    assert r.status_code == 202, r.text
    post_id = int(r.json()["post_id"])
    assert r.json()["media_ids"] == [str(m) for m in order]

    async def in_feed() -> bool:
        return post_id in await world.feed_ids(bob)
    await eventually(in_feed, timeout=120)
    feed = (await world.get("/v1/feed", bob)).json()["items"]
    cards = [c for c in feed if c["photo_id"] == str(post_id)]
    assert len(cards) == 1 and not any(c["photo_id"] in map(str, media) for c in feed)
    cover = cards[0]
    assert cover["item_count"] == 3 and cover["items"] is None
    assert (cover["width"], cover["height"]) == (200 + 80, 100 + 20)  # media[2] first
    assert cover["alt_text"] == "picture number 2"

    page = await card_of(world, post_id, bob)
    assert page is not None
    assert [i["media_id"] for i in page["items"]] == [str(m) for m in order]
    assert [i["alt_text"] for i in page["items"]] == [f"picture number {n}" for n in (2, 0, 1)]
    assert [(i["width"], i["height"]) for i in page["items"]] == [
        (280, 120), (200, 100), (240, 110)]
    assert all(i["images"]["thumb"]["url"] for i in page["items"])

    grid = (await world.get(f"/v1/users/{alice.user_id}/photos", alice)).json()["items"]
    assert [c["photo_id"] for c in grid] == [str(post_id)]
    assert grid[0]["item_count"] == 3
    state = (await world.get(f"/v1/posts/{post_id}", alice)).json()
    assert state["status"] == "published"
    assert [i["status"] for i in state["items"]] == ["ready"] * 3
    assert (await world.get(f"/v1/posts/{post_id}", bob)).status_code == 404

    # Deleting the post deletes every item, and their renditions leave MinIO.
    s3 = Minio(stack.s3.endpoint, stack.s3.access_key, stack.s3.secret_key, secure=False)

    def objects(photo_id: int) -> list[str]:
        return [str(o.object_name) for o in s3.list_objects(
            stack.s3.media_bucket, prefix=derivatives_prefix(photo_id), recursive=True)]
    assert all(objects(m) for m in media)
    r = await ingest.delete(f"/v1/photos/{media[0]}", headers=alice.auth)
    problem(r, 409)  # one item alone: no, the post is what gets deleted
    r = await ingest.delete(f"/v1/photos/{post_id}", headers=alice.auth)
    assert r.status_code == 202, r.text

    async def gone() -> bool:
        items = [await card_of(world, m, alice) for m in media]
        return (await card_of(world, post_id, bob) is None
                and post_id not in await world.feed_ids(bob)
                and items == [None] * len(media)
                and not any(objects(m) for m in media))
    await eventually(gone, timeout=60)


async def test_a_failed_item_is_left_out_and_named_without_waiting(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user(prefix="alf")
    good = await detached(ingest, alice, 1)
    corrupt = picture(2)[:300]  # a JPEG header and nothing after it
    r = await ingest.post("/v1/media", headers=alice.auth, data={"detached": "true"},
                          files={"file": ("bad.jpg", corrupt, "image/jpeg")})
    assert r.status_code == 202, r.text
    bad = int(r.json()["photo_id"])
    started = time.monotonic()
    r = await post(ingest, alice, [bad, good], caption="one broken")
    post_id = int(r.json()["post_id"])
    card = await until_ready(world, post_id, alice, timeout=BOUND_SECONDS + 60)
    took = time.monotonic() - started
    assert card["item_count"] == 1
    assert [i["media_id"] for i in card["items"]] == [str(good)]
    state = (await world.get(f"/v1/posts/{post_id}", alice)).json()
    assert state["status"] == "published"
    failed = [i for i in state["items"] if i["status"] == "failed"]
    assert [i["media_id"] for i in failed] == [str(bad)] and failed[0]["reason"]
    print(f"album with a corrupt item published in {took:.1f} s (bound {BOUND_SECONDS} s)")


async def test_an_item_never_processed_is_named_at_the_bound(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user(prefix="als")
    good = await detached(ingest, alice, 3)
    # An upload whose event never arrives (a stuck item): its row says processing.
    stuck = time_id()
    async with photo_rows(world.settings) as rows:
        await rows.record_upload(PhotoUploaded(
            photo_id=stuck, owner_id=alice.user_id, media_kind="photo",
            object_key=f"{alice.user_id}/{stuck}/original", content_type="image/jpeg",
            size_bytes=1, caption="", title="", location=None, uploaded_at=datetime.now(UTC),
            detached=True))
    await until_ready(world, good, alice)
    started = time.monotonic()
    r = await post(ingest, alice, [good, stuck])
    assert r.status_code == 202, r.text
    post_id = int(r.json()["post_id"])
    card = await until_ready(world, post_id, alice, timeout=BOUND_SECONDS + 60)
    took = time.monotonic() - started
    assert took >= BOUND_SECONDS - 1, f"published after {took:.1f} s, before the bound"
    assert card["item_count"] == 1
    state = (await world.get(f"/v1/posts/{post_id}", alice)).json()
    reasons = {i["media_id"]: i["reason"] for i in state["items"] if i["status"] == "failed"}
    assert list(reasons) == [str(stuck)] and "not processed within" in reasons[str(stuck)]
    print(f"album with a stuck item published after {took:.1f} s (bound {BOUND_SECONDS} s)")


async def test_someone_elses_media_is_403_and_media_in_two_posts_409(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, mallory = await world.user(prefix="alc"), await world.user(prefix="mal")
    mine = await detached(ingest, alice, 4)
    other = await detached(ingest, alice, 5)
    body = problem(await post(ingest, mallory, [mine]), 403)
    assert body["media_id"] == str(mine)
    r = await post(ingest, alice, [mine])
    assert r.status_code == 202, r.text
    first = r.json()["post_id"]
    body = problem(await post(ingest, alice, [other, mine]), 409)
    assert body["post_id"] == first and body["media_id"] == str(mine)
    # The refused post claimed `other` first and gave it back: it can still be posted.
    r = await post(ingest, alice, [other])
    assert r.status_code == 202, r.text
    # A retry with the same Idempotency-Key is the same post, not a 409.
    again = await detached(ingest, alice, 6)
    key = {"Idempotency-Key": f"album-{again}"}
    one = await ingest.post("/v1/posts", headers={**alice.auth, **key},
                            json={"media_ids": [str(again)]})
    two = await ingest.post("/v1/posts", headers={**alice.auth, **key},
                            json={"media_ids": [str(again)]})
    assert one.status_code == two.status_code == 202
    assert one.json()["post_id"] == two.json()["post_id"]
    # A photo posted on its own is a post already; unknown ids; too many; duplicates.
    r = await ingest.post("/v1/media", headers=alice.auth,
                          files={"file": ("p.jpg", picture(7), "image/jpeg")})
    single = int(r.json()["photo_id"])
    problem(await post(ingest, alice, [single]), 409)
    problem(await post(ingest, alice, [time_id()]), 404)
    too_many = world.settings.albums.max_items + 1
    problem(await post(ingest, alice, [time_id() for _ in range(too_many)]), 422)
    problem(await post(ingest, alice, [again, again]), 422)
    problem(await post(ingest, alice, []), 422)
    problem(await ingest.post("/v1/posts", headers=alice.auth, json={"media_ids": ["x"]}), 422)


async def test_one_shot_multipart_album(world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user(prefix="alm")
    files = [("file", (f"{i}.jpg", picture(i), "image/jpeg")) for i in (8, 9)]
    r = await ingest.post("/v1/posts", headers=alice.auth, files=files,
                          data={"caption": "one request", "alt_text": ["eight", "nine"]})
    assert r.status_code == 202, r.text
    post_id = int(r.json()["post_id"])
    card = await until_ready(world, post_id, alice)
    assert [i["alt_text"] for i in card["items"]] == ["eight", "nine"]
    assert [i["media_id"] for i in card["items"]] == r.json()["media_ids"]
    assert card["caption"] == "one request"


async def test_alt_text_content_warning_and_edits_through_the_api(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(prefix="alt"), await world.user(prefix="bob")
    tag = f"cw{time_id() % 10**9}"
    r = await ingest.post("/v1/media", headers=alice.auth, data={
        "caption": f"#{tag}", "alt_text": "a grey cat", "sensitive": "true",
        "content_warning": "spiders"}, files={"file": ("c.jpg", picture(10), "image/jpeg")})
    assert r.status_code == 202, r.text
    photo_id = int(r.json()["photo_id"])
    card = await until_ready(world, photo_id, bob)
    assert (card["alt_text"], card["sensitive"], card["content_warning"]) == (
        "a grey cat", True, "spiders")
    assert card["item_count"] == 1
    problem(await ingest.patch(f"/v1/media/{photo_id}", headers=alice.auth,
                               json={"alt_text": "x" * 1501}), 422)
    problem(await ingest.patch(f"/v1/media/{photo_id}", headers=bob.auth,
                               json={"alt_text": "mine now"}), 403)
    r = await ingest.patch(f"/v1/media/{photo_id}", headers=alice.auth,
                           json={"alt_text": "a grey cat asleep"})
    assert r.status_code == 202, r.text

    async def alt_edited() -> bool:
        got = await card_of(world, photo_id, bob)
        return got is not None and got["alt_text"] == "a grey cat asleep"
    await eventually(alt_edited, timeout=30)

    # A caption edit moves the post in search: the new hashtag finds it, the old not.
    new_tag = f"{tag}x"
    r = await ingest.patch(f"/v1/photos/{photo_id}", headers=alice.auth,
                           json={"caption": f"now #{new_tag}"})
    assert r.status_code == 202, r.text

    async def search_follows() -> bool:
        new = (await world.get("/v1/search", bob, q=f"#{new_tag}")).json()["photos"]
        old = (await world.get("/v1/search", bob, q=f"#{tag}")).json()["photos"]
        return ([c["photo_id"] for c in new] == [str(photo_id)]
                and str(photo_id) not in [c["photo_id"] for c in old])
    await eventually(search_follows, timeout=30)

    # ... and in the trending hashtags: counted under the new tag, no longer the old.
    redis = redis_connect.client(world.settings)
    try:
        hour = trending.hour_of(photo_id)

        async def trending_follows() -> bool:
            new = await redis.sismember(trending.tag_photos_key(hour, new_tag), str(photo_id))
            old = await redis.sismember(trending.tag_photos_key(hour, tag), str(photo_id))
            return bool(new) and not old
        await eventually(trending_follows, timeout=30)
    finally:
        await redis.aclose()


async def test_an_album_posted_whose_request_was_aborted_never_appears(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    """The publish failed, ingest aborted (tombstoned the post's row) and answered an
    error, but the event had landed after all: the albums processor drops it."""
    alice = await world.user(prefix="alx")
    good = await detached(ingest, alice, 11)
    await until_ready(world, good, alice)
    post_id = time_id()
    now = datetime.now(UTC)
    event = AlbumPosted(post_id=post_id, owner_id=alice.user_id, media_ids=(good,),
                        caption="never", title="", location=None, sensitive=False,
                        content_warning="", posted_at=now, ready_by=now + timedelta(seconds=2))
    async with photo_rows(world.settings) as rows:
        await rows.record_post(event)
        # As if the read API had cached it ready in the instant before the tombstone.
        await rows.redis.set(cache.PHOTO.key(post_id), b"ready, as read a moment ago")
        assert (await rows.abort(post_id, alice.user_id)).aborted
        assert await rows.redis.get(cache.PHOTO.key(post_id)) is None
    await world.publish(event)
    await asyncio.sleep(BOUND_SECONDS)  # past its bound and the processor's sweep
    assert await card_of(world, post_id, alice) is None
    assert (await world.get(f"/v1/posts/{post_id}", alice)).status_code == 404
    assert post_id not in [int(c["photo_id"]) for c in (await world.get(
        f"/v1/users/{alice.user_id}/photos", alice)).json()["items"]]


async def test_deleting_the_account_deletes_album_media_posted_or_not(
        world: ReadWorld, ingest: httpx.AsyncClient, stack: Settings) -> None:
    """Album media are in no grid, so the account-deletion sweep lists them apart."""
    erin = await world.user(prefix="era")
    posted = await detached(ingest, erin, 12)
    kept = await detached(ingest, erin, 13)  # uploaded for an album never posted
    r = await post(ingest, erin, [posted])
    post_id = int(r.json()["post_id"])
    await until_ready(world, post_id, erin)
    await until_ready(world, kept, erin)
    s3 = Minio(stack.s3.endpoint, stack.s3.access_key, stack.s3.secret_key, secure=False)

    def objects(photo_id: int) -> list[str]:
        return [str(o.object_name) for o in s3.list_objects(
            stack.s3.media_bucket, prefix=derivatives_prefix(photo_id), recursive=True)]
    assert objects(posted) and objects(kept)
    r = await ingest.delete("/v1/me", headers=erin.auth)
    assert r.status_code == 202, r.text

    async def gone() -> bool:
        return not objects(posted) and not objects(kept)
    await eventually(gone, timeout=90)


async def test_twenty_items_when_the_setting_allows_them(world: ReadWorld) -> None:
    settings = dataclasses.replace(world.settings, albums=dataclasses.replace(
        world.settings.albums, max_items=20))
    fay = await world.user(prefix="fay")
    async for client in _client(settings):
        media = [await detached(client, fay, i % 6) for i in range(20)]
        r = await post(client, fay, media, caption="twenty")
        assert r.status_code == 202, r.text
        card = await until_ready(world, int(r.json()["post_id"]), fay, timeout=180)
        assert card["item_count"] == 20
        assert [i["media_id"] for i in card["items"]] == [str(m) for m in media]
        problem(await post(client, fay, [time_id() for _ in range(21)]), 422)


async def test_one_shot_retried_with_the_same_key_is_the_same_post(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    gus = await world.user(prefix="gus")
    headers = {**gus.auth, "Idempotency-Key": f"oneshot-{time_id()}"}
    files = [("file", (f"{i}.jpg", picture(i), "image/jpeg")) for i in (1, 2, 3)]
    one = await ingest.post("/v1/posts", headers=headers, files=files,
                            data={"caption": "retried"})
    two = await ingest.post("/v1/posts", headers=headers, files=files,
                            data={"caption": "retried"})
    assert one.status_code == two.status_code == 202, (one.text, two.text)
    assert one.json() == two.json()
    card = await until_ready(world, int(one.json()["post_id"]), gus)
    assert card["item_count"] == 3
