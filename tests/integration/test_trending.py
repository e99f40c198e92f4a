"""Explore's trending window end to end: events on Kafka, the real trending processor
(with graph and metadata, which store the profiles and photo lists it reads), counts in
Redis; redelivered events change nothing; deleted and private photos do not surface.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from infra.settings import Settings
from processors.registry import build
from processors.runtime import Runner
from schemas.engagement import CommentAdded, LikeAdded, LikeRemoved
from schemas.envelope import Event
from schemas.ids import EPOCH_MS, make_id
from schemas.media import PhotoDeleted
from schemas.payload import Payload
from schemas.users import UserProfileUpdated, UserRegistered
from sinks import trending, users
from tests.integration.test_social_processors import consumed, ev, processed
from tests.integration.waiting import eventually
from tests.support.ids import random_id, time_id

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture
async def runners(stack: Settings) -> AsyncIterator[dict[str, Runner]]:
    built = {name: Runner(build(name, stack), stack, backoff=0.1)
             for name in ("graph", "metadata", "trending")}
    tasks = [asyncio.create_task(r.run()) for r in built.values()]
    yield built
    for runner in built.values():
        runner.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)


async def tag_counts(redis: RedisClient, *tags: str) -> dict[str, int]:
    """Our tags' 24-hour counts (0 if absent), whatever else the shared stack trends."""
    top = dict(await trending.trending_hashtags(redis, hours=24, limit=100_000))
    return {t: top.get(t, 0) for t in tags}


async def ours(redis: RedisClient, ids: set[int]) -> list[int]:
    return [p for p in await trending.popular_photo_ids(redis, limit=100_000) if p in ids]


def register(user_id: int, *, private: bool, update: bool = False) -> Event[Payload]:
    kind = UserProfileUpdated if update else UserRegistered
    return ev(kind(user_id=user_id, username=f"tr{user_id % 10**12}", display_name="",
                   bio="", private=private))


async def test_trending_counts_distinct_public_photos_and_redelivery_changes_nothing(
        stack: Settings, runners: dict[str, Runner], cassandra_session, redis_client) -> None:
    s, r = cassandra_session, redis_client
    author, hidden, fan1, fan2 = random_id(), random_id(), random_id(), random_id()
    a, b = f"tra{random_id()}", f"trb{random_id()}"
    p1, p2, p3, secret = time_id(), time_id(), time_id(), time_id()

    async with Publisher(stack) as pub:
        sent = await pub.publish_many([register(author, private=False),
                                       register(hidden, private=True)])
        await consumed(stack, runners["graph"], sent)

        async def profiles_stored() -> bool:
            return (await users.get_user(s, author) is not None
                    and await users.get_user(s, hidden) is not None)
        await eventually(profiles_stored)

        photo_events = [
            ev(processed(p1, author, f"#{a} at the #{b}")),
            ev(processed(p2, author, f"#{a.upper()} again")),   # folded: the same tag
            ev(processed(p3, author, f"#{a} #{a} twice in one caption")),
            ev(processed(secret, hidden, f"#{a} #{b} from a private account")),
        ]
        engagement = [
            ev(LikeAdded(photo_id=p2, user_id=fan1, owner_id=author)),
            ev(LikeAdded(photo_id=p2, user_id=fan2, owner_id=author)),
            ev(LikeAdded(photo_id=p2, user_id=fan1, owner_id=author)),  # a re-sent like
            ev(LikeAdded(photo_id=p3, user_id=fan1, owner_id=author)),
            ev(LikeRemoved(photo_id=p3, user_id=fan1, owner_id=author)),
            ev(CommentAdded(comment_id=random_id(), photo_id=p3, owner_id=author, user_id=fan2,
                            text="nice")),
            ev(LikeAdded(photo_id=secret, user_id=fan1, owner_id=hidden)),
        ]

        async def counted_once() -> bool:
            return (await tag_counts(r, a, b) == {a: 3, b: 1}
                    and await ours(r, {p1, p2, p3, secret}) == [p2, p3, p1])

        for _round in range(2):  # the second round re-sends the very same events
            sent = await pub.publish_many(photo_events)
            await consumed(stack, runners["trending"], sent)
            sent = await pub.publish_many(engagement)
            await consumed(stack, runners["trending"], sent)
            await eventually(counted_once, timeout=60)
        assert await trending.engagement_score(r, p2) == 2


