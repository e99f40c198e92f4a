"""The arithmetic of upload admission (producers/ingest/backlog.py)."""

from __future__ import annotations

from producers.ingest.backlog import RETRY_MAX_S, Queue, RateMeter, retry_after


def test_retry_after_is_the_time_to_drain_below_the_limit() -> None:
    assert retry_after(backlog=130, limit=100, rate=10.0) == 4  # 31 records at 10/s
    assert retry_after(backlog=100, limit=100, rate=50.0) == 1  # never below one second


def test_retry_after_is_bounded_and_has_a_default_without_a_rate() -> None:
    assert retry_after(backlog=10_000, limit=100, rate=1.0) == RETRY_MAX_S
    assert retry_after(backlog=500, limit=100, rate=None) == 5
    assert retry_after(backlog=500, limit=100, rate=0.0) == 5


def test_rate_is_committed_progress_over_the_window() -> None:
    meter = RateMeter(window=10)
    assert meter.rate is None
    meter.add(0.0, 100)
    meter.add(2.0, 140)
    assert meter.rate == 20.0
    meter.add(20.0, 140)  # stalled: old samples age out, the rate falls to 0
    meter.add(21.0, 140)
    assert meter.rate == 0.0


def test_wait_is_unknown_until_a_rate_is_measured() -> None:
    assert Queue(ahead=30, rate=None).wait_seconds is None
    assert Queue(ahead=30, rate=0.0).wait_seconds is None
    assert Queue(ahead=30, rate=15.0).wait_seconds == 2.0
