"""HTTP routes of accounts people own: sign up, sign in, sign out, change password.

Mounted when ``PHOTOSTREAM_AUTH_MODE=password`` (the default); with ``oidc`` the
identity provider's routes (:mod:`producers.ingest.oidc_routes`) take their place, and
only sign-out (:data:`sessions`) stays.
Sign-ups and sign-ins are rate-limited per client address before anything is read or
hashed; sign-ins also per account name (:mod:`producers.ingest.password_accounts`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from infra.http.problems import PROBLEM_JSON, unavailable
from infra.http.ratelimit import RateLimiter
from producers.ingest.deps import CurrentSession, WriteService
from producers.ingest.limits import per_address
from producers.ingest.password_accounts import SignedIn
from sinks.identity import IdentityUnavailable

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (401, 403, 409, 422, 429, 503)
}
#: Bounds what the parser holds; the password rules (at most 128) answer precisely below it.
_LONG = 4096

accounts = APIRouter(prefix="/v1", tags=["accounts"], responses=_ERRORS)
#: Mounted in every auth mode: a session ends the same way whoever signed it in.
sessions = APIRouter(prefix="/v1", tags=["accounts"], responses=_ERRORS)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUpIn(_Body):
    username: str = Field(max_length=_LONG, description="3-30 of a-z, 0-9, '_', '.' "
                          "(NFKC-normalised and casefolded first)")
    email: str = Field(max_length=_LONG)
    password: str = Field(max_length=_LONG, description="10-128 characters, not a common one")


class SignInIn(_Body):
    username: str = Field(max_length=_LONG, description="the username, or the email")
    password: str = Field(max_length=_LONG)


class PasswordIn(_Body):
    old_password: str = Field(max_length=_LONG)
    new_password: str = Field(max_length=_LONG)


class SignedInOut(BaseModel):
    token: str
    user_id: str
    username: str


def _out(signed_in: SignedIn) -> SignedInOut:
    return SignedInOut(token=signed_in.token, user_id=str(signed_in.user_id),
                       username=signed_in.username)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


@accounts.post("/accounts", status_code=201, dependencies=[per_address("sign_ups")])
async def sign_up(body: SignUpIn, writes: WriteService) -> SignedInOut:
    """Create an account (``user.registered``) and answer with its first session."""
    return _out(await writes.passwords.sign_up(body.username, body.email, body.password))


@accounts.post("/sessions", dependencies=[per_address("sign_ins")])
async def sign_in(body: SignInIn, request: Request, writes: WriteService) -> SignedInOut:
    """A new session for a username (or email) and password. A wrong password and an
    unknown name get the same 401."""
    return _out(await writes.passwords.sign_in(body.username, body.password,
                                               _limiter(request)))


@sessions.delete("/sessions/current", status_code=204)
async def sign_out(session: CurrentSession, writes: WriteService) -> Response:
    """Sign out: this token stops working at once, on both services; others go on."""
    try:
        await writes.passwords.sign_out(session)
    except IdentityUnavailable as exc:
        raise unavailable(str(exc)) from exc
    return Response(status_code=204)


@accounts.post("/me/password")
async def change_password(body: PasswordIn, session: CurrentSession, request: Request,
                          writes: WriteService) -> SignedInOut:
    """Change the password: every session ends (this one too), the answer is a new one."""
    try:
        return _out(await writes.passwords.change_password(
            session, body.old_password, body.new_password, _limiter(request)))
    except IdentityUnavailable as exc:
        raise unavailable(str(exc)) from exc
