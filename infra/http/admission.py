"""Admission control: a bound on the requests one worker works on at once, past which the
next is refused at the door with 503 + ``Retry-After``.

Why: an asyncio server accepts every connection and starts every request it reads, so
beyond its capacity the backlog grows without bound inside the process. Every request
then waits behind all the others (p50 720 ms, p99 3.9 s at 2x capacity, measured in
issue 22), until something runs out (the Redis pool: 500s). Refusing the excess in
microseconds, before routing, parsing or any backend call, keeps the accepted requests
as fast as at capacity and tells clients (and load balancers) to go elsewhere or come
back: overload is a 503, never a 500 and never a timeout.

Plain ASGI (no ``BaseHTTPMiddleware``), so it adds nothing to requests it lets in but an
integer increment. Paths in ``exempt`` (health probes, metrics) are always let in: a
load balancer must be able to tell a busy worker from a dead one.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.http.problems import PROBLEM_JSON, Problem
from infra.metrics import HTTP_SHED

#: What is never refused: liveness, readiness and the metrics scrape.
EXEMPT = ("/healthz", "/readyz", "/metrics")


class Admission:
    """Lets at most ``max_in_flight`` HTTP requests into ``app`` at once (per process)."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, retry_after_seconds: int,
                 service: str, exempt: Iterable[str] = EXEMPT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.exempt = frozenset(exempt)
        self.service = service
        self._shed = HTTP_SHED.labels(service)
        self._body = orjson.dumps(Problem(
            503, "overloaded", "this server is at capacity; retry shortly").body())
        self._headers = [(b"content-type", PROBLEM_JSON.encode()),
                         (b"content-length", str(len(self._body)).encode()),
                         (b"retry-after", str(retry_after_seconds).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self._shed.inc()
            await send({"type": "http.response.start", "status": 503,
                        "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
