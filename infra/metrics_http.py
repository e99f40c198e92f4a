"""HTTP side of the metrics: ``/metrics`` for any ASGI app, and a probe server for processors.

* :func:`instrument` (``instrument(app, "api")``) adds :class:`MetricsMiddleware` and a
  ``GET /metrics`` route to a FastAPI/Starlette app: request latency by route template
  and status, request body bytes (upload sizes), requests in flight. The ingest service
  uses it; the read API adds the same one line.
* :func:`probe_app` + :func:`start_server` give a process without its own HTTP API (a
  stream processor) ``/metrics``, ``/healthz`` and ``/readyz`` on its metrics port, served
  by uvicorn on the process's own event loop.

The middleware is plain ASGI (not ``BaseHTTPMiddleware``) so streaming uploads stay
streamed: it only counts the body chunks as the app reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import HTTP_IN_FLIGHT, HTTP_REQUEST_BYTES, HTTP_REQUEST_SECONDS

#: Route label of requests no route matched (404s of scanners must not add series).
UNMATCHED = "(unmatched)"


def route_label(scope: Scope) -> str:
    """The route template of a request (bounded label), or :data:`UNMATCHED`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Observes every HTTP request of the wrapped app (see the module docstring)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_flight = HTTP_IN_FLIGHT.labels(self.service)
        in_flight.inc()
        try:
            await self.app(scope, counting_receive, status_send)
        finally:
            in_flight.dec()
            route, method = route_label(scope), scope.get("method", "")
            HTTP_REQUEST_SECONDS.labels(self.service, method, route, str(status)).observe(
                time.perf_counter() - started)
            if received:
                HTTP_REQUEST_BYTES.labels(self.service, method, route).observe(received)


async def metrics_endpoint(request: Request) -> Response:
    """The process's registry in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def instrument(app: Any, service: str) -> None:
    """Add request metrics and ``GET /metrics`` to a FastAPI or Starlette ``app``."""
    app.add_middleware(MetricsMiddleware, service=service)
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)


Check = Callable[[], Awaitable[tuple[bool, str]]]


def probe_app(healthy: Check, ready: Check, info: dict[str, Any] | None = None) -> Starlette:
    """``/metrics``, ``/healthz`` and ``/readyz`` (200 or 503 with a one-line reason).

    ``info`` is added to both probes' JSON (``photostream status`` reads which processors
    a process runs from it).
    """

    def endpoint(check: Check) -> Callable[[Request], Awaitable[Response]]:
        async def probe(request: Request) -> Response:
            ok, detail = await check()
            return JSONResponse({"status": "ok" if ok else "unavailable", "detail": detail,
                                 **(info or {})}, status_code=200 if ok else 503)
        return probe

    return Starlette(routes=[
        Route("/metrics", metrics_endpoint),
        Route("/healthz", endpoint(healthy)),
        Route("/readyz", endpoint(ready)),
    ])


async def start_server(app: ASGIApp, host: str, port: int) -> tuple[Any, asyncio.Task[None]]:
    """Serve ``app`` on this event loop; returns once it listens.

    The socket is bound here, so a taken port is an ``OSError`` naming it (uvicorn would
    ``sys.exit``). uvicorn's signal capture is disabled: the embedding process owns SIGTERM.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} for /metrics: {exc.strerror}") from None
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                            access_log=False)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"metrics server on {host}:{port} did not start")
        await asyncio.sleep(0.02)
    return server, task


async def stop_server(server: Any, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task
