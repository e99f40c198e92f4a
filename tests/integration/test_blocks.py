"""Blocks and mutes end to end: events on Kafka, the blocks, graph and fan-out processors
applying them, the read API and ingest answering across them (real stack, no fakes).

A block is mutual in effect and removes the follow edges both ways (through the graph
processor, so counts stay exact); unblocking restores visibility, never the edges. A
mute hides posts from the muter's home feed and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from producers.ingest import create_app
from schemas.blocks import BlockAdded, BlockRemoved, MuteAdded, MuteRemoved
from schemas.envelope import decode, make
from schemas.graph import FollowRequested
from schemas.topics import BLOCKS
from schemas.users import UserDeleted
from sinks import blocks, graph
from sinks.durable_timelines import read_page
from sinks.redis_timelines import RedisTimelines
from tests.integration.kafka_tail import end_offsets, records_since
from tests.integration.readside import Person, ReadWorld, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(world.settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest",
            timeout=60) as client:
        yield client


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


async def _edges(session: Session, a: Person, b: Person) -> tuple[bool, bool]:
    return (await graph.is_following(session, a.user_id, b.user_id),
            await graph.is_following(session, b.user_id, a.user_id))


async def test_a_block_removes_the_follow_edges_both_ways_with_exact_counts(
        world: ReadWorld, cassandra_session: Session) -> None:
    alice, bob, carol = [await world.user(prefix="blk") for _ in range(3)]
    await world.follow(alice, bob)
    await world.follow(bob, alice)
    await world.follow(carol, bob)
    event = make(BlockAdded(user_id=alice.user_id, target_id=bob.user_id), producer="tests")
    await world.publisher.publish(event)

    async def unfollowed() -> bool:
        return await _edges(cassandra_session, alice, bob) == (False, False)
    await world.until(unfollowed)
    stored = await blocks.load(cassandra_session, alice.user_id)
    assert stored.blocked == {bob.user_id} and stored.hidden == {bob.user_id}
    assert (await blocks.load(cassandra_session, bob.user_id)).blocked_by == {alice.user_id}
    assert await blocks.blocked_durably(cassandra_session, bob.user_id, alice.user_id)

    async def counts() -> tuple[int, ...]:
        s = cassandra_session
        return (await graph.follower_count(s, bob.user_id),
                await graph.following_count(s, bob.user_id),
                await graph.follower_count(s, alice.user_id),
                await graph.following_count(s, alice.user_id))

    async def exact() -> bool:
        return await counts() == (1, 0, 0, 0)  # carol still follows bob
    await world.until(exact)

    # The same block again (a redelivery: same event id) and a follow racing it change
    # nothing: the graph processor refuses an edge across a stored block.
    await world.publisher.publish(event)
    await world.publish(FollowRequested(follower_id=bob.user_id, followee_id=alice.user_id))
    await world.follow(carol, alice)  # a later event on alice's partition: ours are applied
    assert await counts() == (1, 0, 1, 0)
    assert await _edges(cassandra_session, alice, bob) == (False, False)
    assert await world.state(bob, alice, "none")


async def test_unblock_drops_the_rows_but_never_restores_the_edges(
        world: ReadWorld, cassandra_session: Session) -> None:
    alice, bob = await world.user(prefix="ubl"), await world.user(prefix="ubl")
    await world.follow(bob, alice)
    await world.block(alice, bob)
    await world.until(lambda: world.state(bob, alice, "none"))
    await world.block(alice, bob, blocked=False)

    async def unblocked() -> bool:
        return (await blocks.load(cassandra_session, bob.user_id)).blocked_by == frozenset()
    await world.until(unblocked)
    assert await _edges(cassandra_session, alice, bob) == (False, False)
    await world.follow(bob, alice)  # and following again is allowed
    assert await _edges(cassandra_session, bob, alice) == (True, False)


async def test_a_mute_is_one_row_and_keeps_the_follow(
        world: ReadWorld, cassandra_session: Session) -> None:
    alice, bob = await world.user(prefix="mut"), await world.user(prefix="mut")
    await world.follow(alice, bob)
    await world.mute(alice, bob)

    async def muted() -> bool:
        return (await blocks.load(cassandra_session, alice.user_id)).muted == {bob.user_id}
    await world.until(muted)
    assert await graph.is_following(cassandra_session, alice.user_id, bob.user_id)
    assert (await blocks.load(cassandra_session, bob.user_id)) == blocks.NONE
    await world.mute(alice, bob, muted=False)

    async def unmuted() -> bool:
        return (await blocks.load(cassandra_session, alice.user_id)).muted == frozenset()
    await world.until(unmuted)


async def test_materialized_timelines_never_show_a_blocked_authors_photos(
        world: ReadWorld, cassandra_session: Session, redis_client: RedisClient) -> None:
    """The read filter hides entries the moment the block is stored (before its unfollows
    reach the timelines); then the fan-out's removal empties both timelines of them."""
    alice, bob = await world.user(prefix="tln"), await world.user(prefix="tln")
    await world.follow(alice, bob)
    assert await world.feed_ids(alice) == []  # alice is active: her hot timeline exists
    pid = await world.photo(bob, "in alice's timeline")
    hot = RedisTimelines(redis_client, world.settings.timelines.redis_cap)

    async def materialized() -> bool:
        durable = [e.photo_id for e in await read_page(cassandra_session, alice.user_id, 50)]
        return pid in durable and pid in await hot.read(alice.user_id, 50)
    await world.until(materialized)
    assert pid in await world.feed_ids(alice)
    # The block's rows alone (what the processor writes first, before its unfollows):
    # the edge and both timeline entries are still there, the feed already hides them.
    await blocks.block(cassandra_session, bob.user_id, alice.user_id, datetime.now(UTC))
    await blocks.invalidate(redis_client, [bob.user_id, alice.user_id])
    assert await graph.is_following(cassandra_session, alice.user_id, bob.user_id)
    assert await materialized()
    assert pid not in await world.feed_ids(alice)
    assert pid not in await world.feed_ids(alice, mode="top")
    await world.block(bob, alice)  # the event itself: unfollows, then removal at apply

    async def removed() -> bool:
        durable = [e.photo_id for e in await read_page(cassandra_session, alice.user_id, 50)]
        return pid not in durable and pid not in await hot.read(alice.user_id, 50)
    await world.until(removed)


