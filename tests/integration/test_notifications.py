"""The notifications processor against the real stack: events on Kafka, the processor in
process (the real Runner), the inbox read back from Cassandra and Redis.

Pins: grouping (one entry per photo and window, newest actors, a count that moves),
nobody told of their own action, redelivered events change nothing, a like withdrawn
before it was seen disappears and after it was seen stays, mentions reach only users
who may see the photo, follow requests change state in place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from cassandra.cluster import Session

from infra.connect import kafka
from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from infra.settings import Settings
from schemas.engagement import CommentAdded, LikeAdded, LikeRemoved
from schemas.envelope import Event, make
from schemas.graph import FollowApproved, FollowRequested
from schemas.payload import Payload
from schemas.topics import NOTIFICATIONS_GROUP
from sinks import graph
from sinks import notifications as inbox
from sinks.notification_hot import HotInbox
from tests.integration.test_social_processors import processed
from tests.integration.waiting import eventually
from tests.support.accounts import registered_user
from tests.support.ids import random_id, time_id
from tests.support.processors import running

pytestmark = [pytest.mark.stack]


def ev(payload: Payload) -> Event[Payload]:
    return make(payload, producer="tests", occurred_at=datetime.now(UTC))


@pytest.fixture
async def notifier(stack: Settings) -> AsyncIterator[None]:
    async with running(stack, "notifications"):
        yield


async def deliver(stack: Settings, events: Sequence[Event[Payload]]) -> None:
    """Publish ``events`` and wait until the notifications group committed past them."""
    async with Publisher(stack) as publisher:
        sent: list[RecordMetadata] = await publisher.publish_many(list(events))
    admin = kafka.admin(stack)
    await admin.start()
    try:
        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(NOTIFICATIONS_GROUP.group_id)
            return all((done := offsets.get(TopicPartition(m.topic, m.partition))) is not None
                       and done.offset > m.offset for m in sent)
        await eventually(committed, timeout=90)
    finally:
        await admin.close()


async def entries(session: Session, user_id: int) -> list[inbox.Entry]:
    return await inbox.newest(session, user_id, 100)


async def test_likes_group_dedupe_and_withdraw(stack: Settings, notifier: None,
                                               cassandra_session: Session,
                                               redis_client: RedisClient) -> None:
    s = cassandra_session
    hot = HotInbox(redis_client, cap=stack.notify.hot_entries, maxlen=50)
    owner = await registered_user()
    likers = [await registered_user() for _ in range(5)]
    photo, gone, seen, viral = time_id(), time_id(), time_id(), time_id()
    fans = [random_id() for _ in range(300)]
    first = [
        ev(LikeAdded(photo_id=photo, user_id=owner, owner_id=owner)),  # one's own like
        *(ev(LikeAdded(photo_id=photo, user_id=u, owner_id=owner)) for u in likers),
        ev(LikeAdded(photo_id=gone, user_id=likers[0], owner_id=owner)),
        *(ev(LikeAdded(photo_id=viral, user_id=u, owner_id=owner)) for u in fans),
    ]
    await deliver(stack, first)
    await deliver(stack, first)  # redelivered: the very same events again

    found = {e.photo_id: e for e in await entries(s, owner)}
    assert set(found) == {photo, gone, viral}, "one entry per photo, none for the own like"
    assert found[photo].type == inbox.LIKE
    assert found[photo].actor_count == 5, "a redelivered like counted twice"
    assert found[photo].actor_ids[:3] == likers[::-1][:3], "the newest actors, newest first"
    assert found[viral].actor_count == 300, "a viral photo stays one entry whose count moves"
    assert (await hot.page(owner, 10))[2][0].notification_id == max(
        e.notification_id for e in found.values())

    # Withdrawn before seen: out of the entry; the last actor gone: the entry is gone.
    await deliver(stack, [ev(LikeRemoved(photo_id=photo, user_id=likers[4], owner_id=owner)),
                          ev(LikeRemoved(photo_id=gone, user_id=likers[0], owner_id=owner))])
    found = {e.photo_id: e for e in await entries(s, owner)}
    assert gone not in found, "a like withdrawn before it was seen must disappear"
    assert found[photo].actor_count == 4
    assert found[photo].actor_ids[:3] == likers[3::-1][:3]
    _filled, _marker, hot_entries = await hot.page(owner, 10)
    assert gone not in {e.photo_id for e in hot_entries}, "still in the hot copy"

    # Seen, then withdrawn: the entry stays as it was seen.
    await deliver(stack, [ev(LikeAdded(photo_id=seen, user_id=likers[1], owner_id=owner))])
    seen_entry = next(e for e in await entries(s, owner) if e.photo_id == seen)
    await inbox.mark_read(s, owner, seen_entry.notification_id)
    await deliver(stack, [ev(LikeRemoved(photo_id=seen, user_id=likers[1], owner_id=owner))])
    after = next(e for e in await entries(s, owner) if e.photo_id == seen)
    assert after.actor_count == 1 and after.actor_ids == [likers[1]]


async def test_mentions_reach_only_who_may_see_the_photo(
        stack: Settings, notifier: None, cassandra_session: Session) -> None:
    s = cassandra_session
    author = await registered_user(private=True)
    follower, stranger = await registered_user(), await registered_user()
    await graph.follow(s, follower, author, datetime.now(UTC))
    photo, comment = time_id(), random_id()
    name = {uid: f"t{uid:x}"[:30] for uid in (author, follower, stranger)}
    caption = (f"with @{name[follower].upper()} and @{name[stranger]}, "
               f"@nobody_{random_id()} and me @{name[author]}.")
    events = [
        ev(processed(photo, author, caption)),
        ev(CommentAdded(comment_id=comment, photo_id=photo, owner_id=author, user_id=follower,
                        text=f"@{name[author]} @{name[stranger]} look")),
    ]
    await deliver(stack, events)
    await deliver(stack, events)  # redelivered

    mentions = [e for e in await entries(s, follower) if e.type == inbox.MENTION]
    assert len(mentions) == 1, "the approved follower is mentioned once"
    assert mentions[0].photo_id == photo and mentions[0].actor_ids == [author]
    assert await entries(s, stranger) == [], "a private post's mention reached a stranger"
    own = await entries(s, author)
    assert [e.type for e in own] == [inbox.COMMENT], "self-mention, or the owner told twice"
    assert await inbox.photos_mentioning(s, stranger, 10) == [photo], "mentions are indexed"


async def test_follow_request_then_approval_and_a_public_follow(
        stack: Settings, notifier: None, cassandra_session: Session) -> None:
    s = cassandra_session
    private, public = await registered_user(private=True), await registered_user()
    asker, fans = await registered_user(), [await registered_user() for _ in range(2)]
    await deliver(stack, [ev(FollowRequested(follower_id=asker, followee_id=private))])
    [request] = await entries(s, private)
    assert (request.type, request.state, request.actor_ids) == (
        inbox.FOLLOW_REQUEST, inbox.PENDING, [asker])
    approval = [ev(FollowApproved(follower_id=asker, followee_id=private)),
                *(ev(FollowApproved(follower_id=f, followee_id=public)) for f in fans)]
    await deliver(stack, approval)
    await deliver(stack, approval)
    [request] = await entries(s, private)
    assert request.state == inbox.ACCEPTED, "the request entry changes in place"
    [accepted] = await entries(s, asker)
    assert (accepted.type, accepted.actor_ids) == (inbox.FOLLOW_ACCEPTED, [private])
    [followed] = await entries(s, public)
    assert (followed.type, followed.actor_count) == (inbox.FOLLOW, 2)