async def test_deleted_photos_and_private_authors_do_not_surface(
        stack: Settings, runners: dict[str, Runner], cassandra_session, redis_client) -> None:
    s, r = cassandra_session, redis_client
    author = random_id()
    tag = f"trd{random_id()}"
    kept, gone, early = time_id(), time_id(), time_id()

    async with Publisher(stack) as pub:
        sent = await pub.publish_many([register(author, private=False)])
        await consumed(stack, runners["graph"], sent)
        await eventually(lambda: _known(s, author))

        # Deleted before its photo.processed arrives (two topics, no order): never counted.
        sent = await pub.publish_many([ev(PhotoDeleted(photo_id=early, owner_id=author))])
        await consumed(stack, runners["trending"], sent)
        sent = await pub.publish_many([ev(processed(p, author, f"#{tag}"))
                                       for p in (kept, gone, early)])
        await consumed(stack, runners["trending"], sent)

        async def two_counted() -> bool:
            # no engagement yet: equal scores, so the newer (larger) id first
            return (await tag_counts(r, tag) == {tag: 2}
                    and await ours(r, {kept, gone, early}) == sorted([kept, gone], reverse=True))
        await eventually(two_counted, timeout=60)

        sent = await pub.publish_many([ev(PhotoDeleted(photo_id=gone, owner_id=author))])
        await consumed(stack, runners["trending"], sent)

        async def deletion_uncounted() -> bool:
            return (await tag_counts(r, tag) == {tag: 1}
                    and await ours(r, {kept, gone, early}) == [kept])
        await eventually(deletion_uncounted, timeout=60)

        # The author turns private: their recent photos leave explore (photos_by_user is
        # the metadata processor's list, so wait for it to have the kept photo).
        await consumed(stack, runners["metadata"], sent)
        sent = await pub.publish_many([register(author, private=True, update=True)])
        await consumed(stack, runners["trending"], sent)

        async def private_gone() -> bool:
            return (await tag_counts(r, tag) == {tag: 0}
                    and await ours(r, {kept, gone, early}) == [])
        await eventually(private_gone, timeout=60)

        # ...and a redelivered photo.processed of theirs does not bring it back.
        sent = await pub.publish_many([ev(processed(kept, author, f"#{tag}"))])
        await consumed(stack, runners["trending"], sent)
        assert await tag_counts(r, tag) == {tag: 0}


async def _known(session, user_id: int) -> bool:
    return await users.get_user(session, user_id) is not None


async def test_window_sums_hours_and_forgets_older_ones(stack: Settings,
                                                        redis_client) -> None:
    """The sink alone, at a fixed clock: hourly windows sum, older hours drop out."""
    r = redis_client
    tag = f"trw{random_id()}"
    now = time.time()

    def posted(hours_ago: float) -> int:
        ms = int((now - hours_ago * 3600) * 1000) - EPOCH_MS
        return make_id(ms, random_id() % 8192, random_id() % 1024)

    fresh, recent, old = posted(0), posted(2), posted(30)
    for photo in (fresh, recent, old, fresh):  # ``fresh`` twice: still one photo
        await trending.count_photo(r, photo, {tag})
    assert dict(await trending.trending_hashtags(r, hours=48, limit=100_000, now=now))[tag] == 3
    assert dict(await trending.trending_hashtags(r, hours=24, limit=100_000, now=now))[tag] == 2
    assert dict(await trending.trending_hashtags(r, hours=1, limit=100_000, now=now))[tag] == 1
    await trending.uncount_photo(r, recent, {tag})
    assert dict(await trending.trending_hashtags(r, hours=24, limit=100_000, now=now))[tag] == 1
    with pytest.raises(ValueError, match="hours"):
        await trending.trending_hashtags(r, hours=49)