# -- ingest ------------------------------------------------------------------------------


async def test_block_and_mute_endpoints_publish_one_event_each(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(prefix="ing"), await world.user(prefix="ing")
    before = await end_offsets(world.settings, BLOCKS.name)
    for method, path in (("POST", "block"), ("DELETE", "block"), ("POST", "mute"),
                         ("DELETE", "mute")):
        r = await ingest.request(method, f"/v1/users/{bob.user_id}/{path}", headers=alice.auth)
        assert r.status_code == 202 and r.json() == {"status": "accepted"}, r.text
    events = [decode(r.value) for r in await records_since(world.settings, before)]
    relation = {"user_id": alice.user_id, "target_id": bob.user_id}
    assert [e.payload for e in events if getattr(e.payload, "user_id", None) == alice.user_id
            ] == [BlockAdded(**relation), BlockRemoved(**relation), MuteAdded(**relation),
                  MuteRemoved(**relation)]


async def test_blocking_yourself_is_422_an_unknown_account_404_no_token_401(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user(prefix="bad")
    unknown = random.getrandbits(62)
    for verb in ("block", "mute"):
        for method in ("POST", "DELETE"):
            body = problem(await ingest.request(method, f"/v1/users/{alice.user_id}/{verb}",
                                                headers=alice.auth), 422)
            assert "path.user_id" in body["detail"] and "yourself" in body["detail"]
            problem(await ingest.request(method, f"/v1/users/{unknown}/{verb}",
                                         headers=alice.auth), 404)
            problem(await ingest.request(method, f"/v1/users/{unknown}/{verb}"), 401)
        problem(await ingest.post(f"/v1/users/abc/{verb}", headers=alice.auth), 422)


async def test_follow_like_and_comment_across_a_block_are_403_both_ways(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(prefix="fbd"), await world.user(prefix="fbd")
    alice_photo, bob_photo = await world.photo(alice, "a"), await world.photo(bob, "b")
    await world.like(bob, alice_photo, alice)  # before the block: withdrawing stays allowed
    r = await ingest.post(f"/v1/users/{bob.user_id}/block", headers=alice.auth)
    assert r.status_code == 202

    async def applied() -> bool:
        return (await world.get(f"/v1/photos/{bob_photo}", alice)).status_code == 404
    await world.until(applied)
    for me, other, pid in ((alice, bob, bob_photo), (bob, alice, alice_photo)):
        for method, path, body in (
                ("POST", f"/v1/users/{other.user_id}/follow", None),
                ("POST", f"/v1/photos/{pid}/likes", None),
                ("POST", f"/v1/photos/{pid}/comments", {"text": "hi"})):
            got = problem(await ingest.request(method, path, headers=me.auth, json=body), 403)
            assert "block" in got["detail"], got
    r = await ingest.delete(f"/v1/photos/{alice_photo}/likes", headers=bob.auth)
    assert r.status_code == 202  # an unlike is never refused
    assert (await ingest.post(f"/v1/users/{bob.user_id}/mute", headers=alice.auth)
            ).status_code == 202  # muting a blocked account is fine too
    await ingest.delete(f"/v1/users/{bob.user_id}/block", headers=alice.auth)

    async def follows_again() -> bool:
        r = await ingest.post(f"/v1/users/{bob.user_id}/follow", headers=alice.auth)
        return r.status_code == 202
    await world.until(follows_again)
    await world.until(lambda: world.state(alice, bob, "following"))


# -- mutes -------------------------------------------------------------------------------


async def test_a_mute_hides_posts_from_the_feed_only(world: ReadWorld) -> None:
    alice, bob = await world.user(prefix="mfd"), await world.user(prefix="mfd")
    await world.follow(alice, bob)
    pid = await world.photo(bob, "muted #mutedtag mutedword")
    await world.comment(bob, pid, bob, "a comment by bob")

    async def in_feed() -> bool:
        return pid in await world.feed_ids(alice)
    await world.until(in_feed)
    await world.mute(alice, bob)

    async def gone() -> bool:
        return pid not in await world.feed_ids(alice)
    await world.until(gone)
    assert pid not in await world.feed_ids(alice, mode="top")
    # Everywhere else bob is as visible as before: card, grid, comments, search, profile.
    assert (await world.get(f"/v1/photos/{pid}", alice)).status_code == 200
    grid = (await world.get(f"/v1/users/{bob.user_id}/photos", alice)).json()
    assert [i["photo_id"] for i in grid["items"]] == [str(pid)]
    assert "a comment by bob" in (await world.get(f"/v1/photos/{pid}/comments", alice)).text
    assert str(pid) in (await world.get("/v1/search", alice, q="#mutedtag")).text
    profile = (await world.get(f"/v1/users/{bob.user_id}", alice)).json()
    assert profile["muting"] is True and profile["follow_state"] == "following"
    assert profile["can_view"] is True
    muted = (await world.get("/v1/me/mutes", alice)).json()["items"]
    assert [u["user_id"] for u in muted] == [str(bob.user_id)]
    assert pid in await world.feed_ids(bob)  # nobody else's feed changes
    await world.mute(alice, bob, muted=False)
    await world.until(in_feed)  # unmuting brings the posts back: nothing was removed


async def test_a_deleted_account_leaves_no_blocks_or_mutes(
        world: ReadWorld, cassandra_session: Session) -> None:
    gone, target, muted, blocker = [await world.user(prefix="del") for _ in range(4)]
    await world.block(gone, target)
    await world.mute(gone, muted)
    await world.block(blocker, gone)

    async def stored() -> bool:
        mine = await blocks.load(cassandra_session, gone.user_id)
        return (mine.blocked, mine.muted, mine.blocked_by) == (
            {target.user_id}, {muted.user_id}, {blocker.user_id})
    await world.until(stored)
    await world.publish(UserDeleted(user_id=gone.user_id))

    async def erased() -> bool:
        s = cassandra_session
        return (await blocks.load(s, gone.user_id) == blocks.NONE
                and await blocks.load(s, target.user_id) == blocks.NONE
                and await blocks.load(s, blocker.user_id) == blocks.NONE)
    await world.until(erased)
    assert (await world.get("/v1/me/blocks", blocker)).json()["items"] == []
