"""Blocks and mutes end to end: events on Kafka, the blocks, graph and fan-out processors
applying them, the read API and ingest answering across them (real stack, no fakes).

A block is mutual in effect and removes the follow edges both ways (through the graph
processor, so counts stay exact); unblocking restores visibility, never the edges. A
mute hides posts from the muter's home feed and nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cassandra.cluster import Session

from infra.settings import Settings
from schemas.blocks import BlockAdded
from schemas.envelope import make
from schemas.graph import FollowRequested
from sinks import blocks, graph
from tests.integration.readside import Person, ReadWorld, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


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
