"""The social processors end to end: events on Kafka, processors running in-process
(the real Runner), effects in Cassandra/Redis; then the SAME events again change nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from cassandra.cluster import Session

from infra.connect import kafka
from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from infra.settings import Settings
from processors.registry import build
from processors.runtime import Runner
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved, StoryPosted
from schemas.envelope import Event, make
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.media import (
    Derivative,
    PhotoCaptionEdited,
    PhotoDeleted,
    PhotoProcessed,
    Placeholder,
)
from schemas.payload import Payload
from schemas.users import UserRegistered
from sinks import engagement, graph, photos, search
from tests.integration.waiting import eventually
from tests.support.ids import random_id, time_id

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def ev(payload: Payload, at: datetime | None = None) -> Event[Payload]:
    return make(payload, producer="tests", occurred_at=at)


def processed(photo_id: int, owner_id: int, caption: str) -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner_id, media_kind="photo", original_width=64,
        original_height=48, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"{photo_id}/t.jpg", width=64, height=48,
                                bytes=10, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#000000", blurhash=None),
        caption=caption, title="", location=None)


@pytest.fixture
async def runners(stack: Settings) -> AsyncIterator[dict[str, Runner]]:
    built = {name: Runner(build(name, stack), stack, backoff=0.1)
             for name in ("metadata", "graph", "following", "engagement")}
    tasks = [asyncio.create_task(r.run()) for r in built.values()]
    yield built
    for runner in built.values():
        runner.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)


async def consumed(stack: Settings, runner: Runner, sent: list[RecordMetadata]) -> None:
    """Wait until ``runner``'s group committed past every record in ``sent``."""
    admin = kafka.admin(stack)
    await admin.start()
    try:
        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(runner.processor.name)
            for meta in sent:
                done = offsets.get(TopicPartition(meta.topic, meta.partition))
                if done is None or done.offset <= meta.offset:
                    return False
            return True
        await eventually(committed, timeout=90)
    finally:
        await admin.close()


async def test_processors_apply_events_once_and_duplicates_change_nothing(
        stack: Settings, runners: dict[str, Runner], cassandra_session: Session,
        redis_client: RedisClient) -> None:
    s = cassandra_session
    public, private, fan, stranger = random_id(), random_id(), random_id(), random_id()
    liked, commented, kept, deleted = time_id(), random_id(), time_id(), time_id()
    likers = [random_id() for _ in range(5)]
    comments = [random_id() for _ in range(3)]
    story, owner, tag = random_id(), random_id(), f"t{random_id()}"
    t0 = datetime.now(UTC)

    graph_events = [
        ev(UserRegistered(user_id=public, username=f"pub{public % 10**9}", display_name="",
                          bio="", private=False)),
        ev(UserRegistered(user_id=private, username=f"prv{private % 10**9}",
                          display_name="", bio="", private=True)),
        ev(FollowRequested(follower_id=fan, followee_id=private)),
        ev(FollowApproved(follower_id=fan, followee_id=private)),
        ev(FollowRequested(follower_id=stranger, followee_id=private)),
        ev(FollowRejected(follower_id=stranger, followee_id=private)),
        ev(FollowRequested(follower_id=fan, followee_id=public)),
        ev(FollowRequested(follower_id=stranger, followee_id=public)),
        ev(FollowRemoved(follower_id=stranger, followee_id=public)),
    ]
    engagement_events = [
        *(ev(LikeAdded(photo_id=liked, user_id=u, owner_id=owner)) for u in likers),
        ev(LikeAdded(photo_id=liked, user_id=likers[0], owner_id=owner)),  # a re-sent like
        ev(LikeRemoved(photo_id=liked, user_id=likers[4], owner_id=owner)),
        *(ev(CommentAdded(comment_id=c, photo_id=commented, owner_id=owner, user_id=fan,
                          text=f"nice {c}")) for c in comments),
        ev(CommentDeleted(comment_id=comments[0], photo_id=commented, owner_id=owner,
                          user_id=fan)),
        ev(StoryPosted(story_id=story, user_id=owner, media_key="stories/x.jpg",
                       posted_at=t0)),
    ]
    metadata_events = [
        ev(processed(kept, owner, f"#{tag} first"), t0),
        ev(PhotoCaptionEdited(photo_id=kept, owner_id=owner, caption=f"#{tag}x edited",
                              title=""), t0 + timedelta(seconds=1)),
        ev(PhotoDeleted(photo_id=deleted, owner_id=owner), t0),
        ev(processed(deleted, owner, f"#{tag} gone"), t0 + timedelta(seconds=2)),
    ]

    async def check_state() -> bool:
        return (
            await graph.is_following(s, fan, private)
            and await graph.is_following(s, fan, public)
            and not await graph.is_following(s, stranger, public)
            and not await graph.is_following(s, stranger, private)
            and not await graph.has_request(s, stranger, private)
            and await graph.follower_count(s, private) == 1
            and await graph.follower_count(s, public) == 1
            and await graph.following_count(s, fan) == 2
            and await graph.following_count(s, stranger) == 0
            and await engagement.like_count(s, liked) == 4
            and await engagement.comment_count(s, commented) == 2
            and await engagement.live_story_ids(redis_client, owner) == [story]
            and await photos.photo_count(s, owner) == 1
            and await photos.recent_photos(s, owner) == [kept]
            and (await photos.get_photo(s, deleted) or _NO).deleted
            and (await photos.get_photo(s, kept) or _NO).caption == f"#{tag}x edited"
            and await search.photos_with_hashtag(s, f"{tag}x") == [kept]
            and await search.photos_with_hashtag(s, tag) == []
        )

    groups = [(runners["graph"], graph_events), (runners["engagement"], engagement_events),
              (runners["metadata"], metadata_events)]
    async with Publisher(stack) as publisher:
        for _round in range(2):  # the second round re-sends the very same events
            for runner, events in groups:
                sent = await publisher.publish_many(events)
                await consumed(stack, runner, sent)
            await eventually(check_state, timeout=90)


_NO = photos.Photo(0, None, None, None, None, None, None, [], None, None, "", "", None, None,
                   None, None)
