"""Per-user and per-address rate limits: fixed windows counted in Redis, 429 beyond them.

Why Redis: every replica of a service must see the same count, or N replicas allow N
times the limit. Why a fixed window: one ``INCR`` and one ``PEXPIREAT`` of the window's
own key, pipelined, is one round trip per write and needs no script (so it also runs on
Redis Cluster: both commands touch one key). Its known flaw, up to twice the limit across
a window boundary, is harmless for limits set far above human use. Each subject's windows
start at an offset taken from a hash of its key, so the clients refused in one window are
not all told to come back in the same second.

Why fail open: a limit protects the service from abuse, it is not what makes a write
correct. If Redis does not answer (within ``FAIL_AFTER_SECONDS``, one attempt) the write is
allowed, a warning is logged and ``photostream_rate_limit_unchecked`` counted, and Redis is
left alone for ``PAUSE_SECONDS`` so an outage costs each write nothing instead of a timeout.
Turning a Redis outage into 500s (or 503s) on every like would be the worse failure.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass
from typing import Literal, get_args

from redis.exceptions import RedisError

from infra.connect import redis as redis_connect
from infra.connect.redis import RedisClient
from infra.http.problems import Problem
from infra.metrics import RATE_LIMIT_UNCHECKED, RATE_LIMITED
from infra.settings import RateLimitSettings, Settings

Action = Literal["uploads", "likes", "comments", "follows", "edits", "sign_ins"]
ACTIONS: tuple[Action, ...] = get_args(Action)
KEY_PREFIX = "ratelimit"
#: How long one limit check may wait for Redis before the write goes on unchecked.
FAIL_AFTER_SECONDS = 0.25
#: After Redis failed to answer, how long writes skip the check before trying it again.
PAUSE_SECONDS = 1.0
#: A window's key outlives the window by this much (clock skew between us and Redis).
EXPIRY_SLACK_MS = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The fixed window holding ``now``: its number and when it ends (epoch seconds)."""

    index: int
    ends: float

    def retry_after(self, now: float) -> int:
        """Whole seconds until the window ends (at least 1: ``Retry-After: 0`` invites a
        tight retry loop)."""
        return max(1, math.ceil(self.ends - now))


def offset_of(subject_key: str, seconds: int) -> float:
    """Where in each ``seconds`` period this subject's windows start (stable, spread)."""
    return zlib.crc32(subject_key.encode()) % (seconds * 1000) / 1000


def window_at(now: float, seconds: int, offset: float = 0.0) -> Window:
    index = math.floor((now - offset) / seconds)
    return Window(index, (index + 1) * seconds + offset)


def limit_of(rate: RateLimitSettings, action: Action) -> int:
    """The per-window count of ``action`` (0: unlimited)."""
    count: int = getattr(rate, action)
    return count


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def too_many(action: Action, limit: int, window_seconds: int, retry_after: int) -> Problem:
    """429 with ``Retry-After``: the caller may try again once its window ends."""
    what = action.replace("_", "-")
    return Problem(
        429, "rate-limited",
        f"too many {what}: at most {limit} per {window_seconds} s; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        extra={"action": what, "limit": limit, "window_seconds": window_seconds,
               "retry_after": retry_after})


class RateLimiter:
    """Counts writes per (action, subject) in Redis; see the module docstring."""

    def __init__(self, client: RedisClient, rate: RateLimitSettings) -> None:
        self.client = client
        self.rate = rate
        self._skip_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(redis_connect.client(settings, timeout=FAIL_AFTER_SECONDS,
                                        retry_broken=False), settings.rate)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def check(self, action: Action, subject: str) -> None:
        """Count one ``action`` by ``subject``; raise the 429 problem if over the limit."""
        limit = limit_of(self.rate, action)
        if limit <= 0:
            return
        verdict = await self.hit(action, subject, limit)
        if not verdict.allowed:
            RATE_LIMITED.labels(action).inc()
            raise too_many(action, limit, self.rate.window_seconds, verdict.retry_after)

    async def hit(self, action: Action, subject: str, limit: int,
                  *, now: float | None = None) -> Verdict:
        """Count one hit; allowed while the window's count stays within ``limit``."""
        now = time.time() if now is None else now
        base = f"{KEY_PREFIX}:{action}:{subject}"
        seconds = self.rate.window_seconds
        window = window_at(now, seconds, offset_of(base, seconds))
        count = await self._incr(f"{base}:{window.index}", window, action)
        return Verdict(count is None or count <= limit, count or 0, window.retry_after(now))

    async def _incr(self, key: str, window: Window, action: Action) -> int | None:
        """The window's count after this hit; None if Redis did not answer (fail open)."""
        if time.monotonic() < self._skip_until:
            RATE_LIMIT_UNCHECKED.labels(action).inc()
            return None
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.pexpireat(key, math.ceil(window.ends * 1000) + EXPIRY_SLACK_MS)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:  # OSError: refused, unreachable, timed out
            self._skip_until = time.monotonic() + PAUSE_SECONDS
            RATE_LIMIT_UNCHECKED.labels(action).inc()
            log.warning("rate limits unchecked for %.0f s: Redis did not answer (%s: %s)",
                        PAUSE_SECONDS, type(exc).__name__, exc)
            return None
        return int(count)
