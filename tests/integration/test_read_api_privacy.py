"""The rule users trust most, on every read endpoint, over real HTTP on the real stack.

A private account's photos, grid, stories, follower lists, search hits and media URLs
are visible only to itself and approved followers; to a stranger or a pending requester
a private photo is exactly like a missing one (404), and the caches cannot show a post
after the account goes private, after an unfollow, or after a deletion.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from minio import Minio

from infra.settings import Settings
from sinks.media_keys import derivative_key
from tests.integration.readside import Person, ReadWorld, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@dataclass
class PrivateScene:
    owner: Person
    follower: Person
    requester: Person
    stranger: Person
    photo_id: int
    story_key: str


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@pytest.fixture(scope="module")
async def scene(world: ReadWorld, s3_client: Minio) -> PrivateScene:
    owner = await world.user(private=True, prefix="priv")
    follower, requester, stranger = [await world.user() for _ in range(3)]
    await world.follow(follower, owner, approve=True)
    await world.follow(requester, owner)  # pending: never approved
    await world.follow(owner, follower)  # so the owner's following list is not empty
    pid = await world.photo(owner, "hidden #secrettag secretword")
    await world.like(follower, pid, owner)
    await world.comment(follower, pid, owner, "only friends see this")
    key = derivative_key(pid, "thumb")
    s3_client.put_object(world.settings.s3.media_bucket, key, io.BytesIO(b"jpeg-bytes"), 10,
                         content_type="image/jpeg")
    story_key = derivative_key(pid, "large")
    await world.story(owner, story_key)

    async def follower_sees_all() -> bool:
        r = await world.get("/v1/stories", follower)
        return str(owner.user_id) in r.text and pid in await world.feed_ids(follower)
    await world.until(follower_sees_all)
    return PrivateScene(owner, follower, requester, stranger, pid, story_key)


def _paths(s: PrivateScene) -> list[str]:
    o, p = s.owner.user_id, s.photo_id
    return [f"/v1/photos/{p}", f"/v1/photos/{p}/comments", f"/v1/photos/{p}/likes",
            f"/v1/users/{o}/photos", f"/v1/users/{o}/followers", f"/v1/users/{o}/following",
            "/v1/search?q=%23secrettag", "/v1/search?q=secretword", "/v1/stories",
            "/v1/feed", "/v1/feed?mode=top"]


async def test_approved_follower_sees_everything(world: ReadWorld, scene: PrivateScene) -> None:
    f = scene.follower
    card = (await world.get(f"/v1/photos/{scene.photo_id}", f)).json()
    assert card["like_count"] == 1 and card["liked_by_me"] is True
    comments = (await world.get(f"/v1/photos/{scene.photo_id}/comments", f)).json()
    assert [c["text"] for c in comments["items"]] == ["only friends see this"]
    grid = (await world.get(f"/v1/users/{scene.owner.user_id}/photos", f)).json()
    assert [i["photo_id"] for i in grid["items"]] == [str(scene.photo_id)]
    followers = (await world.get(f"/v1/users/{scene.owner.user_id}/followers", f)).json()
    assert str(f.user_id) in {u["user_id"] for u in followers["items"]}
    hits = (await world.get("/v1/search", f, q="#secrettag")).json()
    assert [i["photo_id"] for i in hits["photos"]] == [str(scene.photo_id)]
    profile = (await world.get(f"/v1/users/{scene.owner.user_id}", f)).json()
    assert profile["can_view"] is True and profile["follow_state"] == "following"


@pytest.mark.parametrize("who", ["stranger", "requester"])
async def test_non_followers_see_nothing_on_any_endpoint(world: ReadWorld, scene: PrivateScene,
                                                         who: str) -> None:
    viewer: Person = getattr(scene, who)
    pid = str(scene.photo_id)
    for path in _paths(scene):
        r = await world.get(path, viewer)
        assert r.status_code in (200, 404), (path, r.status_code, r.text)
        assert pid not in r.text, f"{path} leaked the private photo to the {who}"
        assert scene.story_key not in r.text and "photos%2F" + pid not in r.text
        assert f"/{pid}/" not in r.text, f"{path} leaked a media URL to the {who}"
    for path in _paths(scene)[:3]:
        assert (await world.get(path, viewer)).status_code == 404
    tray = (await world.get("/v1/stories", viewer)).json()["tray"]
    assert str(scene.owner.user_id) not in {reel["user"]["user_id"] for reel in tray}
    profile = (await world.get(f"/v1/users/{scene.owner.user_id}", viewer)).json()
    assert profile["can_view"] is False
    assert profile["follow_state"] == ("requested" if who == "requester" else "none")


async def test_a_private_photo_answers_exactly_like_a_missing_one(
        world: ReadWorld, scene: PrivateScene) -> None:
    hidden = await world.get(f"/v1/photos/{scene.photo_id}", scene.stranger)
    missing = await world.get(f"/v1/photos/{scene.photo_id + 1}", scene.stranger)
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


async def test_media_urls_work_for_the_follower_and_a_tampered_one_does_not(
        world: ReadWorld, scene: PrivateScene) -> None:
    card = (await world.get(f"/v1/photos/{scene.photo_id}", scene.follower)).json()
    url = card["images"]["thumb"]["url"]
    async with httpx.AsyncClient() as client:
        got = await client.get(url)
        assert got.status_code == 200 and got.content == b"jpeg-bytes"
        other = url.replace(str(scene.photo_id), str(scene.photo_id + 1))
        assert (await client.get(other)).status_code == 403  # the signature covers the key
        unsigned = url.split("?")[0]
        assert (await client.get(unsigned)).status_code == 403  # the bucket is not public


async def test_approval_opens_the_grid_to_the_requester(world: ReadWorld) -> None:
    owner, fan = await world.user(private=True), await world.user()
    pid = await world.photo(owner, "after approval")
    await world.follow(fan, owner)
    grid = (await world.get(f"/v1/users/{owner.user_id}/photos", fan)).json()
    assert grid["items"] == []
    await world.follow(fan, owner, approve=True)

    async def visible() -> bool:
        grid = (await world.get(f"/v1/users/{owner.user_id}/photos", fan)).json()
        return [i["photo_id"] for i in grid["items"]] == [str(pid)]
    await world.until(visible)


async def test_going_private_hides_cached_posts_from_non_followers(world: ReadWorld) -> None:
    author, friend, stranger = [await world.user() for _ in range(3)]
    await world.follow(friend, author)
    pid = await world.photo(author, "public for now #wasopen")
    # Warm the caches as the stranger: card, profile, grid, search.
    assert (await world.get(f"/v1/photos/{pid}", stranger)).status_code == 200
    grid = (await world.get(f"/v1/users/{author.user_id}/photos", stranger)).json()
    assert len(grid["items"]) == 1
    await world.set_private(author, True)

    async def hidden() -> bool:
        return (await world.get(f"/v1/photos/{pid}", stranger)).status_code == 404
    await world.until(hidden)
    grid = (await world.get(f"/v1/users/{author.user_id}/photos", stranger)).json()
    assert grid["items"] == []
    hits = (await world.get("/v1/search", stranger, q="#wasopen")).json()
    assert hits["photos"] == []
    # An existing follower stays approved.
    assert (await world.get(f"/v1/photos/{pid}", friend)).status_code == 200


async def test_unfollowing_a_private_account_hides_it_at_once(world: ReadWorld) -> None:
    owner, fan = await world.user(private=True), await world.user()
    await world.follow(fan, owner, approve=True)
    pid = await world.photo(owner, "for followers")

    async def in_feed() -> bool:
        return pid in await world.feed_ids(fan)
    await world.until(in_feed)
    assert (await world.get(f"/v1/photos/{pid}", fan)).status_code == 200
    await world.unfollow(fan, owner)
    assert (await world.get(f"/v1/photos/{pid}", fan)).status_code == 404
    assert pid not in await world.feed_ids(fan)


async def test_explore_shows_public_trends_and_never_a_private_photo(
        world: ReadWorld, scene: PrivateScene) -> None:
    author, fan = await world.user(), await world.user()
    tag = f"open{author.user_id:x}"[:20]
    pid = await world.photo(author, f"for everyone #{tag}")
    await world.like(fan, pid, author)
    await world.like(scene.follower, scene.photo_id, scene.owner)  # private, engaged

    async def trending() -> bool:
        body = (await world.get("/v1/explore", scene.stranger)).json()
        return tag in {h["tag"] for h in body["hashtags"]} and \
            str(pid) in {p["photo_id"] for p in body["photos"]}
    await world.until(trending)
    for viewer in (scene.stranger, scene.requester, scene.follower):
        r = await world.get("/v1/explore", viewer)
        assert str(scene.photo_id) not in r.text
        assert "secrettag" not in r.text
