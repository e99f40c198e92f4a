"""The read API's answers while a backend is unreachable: flagged 200s, or 503s.

Two halves, installed on the app by :func:`install`:

* :class:`DegradedMiddleware` opens the per-request record of :mod:`infra.degraded`;
  an answer that a read had to serve without a store carries
  ``X-Photostream-Degraded: <backend>[, <backend>]`` and is counted in
  ``photostream_api_degraded_answers`` by backend, route and outcome.
* Exception handlers: an error meaning Redis or Cassandra is unreachable, wherever it
  is raised, is a 503 ``backend-unavailable`` with ``Retry-After``; an exhausted Redis
  pool a 503 ``overloaded``. Routes hold no try/except of their own, and neither is
  ever a 500 (a 500 is a bug; an outage or overload is not).

Visibility is never guessed: a read that cannot fetch what decides it (a photo row,
a profile's private flag, a following list) raises, and the caller gets the 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import degraded
from infra.connect.outages import CASSANDRA_ERRORS, REDIS_ERRORS, overloaded, unreachable
from infra.http.problems import Problem
from infra.metrics import API_DEGRADED_ANSWERS, API_OVERLOADED
from infra.metrics_http import route_label
from infra.settings import Settings
from sinks.identity import IdentityUnavailable

HEADER = "X-Photostream-Degraded"

log = logging.getLogger(__name__)


class DegradedMiddleware:
    """Flags and counts the answers served without a backend (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        with degraded.scope() as missing:
            async def flagged(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    if missing:
                        MutableHeaders(scope=message).append(HEADER, ", ".join(sorted(missing)))
                await send(message)

            try:
                await self.app(scope, receive, flagged)
            finally:
                outcome = "unavailable" if status >= 500 else "served"
                for backend in missing:
                    API_DEGRADED_ANSWERS.labels(backend, route_label(scope), outcome).inc()


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and the 503 handlers to the read API ``app``."""
    retry_after = {"Retry-After": str(settings.api.retry_after_seconds)}

    async def unavailable(request: Request, exc: Exception) -> Response:
        if overloaded(exc):
            API_OVERLOADED.labels(route_label(request.scope)).inc()
            log.warning("%s %s -> 503: Redis pool exhausted", request.method, request.url.path)
            return Problem(503, "overloaded", "the read API is at capacity; retry shortly",
                           headers=retry_after).response()
        # The identity check only gives up once Cassandra failed too (a cached entry
        # would have answered), so its source of truth names the missing backend.
        backend = ("cassandra" if isinstance(exc, IdentityUnavailable)
                   else unreachable(exc) or "a backend")
        degraded.note(backend)
        log.warning("%s %s -> 503: %s unreachable: %s: %s", request.method, request.url.path,
                    backend, type(exc).__name__, exc)
        return Problem(503, "backend-unavailable",
                       f"{backend} is unreachable; retry shortly", headers=retry_after,
                       extra={"backend": backend}).response()

    for error in (*REDIS_ERRORS, *CASSANDRA_ERRORS, IdentityUnavailable):
        app.add_exception_handler(error, unavailable)
    app.add_middleware(DegradedMiddleware)
