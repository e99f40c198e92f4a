"""Mastodon's error shape, ``{"error": "..."}``, and request parameters read as it reads them.

Clients branch on the status code and show ``error``; photostream's own routes answer
RFC 9457 problems instead, so the Mastodon routes raise :class:`MastodonError` (its
handler is installed on the app by :func:`install`) and parse their parameters by hand:
FastAPI's validation would answer a problem document, and Mastodon ignores parameters it
does not know and reads them from the query, a form or a JSON body alike.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from infra.http.problems import Problem

#: Mastodon's own wording of its most common errors.
INVALID_TOKEN = "The access token is invalid"
OUT_OF_SCOPE = "This action is outside the authorized scopes"
NOT_FOUND = "Record not found"


class MastodonError(Exception):
    def __init__(self, status: int, error: str, description: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers


def _render(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MastodonError)
    body: dict[str, str] = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MastodonError, _render)


def from_problem(problem: Problem) -> MastodonError:
    """A photostream problem (503, 429, a write refused) in Mastodon's shape."""
    return MastodonError(problem.status, str(problem),
                         headers=dict(problem.headers) if problem.headers else None)


async def params(request: Request) -> dict[str, Any]:
    """The query, merged with the form or JSON body; a repeated ``name[]`` is a list."""
    found: dict[str, Any] = {}

    def add(name: str, value: Any) -> None:
        if name.endswith("[]"):
            found.setdefault(name[:-2], []).append(value)
        else:
            found[name] = value

    for name, value in request.query_params.multi_items():
        add(name, value)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                body = orjson.loads(await request.body() or b"{}")
            except orjson.JSONDecodeError:
                raise MastodonError(400, "the body is not valid JSON") from None
            if isinstance(body, dict):
                found.update(body)
        elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            for field, item in form.multi_items():
                add(field, item)
    return found


def text(found: dict[str, Any], name: str, default: str = "", limit: int = 2048) -> str:
    value = found.get(name, default)
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    if not isinstance(value, str):
        value = str(value)
    if len(value) > limit:
        raise MastodonError(422, f"Validation failed: {name} is too long")
    return value
