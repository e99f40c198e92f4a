"""Trending keys and windows: pure functions of ids and clocks."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from schemas.ids import EPOCH_MS, make_id
from sinks import trending


def test_every_window_and_ranking_key_shares_one_cluster_slot() -> None:
    keys = [trending.tags_key(h) for h in range(490_000, 490_048)]
    keys += [trending.tag_photos_key(490_000, "sunset"), trending.POPULAR_KEY,
             trending.RECENT_KEY]
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_per_photo_engagement_keys_share_the_photos_slot() -> None:
    assert key_slot(trending.likes_key(42).encode()) == key_slot(
        trending.comments_key(42).encode())


def test_posting_hour_comes_from_the_id() -> None:
    unix_ms = 1_780_000_000_123
    photo = make_id(unix_ms - EPOCH_MS, 5, 7)
    assert trending.posted_ms(photo) == unix_ms
    assert trending.hour_of(photo) == unix_ms // 3_600_000


def test_recent_means_within_the_kept_window() -> None:
    now = 1_780_000_000.0
    inside = make_id(int((now - 47 * 3600) * 1000) - EPOCH_MS, 0, 0)
    outside = make_id(int((now - 49 * 3600) * 1000) - EPOCH_MS, 0, 0)
    assert trending.is_recent(inside, now=now)
    assert not trending.is_recent(outside, now=now)


@pytest.mark.parametrize("hours", [0, -1, trending.KEEP_HOURS + 1])
async def test_reads_refuse_windows_outside_what_is_kept(hours: int) -> None:
    with pytest.raises(ValueError, match="hours must be between 1 and 48"):
        await trending.trending_hashtags(None, hours=hours)  # type: ignore[arg-type]
