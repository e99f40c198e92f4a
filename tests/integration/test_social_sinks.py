"""Social sinks against the real Cassandra and Redis: counts, tombstones, index, stories."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from schemas.media import Derivative, PhotoProcessed, Placeholder
from sinks import engagement, graph, photos, search, users
from sinks.statements import micros
from tests.support.ids import random_id, time_id

pytestmark = pytest.mark.stack


def now() -> datetime:
    return datetime.now(UTC)


def processed(photo_id: int, owner_id: int, caption: str, title: str = "") -> PhotoProcessed:
    return PhotoProcessed(
        photo_id=photo_id, owner_id=owner_id, media_kind="photo", original_width=800,
        original_height=600, duration_ms=None,
        derivatives=(Derivative(name="thumb", key=f"{photo_id}/thumb.jpg", width=160,
                                height=120, bytes=1000, content_type="image/jpeg"),),
        placeholder=Placeholder(dominant_color="#336699", blurhash=None),
        caption=caption, title=title, location=None,
    )


async def test_duplicate_likes_count_once_and_remove_then_re_add(
        cassandra_session: Session) -> None:
    s, photo, user = cassandra_session, random_id(), random_id()
    assert await engagement.add_like(s, photo, user, now()) is True
    assert await engagement.add_like(s, photo, user, now()) is False
    assert await engagement.like_count(s, photo) == 1
    assert await engagement.remove_like(s, photo, user) is True
    assert await engagement.remove_like(s, photo, user) is False
    assert await engagement.like_count(s, photo) == 0
    assert await engagement.add_like(s, photo, user, now()) is True
    assert await engagement.like_count(s, photo) == 1
    assert await engagement.has_liked(s, photo, user)


async def test_a_run_of_likes_with_duplicates_counts_each_liker_once_even_applied_twice_at_once(
        cassandra_session: Session) -> None:
    """The single-writer path: one run (50 likers, 10 of them twice) is one count of 50,
    and two copies of the processor applying that run at the same moment (a rebalance
    in progress) write the same absolute values instead of adding up."""
    s, photo = cassandra_session, random_id()
    likers = [random_id() for _ in range(50)]
    attempts = likers + likers[:10]
    random.shuffle(attempts)
    wanted = {photo: {u: engagement.like_change(u, True, now()) for u in attempts}}
    stamp = {photo: micros(now())}
    first, second = await asyncio.gather(engagement.apply_likes(s, wanted, stamp),
                                         engagement.apply_likes(s, wanted, stamp))
    assert len(first[photo].changes) == len(second[photo].changes) == 50
    assert await engagement.like_count(s, photo) == 50
    replay = await engagement.apply_likes(s, wanted, stamp)
    assert replay[photo].changes == [] and await engagement.like_count(s, photo) == 50
    assert sorted(await engagement.likers(s, photo)) == sorted(likers)


async def test_an_unlike_applied_after_a_later_like_of_the_same_run_wins_by_order(
        cassandra_session: Session) -> None:
    """Order is the log's: the next run's write time is past the last run's, so an
    unlike whose event claims an older time still removes the like it follows."""
    s, photo, user = cassandra_session, random_id(), random_id()
    liked_at = now()
    await engagement.apply_likes(s, {photo: {user: engagement.like_change(user, True, liked_at)}},
                                 {photo: micros(liked_at)})
    await engagement.apply_likes(s, {photo: {user: engagement.like_change(user, False)}},
                                 {photo: micros(liked_at) - 5_000_000})
    assert await engagement.like_count(s, photo) == 0
    assert not await engagement.has_liked(s, photo, user)
    assert await engagement.liked_photos(s, user, 10) == []


async def test_comments_are_counted_once_and_listed_newest_first(
        cassandra_session: Session) -> None:
    s, photo, user = cassandra_session, random_id(), random_id()
    ids = sorted(random_id() for _ in range(3))
    for cid in ids + ids:
        await engagement.add_comment(s, photo, cid, user, f"comment {cid}", now())
    assert await engagement.comment_count(s, photo) == 3
    assert [c for c, _ in await engagement.authored_comments(s, user, 10)] == ids[::-1]
    assert await engagement.remove_comment(s, photo, ids[0], user) is True
    assert await engagement.comment_count(s, photo) == 2
    assert [c.comment_id for c in await engagement.recent_comments(s, photo)] == ids[:0:-1]
    assert await engagement.authored_comments(s, user, 10) == [(c, photo) for c in ids[:0:-1]]


async def test_follow_edges_both_ways_with_counts_and_paging(cassandra_session: Session) -> None:
    s, star = cassandra_session, random_id()
    fans = sorted(random_id() for _ in range(25))
    for fan in fans:
        assert await graph.follow(s, fan, star, now()) is True
    assert await graph.follow(s, fans[0], star, now()) is False
    assert await graph.follower_count(s, star) == 25
    assert await graph.following_count(s, fans[0]) == 1
    assert await graph.following(s, fans[0]) == [star]
    assert await graph.is_following(s, fans[0], star)
    assert await graph.is_following(s, fans[0], star, serial=True)
    assert not await graph.is_following(s, star, fans[0])

    pages, after = [], None
    while page := await graph.followers_page(s, star, after, limit=10):
        pages.append(page)
        after = page[-1]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [f for p in pages for f in p] == fans
    streamed = [page async for page in graph.iter_followers(s, star, fetch_size=7)]
    assert [f for p in streamed for f in p] == fans and max(map(len, streamed)) <= 7

    assert await graph.unfollow(s, fans[0], star) is True
    assert await graph.unfollow(s, fans[0], star) is False
    assert await graph.follower_count(s, star) == 24
    assert await graph.following_count(s, fans[0]) == 0
    assert await graph.follow(s, fans[0], star, now()) is True
    assert await graph.follower_count(s, star) == 25


async def test_private_follow_waits_in_requests_until_approved(
        cassandra_session: Session) -> None:
    s, owner, fan = cassandra_session, random_id(), random_id()
    assert await users.is_private(s, owner)  # unknown accounts are treated as private
    await users.upsert_profile(s, owner, f"p{owner}", "P", "", True, now(), registered=True)
    assert await users.is_private(s, owner)
    assert await graph.request_follow(s, fan, owner, now()) is True
    assert await graph.has_request(s, fan, owner)
    assert await graph.pending_requests(s, owner) == [fan]
    assert not await graph.is_following(s, fan, owner)
    await graph.follow(s, fan, owner, now())  # approval
    assert await graph.is_following(s, fan, owner)
    assert not await graph.has_request(s, fan, owner)
    assert await graph.request_follow(s, fan, owner, now()) is False  # already following


async def test_deleted_photo_is_not_resurrected_by_a_late_processed(
        cassandra_session: Session) -> None:
    s, owner, photo = cassandra_session, random_id(), time_id()
    assert (await photos.mark_processed(s, processed(photo, owner, "#late party"), now())).ready
    assert (await photos.mark_processed(s, processed(photo, owner, "#late party"), now())).ready
    assert await photos.photo_count(s, owner) == 1
    assert await photos.recent_photos(s, owner) == [photo]
    await search.reindex_photo(s, photo)
    assert photo in await search.photos_with_hashtag(s, "late")

    await photos.mark_deleted(s, photo, owner, now())
    await search.reindex_photo(s, photo)
    # A replay of its events after the deletion, each with a later event time.
    later = now() + timedelta(hours=1)
    assert (await photos.mark_processed(s, processed(photo, owner, "#late party"), later)).deleted
    await photos.write_ready(s, processed(photo, owner, "#late party"), later)
    await photos.list_photo(s, processed(photo, owner, "#late party"), later)
    await photos.mark_failed(s, photo, owner, "decode: bad", later)
    await photos.set_caption(s, photo, "#again", "", later)
    await search.reindex_photo(s, photo)
    row = await photos.get_photo(s, photo)
    assert row is not None and row.deleted
    assert await photos.photo_count(s, owner) == 0
    assert await photos.recent_photos(s, owner) == []
    assert photo not in await search.photos_with_hashtag(s, "late")
    assert photo not in await search.photos_with_term(s, "party")


async def test_delete_before_processed_leaves_a_tombstone(cassandra_session: Session) -> None:
    # The ready event handled after the delete (the topics are not ordered): stays
    # deleted, never listed, whichever of the two writers (metadata, fan-out) comes.
    s, owner, photo = cassandra_session, random_id(), time_id()
    await photos.mark_deleted(s, photo, owner, now())
    late = now() + timedelta(seconds=5)
    assert (await photos.mark_processed(s, processed(photo, owner, "x"), late)).deleted
    await photos.list_photo(s, processed(photo, owner, "x"), late)
    await photos.mark_failed(s, photo, owner, "decode: bad", late)
    row = await photos.get_photo(s, photo)
    assert row is not None and row.status == photos.STATUS_DELETED
    assert await photos.photo_count(s, owner) == 0
    assert await photos.recent_photos(s, owner) == []


async def test_ready_and_failed_the_later_event_wins_in_any_order(
        cassandra_session: Session) -> None:
    s, owner, photo = cassandra_session, random_id(), time_id()
    t0 = now()
    await photos.mark_failed(s, photo, owner, "decode: later", t0 + timedelta(seconds=2))
    assert not (await photos.mark_processed(s, processed(photo, owner, "x"), t0)).ready
    row = await photos.get_photo(s, photo)
    assert row is not None and row.status == "failed" and row.failure_reason == "decode: later"
    assert await photos.recent_photos(s, owner) == []
    # A reprocessing that succeeds later makes it ready and listed again.
    assert (await photos.mark_processed(s, processed(photo, owner, "x"),
                                        t0 + timedelta(seconds=4))).ready
    row = await photos.get_photo(s, photo)
    assert row is not None and row.ready and row.failure_reason is None
    assert await photos.recent_photos(s, owner) == [photo]


async def test_failed_photo_keeps_its_reason(cassandra_session: Session) -> None:
    s, owner, photo = cassandra_session, random_id(), time_id()
    await photos.mark_failed(s, photo, owner, "decode: not an image", now())
    row = await photos.get_photo(s, photo)
    assert row is not None and row.status == "failed"
    assert row.failure_reason == "decode: not an image"


async def test_caption_edits_are_last_writer_wins_by_event_time(
        cassandra_session: Session) -> None:
    s, owner, photo = cassandra_session, random_id(), time_id()
    t0 = now()
    await photos.mark_processed(s, processed(photo, owner, "original #first"), t0)
    # Two edits handled out of order: the newer one stays.
    await photos.set_caption(s, photo, "newest #third", "T3", t0 + timedelta(seconds=3))
    await photos.set_caption(s, photo, "older #second", "T2", t0 + timedelta(seconds=2))
    # A redelivered processed (upload-time caption) does not undo the edit either.
    await photos.mark_processed(s, processed(photo, owner, "original #first"), t0)
    row = await photos.get_photo(s, photo)
    assert row is not None and (row.caption, row.title) == ("newest #third", "T3")
    assert row.derivatives[0]["name"] == "thumb" and row.width == 800


async def test_an_edit_stored_before_processing_survives_it(cassandra_session: Session) -> None:
    # photo.caption_edited and media.processed are different topics: the edit can land
    # first, and processing must then make the photo ready without its upload caption.
    s, owner, photo = cassandra_session, random_id(), time_id()
    await photos.set_caption(s, photo, "edited #early", "E", now() + timedelta(seconds=1))
    stored = await photos.mark_processed(s, processed(photo, owner, "original #upload"), now())
    assert stored.ready and (stored.caption, stored.title) == ("edited #early", "E")
    row = await photos.get_photo(s, photo)
    assert row is not None and row.ready and row.width == 800
    assert (row.caption, row.title) == ("edited #early", "E")
    assert await photos.recent_photos(s, owner) == [photo]


async def test_search_normalizes_and_reindexes_on_caption_edit(
        cassandra_session: Session) -> None:
    s, owner, photo = cassandra_session, random_id(), time_id()
    word = f"w{random_id()}"  # a term no other test uses
    full_width_golden = "\uff27\uff4f\uff4c\uff44\uff45\uff4e"
    caption = f"Café {word.upper()}! #SunSet #Été"
    await photos.mark_processed(s, processed(photo, owner, caption, full_width_golden), now())
    await search.reindex_photo(s, photo)
    await search.reindex_photo(s, photo)  # converging twice is a no-op
    assert photo in await search.photos_with_term(s, word)
    assert photo in await search.photos_with_term(s, "CAFÉ")
    assert photo in await search.photos_with_term(s, "golden")
    assert photo in await search.photos_with_hashtag(s, "#sunset")
    assert photo in await search.photos_with_hashtag(s, "ÉTÉ")

    await photos.set_caption(s, photo, f"{word}2 #moon", "", now() + timedelta(seconds=1))
    await search.reindex_photo(s, photo)
    assert photo not in await search.photos_with_term(s, word)
    assert photo not in await search.photos_with_hashtag(s, "sunset")
    assert photo in await search.photos_with_term(s, f"{word}2")
    assert photo in await search.photos_with_hashtag(s, "moon")


async def test_username_prefixes_and_rename_cleanup(cassandra_session: Session) -> None:
    s, user = cassandra_session, random_id()
    old, new = f"zq{user % 10**8}", f"zr{user % 10**8}"
    t1 = now()
    await users.upsert_profile(s, user, old, "Z", "", False, t1, registered=True)
    await search.index_username(s, user, old, None, micros(t1))
    assert (old, user) in await search.users_with_prefix(s, old[:5])
    assert (old, user) in await search.users_with_prefix(s, old)  # longer than 10 chars
    assert await users.user_id_for(s, old) == user

    t2 = t1 + timedelta(seconds=1)
    previous = await users.upsert_profile(s, user, new, "Z", "", False, t2)
    assert previous is not None and previous.username == old
    await search.index_username(s, user, new, previous.username, micros(t2))
    assert await users.user_id_for(s, old) is None
    assert await users.user_id_for(s, new) == user
    assert (old, user) not in await search.users_with_prefix(s, old[:5])
    assert (new, user) in await search.users_with_prefix(s, new[:3])

    # A stale replay of the first profile changes nothing.
    await users.upsert_profile(s, user, old, "Z", "", True, t1)
    user_row = await users.get_user(s, user)
    assert user_row is not None and user_row.username == new and not user_row.private


async def test_stories_expire_24h_after_posting_in_both_stores(
        cassandra_session: Session, redis_client: RedisClient) -> None:
    s, author = cassandra_session, random_id()
    story, posted = random_id(), now() - timedelta(hours=23)
    assert await engagement.post_story(s, redis_client, story, author, "s/1.jpg", posted)
    assert await engagement.post_story(s, redis_client, story, author, "s/1.jpg", posted)
    rows = list(s.execute("SELECT TTL(media_key) AS ttl FROM stories WHERE user_id = %s",
                          (author,)))
    assert len(rows) == 1 and 3500 <= rows[0]["ttl"] <= 3600
    key = engagement.stories_key(author)
    assert key == f"stories:{{{author}}}"
    assert 3500_000 <= await redis_client.pttl(key) <= 3600_000
    assert await engagement.live_story_ids(redis_client, author) == [story]
    assert [st.story_id for st in await engagement.stories(s, author)] == [story]

    fresh = random_id()
    await engagement.post_story(s, redis_client, fresh, author, "s/2.jpg", now())
    assert await engagement.live_story_ids(redis_client, author) == [fresh, story]
    assert await redis_client.pttl(key) > 86_000_000  # the newest story keeps the key

    expired = random_id()
    assert not await engagement.post_story(s, redis_client, expired, author, "s/0.jpg",
                                           now() - timedelta(hours=25))
    assert expired not in await engagement.live_story_ids(redis_client, author)
