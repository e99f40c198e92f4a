"""The rule users trust most, on every read endpoint, over real HTTP on the real stack.

A private account's photos, grid, stories, follower lists, search hits and media URLs
are visible only to itself and approved followers; to a stranger or a pending requester
a private photo is exactly like a missing one (404), and the caches cannot show a post
after the account goes private, after an unfollow, or after a deletion.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from minio import Minio

from infra.connect import redis as redis_connect
from infra.settings import Settings
from sinks import trending
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


async def _empty_explore_windows(settings: Settings) -> None:
    """Explore ranks the whole network: on a stack that benchmarks filled today (a photo
    with 750 likes, tags on thousands of photos) a test photo with one like can never
    rank, and the test would prove nothing. Its windows are derived state that the
    trending processor refills from new events, so the test starts them empty."""
    client = redis_connect.client(settings)
    try:
        hour = int(time.time()) // 3600
        await client.delete(trending.POPULAR_KEY, trending.RECENT_KEY,
                            *(trending.tags_key(h) for h in range(hour - 25, hour + 2)))
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@pytest.fixture(scope="module")
async def scene(world: ReadWorld, s3_client: Minio) -> PrivateScene:
    await _empty_explore_windows(world.settings)  # before the private photo is tagged
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


# -- blocks: the same rule, between two accounts that can otherwise see each other -----


@dataclass
class BlockScene:
    blocker: Person
    blocked: Person
    friend: Person
    """Follows both and engages with both: a third party, unaffected by the block."""
    blocker_photo: int
    blocked_photo: int
    friend_photo: int
    blocked_story: str
    blocker_story: str
    tag: str


@pytest.fixture(scope="module")
async def blocked(world: ReadWorld) -> BlockScene:
    """Two public accounts that follow each other, with photos, comments, likes and a
    story each way and on a friend's photo; then one blocks the other."""
    blocker, target, friend = [await world.user(prefix=p) for p in ("bkr", "bkd", "frd")]
    for a, b in ((blocker, target), (target, blocker), (friend, blocker), (friend, target),
                 (blocker, friend), (target, friend)):
        await world.follow(a, b)
    tag = f"blk{target.user_id:x}"[:20]
    blocker_photo = await world.photo(blocker, f"mine #{tag} blockword")
    blocked_photo = await world.photo(target, f"theirs #{tag} blockword")
    friend_photo = await world.photo(friend, "the friend's")
    for who, pid, owner in ((target, blocker_photo, blocker), (blocker, blocked_photo, target),
                            (target, friend_photo, friend), (blocker, friend_photo, friend),
                            (friend, blocked_photo, target)):
        await world.like(who, pid, owner)
        await world.comment(who, pid, owner, f"comment by {who.username}")
    story, own_story = derivative_key(blocked_photo, "large"), derivative_key(blocker_photo,
                                                                                "large")
    await world.story(target, story)
    await world.story(blocker, own_story)

    async def before_the_block() -> bool:  # everyone sees everything, explore included
        trending = (await world.get("/v1/explore", friend)).text
        tray = (await world.get("/v1/stories", blocker)).text
        their_tray = (await world.get("/v1/stories", target)).text
        return (blocked_photo in await world.feed_ids(blocker)
                and blocker_photo in await world.feed_ids(target)
                and str(blocked_photo) in trending and story in tray
                and own_story in their_tray)
    await world.until(before_the_block)
    # Warm the caches the block must invalidate, as both sides.
    for viewer, other, pid in ((blocker, target, blocked_photo),
                               (target, blocker, blocker_photo)):
        for path in (f"/v1/photos/{pid}", f"/v1/users/{other.user_id}/photos",
                     f"/v1/photos/{friend_photo}/comments", f"/v1/search?q=%23{tag}"):
            assert (await world.get(path, viewer)).status_code == 200
    await world.block(blocker, target)

    async def applied() -> bool:
        return (await world.get(f"/v1/photos/{blocked_photo}", blocker)).status_code == 404
    await world.until(applied)
    return BlockScene(blocker, target, friend, blocker_photo, blocked_photo, friend_photo,
                      story, own_story, tag)


