"""``/v1``'s per-user write limits, counted for Mastodon writes in the same buckets.

A person writing through a Mastodon app and through the web app is one person: the
limit is keyed ``user:<id>`` as :func:`producers.ingest.limits.per_user` keys it, so a
second client is no way around it. Over the limit: 429 with ``Retry-After``, in
Mastodon's error shape.
"""

from __future__ import annotations

from fastapi import Request

from infra.http.problems import Problem
from infra.http.ratelimit import Action, RateLimiter
from producers.mastodon.errors import from_problem


async def count(request: Request, action: Action, user: int) -> None:
    """Count one ``action`` of ``user``; 429 once over ``/v1``'s limit for it."""
    limiter: RateLimiter = request.app.state.limiter
    try:
        await limiter.check(action, f"user:{user}")
    except Problem as problem:
        raise from_problem(problem) from None
