"""The pure parts of the rate limiter: window math, spread offsets, the 429 problem, settings."""

from __future__ import annotations

import pytest

from infra.http.ratelimit import ACTIONS, limit_of, offset_of, too_many, window_at
from infra.settings import RateLimitSettings, Settings, SettingsError


def test_a_window_holds_now_and_ends_one_period_after_it_began() -> None:
    window = window_at(1000.0, 60)
    assert window.index == 16 and window.ends == 1020.0
    assert window_at(1019.999, 60).index == 16 and window_at(1020.0, 60).index == 17


def test_an_offset_shifts_the_window_boundaries() -> None:
    assert window_at(1005.0, 60, offset=10.0).index == 16
    assert window_at(1005.0, 60, offset=10.0).ends == 1030.0
    assert window_at(1031.0, 60, offset=10.0).index == 17


def test_retry_after_is_whole_seconds_to_the_window_end_and_never_zero() -> None:
    window = window_at(1000.0, 60)
    assert window.retry_after(1000.0) == 20
    assert window.retry_after(1018.2) == 2
    assert window.retry_after(1019.99) == 1
    assert window.retry_after(1020.0) == 1


def test_offsets_are_stable_within_the_period_and_spread() -> None:
    keys = [f"ratelimit:likes:user:{n}" for n in range(200)]
    offsets = [offset_of(key, 60) for key in keys]
    assert offsets == [offset_of(key, 60) for key in keys]
    assert all(0 <= offset < 60 for offset in offsets)
    assert len({int(offset) for offset in offsets}) > 40, "windows should not all align"


def test_every_action_has_a_limit_setting() -> None:
    rate = RateLimitSettings()
    assert {action: limit_of(rate, action) for action in ACTIONS} == {
        "uploads": 30, "likes": 120, "comments": 60, "follows": 60, "edits": 60,
        "sign_ins": 10}


def test_the_problem_says_what_and_when() -> None:
    problem = too_many("sign_ins", 10, 60, 17)
    assert problem.status == 429 and problem.headers == {"Retry-After": "17"}
    body = problem.body()
    assert body["type"].endswith("/rate-limited") and body["title"] == "Too Many Requests"
    assert body["detail"] == "too many sign-ins: at most 10 per 60 s; retry in 17 s"
    assert (body["limit"], body["window_seconds"], body["retry_after"]) == (10, 60, 17)


def test_limits_come_from_the_environment() -> None:
    rate = Settings.from_env({"PHOTOSTREAM_RATE_UPLOADS": "5", "PHOTOSTREAM_RATE_SIGN_INS": "0",
                              "PHOTOSTREAM_RATE_WINDOW_SECONDS": "10"}).rate
    assert (rate.uploads, rate.sign_ins, rate.window_seconds, rate.likes) == (5, 0, 10, 120)
    with pytest.raises(SettingsError, match="PHOTOSTREAM_RATE_WINDOW_SECONDS"):
        Settings.from_env({"PHOTOSTREAM_RATE_WINDOW_SECONDS": "0"})
    with pytest.raises(SettingsError, match="PHOTOSTREAM_RATE_LIKES"):
        Settings.from_env({"PHOTOSTREAM_RATE_LIKES": "many"})
