"""What several routers share: the JSON response class and the documented errors."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from api.cursors import BadCursor, decode
from api.deps import bad_cursor
from infra.http.problems import PROBLEM_JSON, Problem

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
ERRORS: dict[int | str, dict[str, Any]] = {code: _PROBLEM for code in (401, 404, 422)}


class JSON(Response):
    """JSON serialized by orjson, without a per-request pydantic pass over the body
    (the response models document the shapes; the handlers build plain dicts)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(body: Any, status_code: int = 200) -> JSON:
    return JSON(body, status_code=status_code)


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
