"""What several routers share: the JSON response class and the documented errors."""

from __future__ import annotations

from typing import Any

from fastapi.responses import ORJSONResponse

from api.cursors import BadCursor, decode
from api.deps import bad_cursor
from infra.http.problems import PROBLEM_JSON, Problem

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
ERRORS: dict[int | str, dict[str, Any]] = {code: _PROBLEM for code in (401, 404, 422)}


def ok(body: Any) -> ORJSONResponse:
    return ORJSONResponse(body)


def read_cursor(cursor: str | None, kind: str, schema: dict[str, type]) -> dict[str, Any] | None:
    """The decoded cursor (None for the first page); 422 naming ``cursor`` if bad."""
    if cursor is None:
        return None
    try:
        return decode(cursor, kind, schema)
    except BadCursor as exc:
        raise bad_cursor(exc) from None


def not_found(what: str) -> Problem:
    """The one 404 for anything missing *or* invisible (existence is never revealed)."""
    return Problem(404, "not-found", f"{what} not found")
