"""Typed FastAPI dependencies: the caller's identity and the process-wide service.

Routes declare what they need (``user: CurrentUser, service: Service``) instead of
reaching into ``request.app.state``; authentication happens before the body is read, so
an unauthenticated client cannot make us stream a 25 MB upload first. Authentication
includes the identity check (:mod:`sinks.identity`): every write's author exists and
has not revoked the token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.http.auth import TokenError
from infra.http.problems import Problem, unauthorized, unavailable
from infra.settings import Settings
from producers.ingest.backlog import Backlog
from producers.ingest.uploads import IngestService
from producers.ingest.writes import Writes
from sinks.identity import Identities, IdentityUnavailable

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT from `photostream token`")

MAX_IDEMPOTENCY_KEY = 255


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


def get_writes(request: Request) -> Writes:
    writes: Writes = request.app.state.writes
    return writes


def admission(request: Request) -> Backlog:
    """The upload admission check: 503 + Retry-After when the media backlog is full.

    A dependency, so it runs before the body is streamed: a refused client has not
    sent 25 MB for nothing, and nothing was stored.
    """
    backlog: Backlog = request.app.state.backlog
    backlog.admit()
    return backlog


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_identities(request: Request) -> Identities:
    identities: Identities = request.app.state.identities
    return identities


async def current_user(
    identities: Annotated[Identities, Depends(get_identities)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The user id of the ``Authorization: Bearer`` token if that user may write now;
    401 problem otherwise, 503 when the identity cannot be looked up."""
    if credentials is None:
        raise unauthorized("a bearer token is required", invalid_token=False)
    try:
        return await identities.authenticate(credentials.credentials)
    except TokenError as exc:
        raise unauthorized(str(exc), invalid_token=True) from None
    except IdentityUnavailable as exc:
        raise unavailable(str(exc)) from exc


def idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str | None:
    """The optional ``Idempotency-Key`` header (1-255 printable ASCII characters)."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise Problem(400, "bad-idempotency-key",
                      f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


CurrentUser = Annotated[int, Depends(current_user)]
Service = Annotated[IngestService, Depends(get_service)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
WriteService = Annotated[Writes, Depends(get_writes)]
Admission = Annotated[Backlog, Depends(admission)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
