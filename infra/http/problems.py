"""RFC 9457 problem details: every error a photostream HTTP service returns has this shape.

Clients (mobile apps retrying uploads) branch on ``status`` and ``type`` rather than
parsing prose, so each failure class gets a stable ``type`` URI, and FastAPI's own errors
(validation, 404 route, 405) are converted too instead of leaking ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from infra.http.headers import BASELINE

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://photostream.dev/problems/"

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """An error answer; raise it anywhere below a route and the handler renders it.

    ``kind`` is the last segment of the ``type`` URI (``payload-too-large``), ``extra``
    adds extension members, ``headers`` adds response headers (WWW-Authenticate...).
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body(), status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON
        )


def unauthorized(detail: str, *, invalid_token: bool) -> Problem:
    """401 with the RFC 6750 challenge, so clients know to (re)authenticate."""
    challenge = 'Bearer realm="photostream"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def unavailable(detail: str) -> Problem:
    """503: a backing service (Kafka, MinIO, Cassandra) is down; nothing was accepted."""
    return Problem(503, "service-unavailable", detail, headers={"Retry-After": "5"})


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    if exc.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.detail)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return Problem(exc.status_code, kind, str(exc.detail), headers=exc.headers).response()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors) or "invalid request"
    return Problem(422, "validation-error", detail, extra={"errors": errors}).response()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    # Starlette sends this answer from its outermost layer, past SecurityHeaders.
    baseline = {name.decode(): value.decode() for name, value in BASELINE}
    return Problem(500, "internal-error", "unexpected server error", headers=baseline).response()


def map_errors(app: FastAPI, errors: Iterable[type[Exception]],
               problem: Callable[[Exception], Problem]) -> None:
    """Answer each of ``errors`` raised below a route of ``app`` with ``problem(exc)``, as
    if that problem had been raised: routes need no try/except to translate them."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return await _problem(request, problem(exc))

    for error in errors:
        app.add_exception_handler(error, answer)


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through problem+json."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
