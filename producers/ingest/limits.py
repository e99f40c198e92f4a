"""The ingest routes' rate limits as FastAPI dependencies: per user, or per client address.

Declared in a route's ``dependencies=[...]``, so they run before the route's own
parameters: a refused upload has not streamed its body, and a refused write touched
nothing. A per-user limit authenticates first (the same cached ``current_user``, so the
token is checked once); a sign-in has no user yet and is counted per client address.

The client address is the ASGI client host. Behind a reverse proxy, start the service
with uvicorn's ``FORWARDED_ALLOW_IPS`` set to the proxy's address so that host is the
``X-Forwarded-For`` client (uvicorn trusts only 127.0.0.1 by default).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from infra.http.ratelimit import Action, RateLimiter
from producers.ingest.deps import CurrentUser


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def per_user(action: Action) -> Any:
    """``dependencies=[per_user("likes")]``: at most the configured likes per user."""

    async def check(request: Request, user: CurrentUser) -> None:
        await _limiter(request).check(action, f"user:{user}")

    return Depends(check)


def per_address(action: Action) -> Any:
    """``dependencies=[per_address("sign_ins")]``: counted per client address."""

    async def check(request: Request) -> None:
        host = request.client.host if request.client else "unknown"
        await _limiter(request).check(action, f"addr:{host}")

    return Depends(check)
