"""Pure parts of the read API: cursors, ranking, visibility, presigned URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio

from api import cursors
from api.ranking import rank, score
from api.visibility import can_view_account, can_view_photo, feed_authors, visible_users
from schemas.ids import EPOCH_MS, make_id
from sinks.blocks import NONE, Relations
from sinks.media_urls import MediaUrls


def test_cursor_round_trip_and_endpoint_binding() -> None:
    c = cursors.encode("feed", b=123)
    assert cursors.decode(c, "feed", {"b": int})["b"] == 123
    with pytest.raises(cursors.BadCursor, match="belong"):
        cursors.decode(c, "grid", {"b": int})


@pytest.mark.parametrize("bad", ["", "!!!", "x" * 600, cursors.encode("feed", b="1"),
                                 cursors.encode("feed", b=-1), cursors.encode("feed", b=True),
                                 cursors.encode("feed", b=2**63), cursors.encode("feed")])
def test_malformed_cursors_are_refused(bad: str) -> None:
    with pytest.raises(cursors.BadCursor):
        cursors.decode(bad, "feed", {"b": int})


def _id_at(moment: datetime) -> int:
    return make_id(int(moment.timestamp() * 1000) - EPOCH_MS, 0, 0)


def test_engagement_lifts_and_age_pulls_down() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    fresh, old = _id_at(now - timedelta(minutes=5)), _id_at(now - timedelta(hours=10))
    assert score(fresh, 0, 0, now.timestamp()) > score(old, 0, 0, now.timestamp())
    assert rank([fresh, old], {old: (50, 10)}, now.timestamp()) == [old, fresh]
    assert rank([fresh, old], {}, now.timestamp()) == [fresh, old]


def test_ties_rank_the_newer_photo_first() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    a = _id_at(now)
    assert rank([a, a + 1], {}, now.timestamp()) == [a + 1, a]


PUBLIC = {"id": 1, "private": False}
PRIVATE = {"id": 2, "private": True}


def test_account_visibility() -> None:
    assert can_view_account(9, PUBLIC, frozenset(), NONE)
    assert not can_view_account(9, PRIVATE, frozenset(), NONE)
    assert can_view_account(9, PRIVATE, frozenset({2}), NONE)
    assert can_view_account(2, PRIVATE, frozenset(), NONE)
    assert not can_view_account(9, None, frozenset({2}), NONE)  # unknown account: private


def test_photo_visibility() -> None:
    ready = {"owner": 2, "status": "ready"}
    assert not can_view_photo(9, ready, PRIVATE, frozenset(), NONE)
    assert can_view_photo(9, ready, PRIVATE, frozenset({2}), NONE)
    processing = {"owner": 2, "status": "processing"}
    assert can_view_photo(2, processing, PRIVATE, frozenset(), NONE)
    assert not can_view_photo(9, processing, PRIVATE, frozenset({2}), NONE)
    deleted = {"owner": 2, "status": "deleted"}
    assert not can_view_photo(2, deleted, PRIVATE, frozenset(), NONE)
    assert not can_view_photo(9, None, PUBLIC, frozenset(), NONE)


def test_a_block_hides_either_way_even_a_followed_public_account() -> None:
    blocked_it, blocked_by_it = Relations(blocked=frozenset({1})), Relations(
        blocked_by=frozenset({1}))
    for relations in (blocked_it, blocked_by_it):
        assert not can_view_account(9, PUBLIC, frozenset({1}), relations)
        assert not can_view_photo(9, {"owner": 1, "status": "ready"}, PUBLIC,
                                  frozenset({1}), relations)
        assert visible_users(9, [1, 3, 9], relations) == [3, 9]
    assert can_view_account(1, PUBLIC, frozenset(), blocked_by_it)  # one's own account
    muted = Relations(muted=frozenset({1}))
    assert can_view_account(9, PUBLIC, frozenset({1}), muted)  # a mute hides nothing here
    assert visible_users(9, [1], muted) == [1]


def test_feed_authors_leave_out_blocked_and_muted_accounts() -> None:
    following = frozenset({1, 2, 3, 4})
    relations = Relations(blocked=frozenset({1}), blocked_by=frozenset({2}),
                          muted=frozenset({3}))
    assert feed_authors(9, following, relations) == {4, 9}
    assert feed_authors(9, following, NONE) == {1, 2, 3, 4, 9}
    assert Relations.from_json(relations.to_json()) == relations


def test_presigned_url_matches_the_sdk_byte_for_byte() -> None:
    sdk = Minio("127.0.0.1:9000", access_key="ak", secret_key="sk", secure=False,
                region="us-east-1")
    ours = MediaUrls("127.0.0.1:9000", "media", "ak", "sk", region="us-east-1",
                     ttl_seconds=900)
    date = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
    for key in ("photos/1/large.jpg", "a b+c/é~x.jpg"):
        assert ours.sign(key, date) == sdk.presigned_get_object(
            "media", key, expires=timedelta(seconds=900), request_date=date)


def test_urls_are_stable_within_a_window_and_valid_for_half_the_ttl() -> None:
    urls = MediaUrls("h:9000", "media", "ak", "sk", region="us-east-1", ttl_seconds=900)
    t = 1_800_000_000.0  # a window start (multiple of 450)
    assert urls.url("k", now=t) == urls.url("k", now=t + 449)
    assert urls.url("k", now=t) != urls.url("k", now=t + 450)
    assert urls.expires_at(t + 449) - (t + 449) >= 450
