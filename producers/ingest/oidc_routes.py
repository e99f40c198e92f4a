"""HTTP routes of the OpenID Connect sign-in (``PHOTOSTREAM_AUTH_MODE=oidc``).

Both are browser navigations, not API calls: the login answers a redirect to the
provider, the callback a redirect to the web app with the new session in the URL
*fragment* (``#/oidc?token=...``), which browsers never send to any server, or with
the reason the sign-in failed. See :mod:`producers.ingest.oidc` for the flow.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import RedirectResponse

from infra.http.problems import Problem
from producers.ingest.deps import SettingsDep, WriteService
from producers.ingest.limits import per_address
from producers.ingest.oidc import (
    FLOW_SECONDS,
    OidcError,
    OidcProvider,
    redirect_url,
    seal,
    unseal,
    web_app_url,
)

COOKIE = "photostream_oidc"
oidc = APIRouter(prefix="/v1/oidc", tags=["accounts"])


def _provider(request: Request) -> OidcProvider:
    provider: OidcProvider = request.app.state.oidc
    return provider


def _to_app(settings: SettingsDep, **fragment: str) -> RedirectResponse:
    answer = RedirectResponse(f"{web_app_url(settings)}#/oidc?{urlencode(fragment)}",
                              status_code=303)
    answer.delete_cookie(COOKIE, path="/v1/oidc")
    return answer


@oidc.get("/login", dependencies=[per_address("sign_ins")])
async def login(request: Request, settings: SettingsDep) -> RedirectResponse:
    """Start a sign-in: a redirect to the identity provider."""
    try:
        url, flow = await _provider(request).login()
    except Exception as exc:  # the provider's metadata could not be read
        raise Problem(503, "identity-provider-unavailable",
                      f"the identity provider did not answer: {type(exc).__name__}",
                      headers={"Retry-After": "5"}) from exc
    answer = RedirectResponse(url, status_code=302)
    answer.set_cookie(COOKIE, seal(flow, settings), max_age=FLOW_SECONDS, path="/v1/oidc",
                      httponly=True, samesite="lax",
                      secure=redirect_url(settings).startswith("https:"))
    return answer


@oidc.get("/callback", dependencies=[per_address("sign_ins")])
async def callback(request: Request, settings: SettingsDep, writes: WriteService,
                   state: Annotated[str, Query(max_length=512)] = "",
                   code: Annotated[str, Query(max_length=4096)] = "",
                   error: Annotated[str, Query(max_length=512)] = "",
                   flow_cookie: Annotated[str | None, Cookie(alias=COOKIE)] = None,
                   ) -> RedirectResponse:
    """The provider's answer: a session for the person, or the reason there is none."""
    if error or not code:
        return _to_app(settings, error=f"the identity provider said: {error or 'no code'}")
    try:
        flow = unseal(flow_cookie, state, settings)
        identity = await _provider(request).finish(code, flow)
    except OidcError as exc:
        return _to_app(settings, error=str(exc))
    signed_in = await writes.oidc.sign_in(identity)
    return _to_app(settings, token=signed_in.token, user_id=str(signed_in.user_id),
                   username=signed_in.username)
