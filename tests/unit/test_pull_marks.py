"""The pull-author mark's timestamp: the earliest photo wins without a transaction."""

from __future__ import annotations

from schemas.ids import MAX_TIME_MS, make_id
from sinks.pull_authors import mark_stamp


def test_an_earlier_photo_marks_with_a_higher_timestamp_so_it_wins() -> None:
    earlier, later = make_id(1_000, 5, 0), make_id(2_000, 5, 0)
    assert mark_stamp(earlier) > mark_stamp(later)


def test_marks_stay_in_the_future_so_a_normal_write_cannot_overwrite_them() -> None:
    newest = make_id(MAX_TIME_MS, 8191, 1023)
    assert mark_stamp(newest) > 4_000_000_000_000_000  # past 2096 in microseconds
