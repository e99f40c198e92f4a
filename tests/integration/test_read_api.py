"""The read API over real HTTP, fed by the real processors on the real stack.

Pins: hydrated feed cards; cursor pagination with no duplicate and no gap while new
photos arrive; the celebrity (pull) merge; deleted photos vanishing everywhere;
rebuild after Redis loses everything; the top feed's stable order; 401 and 422.
Visibility of private accounts has its own module (test_read_api_privacy.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from infra.connect.redis import RedisClient
from infra.http.auth import mint
from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from tests.integration.readside import Person, ReadWorld, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


async def test_feed_items_are_hydrated_cards(world: ReadWorld) -> None:
    alice, bob = await world.user(), await world.user()
    await world.follow(bob, alice)
    pid = await world.photo(alice, "Sunset at the #beach")
    await world.like(bob, pid, alice)
    await world.comment(bob, pid, alice, "lovely")

    async def hydrated() -> bool:
        r = await world.get("/v1/feed", bob)
        items = r.json()["items"]
        return bool(items) and items[0]["like_count"] == 1 and items[0]["comment_count"] == 1 \
            and items[0]["liked_by_me"] is True
    await world.until(hydrated)
    card = (await world.get("/v1/feed", bob)).json()["items"][0]
    assert card["photo_id"] == str(pid)
    assert card["author"] == {"user_id": str(alice.user_id), "username": alice.username,
                              "display_name": alice.username}
    assert card["caption"] == "Sunset at the #beach"
    assert (card["width"], card["height"]) == (1600, 1200)
    assert card["placeholder"]["color"] == "#336699"
    assert set(card["images"]) == {"thumb", "small", "medium", "large"}
    assert card["images"]["large"]["width"] == 1080
    assert "X-Amz-Signature=" in card["images"]["thumb"]["url"]
    assert card["created_at"].endswith("Z")


async def test_pages_have_no_duplicates_and_no_gaps_while_photos_arrive(
        world: ReadWorld) -> None:
    reader = await world.user()
    authors = [await world.user() for _ in range(3)]
    for a in authors:
        await world.follow(reader, a)
    before = [await world.photo(authors[i % 3], f"old {i}", wait=False) for i in range(23)]
    await world.until(lambda: _feed_has(world, reader, before))

    seen: list[int] = []
    r = (await world.get("/v1/feed", reader, limit=5)).json()
    seen += [int(i["photo_id"]) for i in r["items"]]
    arriving = asyncio.gather(*(world.photo(authors[i % 3], f"new {i}", wait=False)
                                for i in range(6)))
    while r["next_cursor"]:
        r = (await world.get("/v1/feed", reader, limit=5, cursor=r["next_cursor"])).json()
        seen += [int(i["photo_id"]) for i in r["items"]]
    new = await arriving
    assert len(seen) == len(set(seen)), "a photo appeared on two pages"
    assert set(before) <= set(seen), "a photo present before paging was skipped"
    assert set(seen) - set(before) <= set(new)
    assert seen == sorted(seen, reverse=True)


async def _feed_has(world: ReadWorld, who: Person, ids: list[int]) -> bool:
    return set(ids) <= set(await world.feed_ids(who, limit=100))


async def test_celebrity_posts_are_merged_at_read_time(world: ReadWorld,
                                                       redis_client: RedisClient) -> None:
    star = await world.user(prefix="star")
    fans = [await world.user() for _ in range(4)]  # above the threshold of 3: pulled
    for fan in fans:
        await world.follow(fan, star)
    other = await world.user()
    await world.follow(fans[0], other)
    pushed = await world.photo(other, "pushed")
    pulled = await world.photo(star, "pulled")
    await world.until(lambda: _feed_has(world, fans[0], [pushed, pulled]))
    feed = await world.feed_ids(fans[0])
    assert feed.index(pulled) < feed.index(pushed)  # merged in time order
    hot = await redis_client.get(f"tl:{{{fans[0].user_id % 256}}}:{fans[0].user_id}")
    assert hot is not None and pulled.to_bytes(8, "big") not in hot  # not pushed


async def test_deleted_photo_vanishes_from_every_endpoint(world: ReadWorld) -> None:
    alice, bob = await world.user(), await world.user()
    await world.follow(bob, alice)
    pid = await world.photo(alice, "gone soon #vanish")
    await world.until(lambda: _feed_has(world, bob, [pid]))
    # Warm every cache the photo is in before deleting it.
    assert (await world.get(f"/v1/photos/{pid}", bob)).status_code == 200
    await world.delete(alice, pid)

    async def gone() -> bool:
        return (await world.get(f"/v1/photos/{pid}", bob)).status_code == 404
    await world.until(gone)
    assert pid not in await world.feed_ids(bob)
    assert (await world.get(f"/v1/photos/{pid}", alice)).status_code == 404
    grid = (await world.get(f"/v1/users/{alice.user_id}/photos", bob)).json()
    assert str(pid) not in {i["photo_id"] for i in grid["items"]}
    hits = (await world.get("/v1/search", bob, q="#vanish")).json()
    assert str(pid) not in {i["photo_id"] for i in hits["photos"]}
    assert (await world.get(f"/v1/photos/{pid}/comments", bob)).status_code == 404


async def test_caption_edit_and_likes_reach_a_cached_card(world: ReadWorld) -> None:
    alice = await world.user()
    pid = await world.photo(alice, "first caption")
    assert (await world.get(f"/v1/photos/{pid}", alice)).json()["caption"] == "first caption"
    await world.edit_caption(alice, pid, "second caption")
    await world.like(alice, pid, alice)

    async def updated() -> bool:
        card = (await world.get(f"/v1/photos/{pid}", alice)).json()
        return card["caption"] == "second caption" and card["like_count"] == 1 \
            and card["liked_by_me"]
    await world.until(updated)


async def test_feed_is_rebuilt_after_redis_loses_everything(world: ReadWorld,
                                                            redis_client: RedisClient) -> None:
    alice, bob = await world.user(), await world.user()
    await world.follow(bob, alice)
    ids = [await world.photo(alice, f"p{i}") for i in range(3)]
    await world.until(lambda: _feed_has(world, bob, ids))
    before = (await world.get("/v1/feed", bob)).json()
    await redis_client.flushall()
    after = (await world.get("/v1/feed", bob)).json()
    assert [i["photo_id"] for i in after["items"]] == [i["photo_id"] for i in before["items"]]
    assert after["items"][0]["author"] == before["items"][0]["author"]


async def test_top_feed_ranks_engagement_and_keeps_one_order_across_pages(
        world: ReadWorld) -> None:
    reader, author = await world.user(), await world.user()
    await world.follow(reader, author)
    ids = [await world.photo(author, f"t{i}") for i in range(6)]
    liked = ids[0]  # the oldest, but liked by three people
    for fan in [await world.user() for _ in range(3)]:
        await world.like(fan, liked, author)

    async def counted() -> bool:
        return (await world.get(f"/v1/photos/{liked}", reader)).json()["like_count"] == 3
    await world.until(counted)
    await world.until(lambda: _feed_has(world, reader, ids))
    first = (await world.get("/v1/feed", reader, mode="top", limit=3)).json()
    assert first["items"][0]["photo_id"] == str(liked)
    await world.photo(author, "newer, arrives mid-scroll")
    second = (await world.get("/v1/feed", reader, mode="top", limit=3,
                              cursor=first["next_cursor"])).json()
    shown = [i["photo_id"] for i in first["items"] + second["items"]]
    assert sorted(shown) == sorted(str(i) for i in ids)


@pytest.mark.parametrize("path", ["/v1/feed", "/v1/me", "/v1/photos/1", "/v1/users/1",
                                  "/v1/search?q=a", "/v1/stories", "/v1/follow-requests"])
async def test_missing_forged_or_expired_token_is_401_with_no_data(
        world: ReadWorld, path: str) -> None:
    forged = mint(1, world.settings).rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    expired = mint(1, world.settings, ttl_seconds=-10)
    for headers in ({}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": f"Bearer {expired}"}, {"Authorization": "Basic eDp5"}):
        r = await world.http.get(path, headers=headers)
        assert r.status_code == 401, (path, headers, r.text)
        assert r.headers["content-type"] == PROBLEM_JSON
        assert "WWW-Authenticate" in r.headers
        assert set(r.json()) >= {"type", "title", "status", "detail"}


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/feed?cursor=not-a-cursor", "query.cursor"),
    ("/v1/feed?cursor=eyJrIjoiZ3JpZCIsImIiOjF9", "query.cursor"),  # another list's cursor
    ("/v1/feed?limit=0", "query.limit"),
    ("/v1/feed?limit=101", "query.limit"),
    ("/v1/feed?mode=best", "query.mode"),
    ("/v1/photos/abc", "path.photo_id"),
    ("/v1/photos/-1", "path.photo_id"),
    ("/v1/photos/99999999999999999999", "path.photo_id"),
    ("/v1/users/1/photos?cursor=%%%", "query.cursor"),
    ("/v1/users/by-username/Not%20Valid", "path.username"),
    ("/v1/search?q=", "query.q"),
])
async def test_bad_parameters_are_422_naming_the_field(world: ReadWorld, path: str,
                                                       field: str) -> None:
    me = await _someone(world)
    r = await world.http.get(path, headers=me.auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert field in r.json()["detail"]
    assert field in {e["location"] for e in r.json()["errors"]}


async def _someone(world: ReadWorld) -> Person:
    if not world.people:
        world.people.append(await world.user())
    return world.people[0]


async def test_health_and_readiness(world: ReadWorld) -> None:
    assert (await world.http.get("/healthz")).json()["status"] == "ok"
    ready = (await world.http.get("/readyz")).json()
    assert ready == {"status": "ready", "checks": {"redis": "ok", "cassandra": "ok"},
                     "mode": {"redis": "up", "cassandra": "up"}}
