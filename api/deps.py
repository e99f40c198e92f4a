"""Typed FastAPI dependencies of the read API: the caller and the process-wide service.

Routes declare ``viewer: Viewer, svc: Service`` instead of reaching into app state.
Every data route requires a valid bearer token (the same HS256 tokens as ingest): a
missing, forged or expired token, or one whose user does not exist or revoked it
(:mod:`sinks.identity`), is a 401 before any data is read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.cursors import BadCursor
from api.service import ReadService
from infra.http.auth import TokenError
from infra.http.problems import Problem, unauthorized

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT (`photostream token USER_ID`)")

MAX_ID = 2**63 - 1


def get_service(request: Request) -> ReadService:
    service: ReadService = request.app.state.read
    return service


async def current_viewer(
    service: Annotated[ReadService, Depends(get_service)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The user id of the bearer token if that user may act now; 401 problem otherwise,
    503 when the identity cannot be looked up."""
    if credentials is None:
        raise unauthorized("a bearer token is required", invalid_token=False)
    try:
        return await service.identities.authenticate(credentials.credentials)
    except TokenError as exc:
        raise unauthorized(str(exc), invalid_token=True) from None
    # IdentityUnavailable rises to api.failsafe: 503 backend-unavailable + Retry-After.


def bad_cursor(exc: BadCursor) -> Problem:
    """422 naming the ``cursor`` parameter, like the other validation errors."""
    detail = f"query.cursor: {exc}"
    return Problem(422, "validation-error", detail,
                   extra={"errors": [{"location": "query.cursor", "message": str(exc)}]})


Viewer = Annotated[int, Depends(current_viewer)]
Service = Annotated[ReadService, Depends(get_service)]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="opaque, from next_cursor")]
PhotoId = Annotated[int, Path(ge=0, le=MAX_ID, description="photo id (decimal string)")]
UserId = Annotated[int, Path(ge=0, le=MAX_ID, description="user id (decimal string)")]