def _block_paths(s: BlockScene, other: Person, pid: int) -> list[str]:
    o = other.user_id
    return [f"/v1/photos/{pid}", f"/v1/photos/{pid}/comments", f"/v1/photos/{pid}/likes",
            f"/v1/users/{o}/photos", f"/v1/users/{o}/followers", f"/v1/users/{o}/following",
            f"/v1/search?q=%23{s.tag}", "/v1/search?q=blockword",
            f"/v1/search?q={other.username[:8]}", "/v1/stories", "/v1/feed",
            "/v1/feed?mode=top", "/v1/explore", f"/v1/photos/{s.friend_photo}/comments",
            f"/v1/photos/{s.friend_photo}/likes", f"/v1/users/{s.friend.user_id}/followers",
            f"/v1/users/{s.friend.user_id}/following"]


@pytest.mark.parametrize("side", ["blocker", "blocked"])
async def test_across_a_block_neither_side_sees_the_other_on_any_endpoint(
        world: ReadWorld, blocked: BlockScene, side: str) -> None:
    viewer = blocked.blocker if side == "blocker" else blocked.blocked
    other = blocked.blocked if side == "blocker" else blocked.blocker
    pid = blocked.blocked_photo if side == "blocker" else blocked.blocker_photo
    story = blocked.blocked_story if side == "blocker" else blocked.blocker_story
    for path in _block_paths(blocked, other, pid):
        r = await world.get(path, viewer)
        assert r.status_code in (200, 404), (path, r.status_code, r.text)
        for secret in (str(pid), str(other.user_id), other.username, story):
            assert secret not in r.text, f"{path} showed the {side} {secret!r}"
    for path in _block_paths(blocked, other, pid)[:3]:
        assert (await world.get(path, viewer)).status_code == 404
    profile = (await world.get(f"/v1/users/{other.user_id}", viewer)).json()
    assert profile["can_view"] is False and profile["follow_state"] == "none"
    assert profile["blocking"] is (side == "blocker")
    own = (await world.get("/v1/search", viewer, q=f"#{blocked.tag}")).json()["photos"]
    mine = blocked.blocker_photo if side == "blocker" else blocked.blocked_photo
    assert [p["photo_id"] for p in own] == [str(mine)]  # their own hit stays


async def test_a_third_party_still_sees_both_sides(world: ReadWorld,
                                                   blocked: BlockScene) -> None:
    f = blocked.friend
    ids = await world.feed_ids(f)
    assert blocked.blocker_photo in ids and blocked.blocked_photo in ids
    comments = (await world.get(f"/v1/photos/{blocked.friend_photo}/comments", f)).text
    assert blocked.blocker.username in comments and blocked.blocked.username in comments
    likes = (await world.get(f"/v1/photos/{blocked.friend_photo}/likes", f)).text
    assert str(blocked.blocker.user_id) in likes and str(blocked.blocked.user_id) in likes
    assert blocked.blocked_story in (await world.get("/v1/stories", f)).text


async def test_the_blocks_list_and_unblocking_restores_visibility_not_the_follows(
        world: ReadWorld, blocked: BlockScene) -> None:
    blocker, target = blocked.blocker, blocked.blocked
    listed = (await world.get("/v1/me/blocks", blocker)).json()["items"]
    assert [u["user_id"] for u in listed] == [str(target.user_id)]
    assert (await world.get("/v1/me/blocks", target)).json()["items"] == []
    await world.block(blocker, target, blocked=False)

    async def visible_again() -> bool:
        return (await world.get(f"/v1/photos/{blocked.blocked_photo}",
                                blocker)).status_code == 200
    await world.until(visible_again)
    assert (await world.get(f"/v1/photos/{blocked.blocker_photo}", target)).status_code == 200
    grid = (await world.get(f"/v1/users/{target.user_id}/photos", blocker)).json()
    assert str(blocked.blocked_photo) in {i["photo_id"] for i in grid["items"]}
    assert (await world.get("/v1/me/blocks", blocker)).json()["items"] == []
    for a, b in ((blocker, target), (target, blocker)):  # the follows stay removed
        assert (await world.get(f"/v1/users/{b.user_id}", a)).json()["follow_state"] == "none"
        assert blocked.blocked_photo not in await world.feed_ids(blocker)
    await world.block(blocker, target)  # the module's later tests expect the block
    await world.until(lambda: _hidden(world, blocked))


async def _hidden(world: ReadWorld, s: BlockScene) -> bool:
    return (await world.get(f"/v1/photos/{s.blocked_photo}", s.blocker)).status_code == 404
