"""OAuth 2 for Mastodon clients: ``POST /api/v1/apps``, ``/oauth/authorize`` (code with
PKCE S256), ``/oauth/token``, ``/oauth/revoke`` and the bearer check of every route.

Tokens are opaque random strings (256 bits), not the services' JWTs: a Mastodon token
lives until it is revoked, and revocation must be immediate, so each request looks the
token up (by its hash: Redis in front of Cassandra, :mod:`sinks.oauth_cache`; revoking
deletes both) instead of trusting a signature. The token's user must still be
registered (:mod:`sinks.identity`, per request): a deleted account's tokens stop.

The consent page signs the person in with their account's username and password (the
same check as ``POST /v1/sessions``, rate limits included) in a plain HTML form: no
script, no inline style, so it passes the strict Content-Security-Policy every HTML
answer carries. The ``password`` grant exists only when ``settings.env == "dev"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cassandra.cluster import Session
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from infra.http.headers import LOCKED_POLICY
from infra.http.problems import Problem
from infra.settings import Settings
from producers.mastodon import scopes
from producers.mastodon.errors import (
    INVALID_TOKEN,
    OUT_OF_SCOPE,
    MastodonError,
    params,
    text,
)
from sinks import oauth
from sinks.identity import Identities, IdentityUnavailable
from sinks.oauth_cache import RevocationPending, TokenCache

OOB = "urn:ietf:wg:oauth:2.0:oob"

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    from producers.ingest.writes import Writes

router = APIRouter(tags=["mastodon"], include_in_schema=False)


@dataclass(frozen=True)
class Caller:
    """Who a Mastodon request acts for: the token's user (None: an app-only token)."""

    user_id: int | None
    client_id: str
    scopes: frozenset[str]
    token: str


def _session(request: Request) -> Session:
    session: Session = request.app.state.ingest.session
    return session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


async def caller(request: Request) -> Caller | None:
    """The caller of a bearer token; None without one; 401 for a token that does not
    (or no longer) work: unknown, revoked, or its user gone."""
    token = _bearer(request)
    if token is None:
        return None
    if len(token) > 512:
        raise MastodonError(401, INVALID_TOKEN)
    tokens: TokenCache = request.app.state.tokens
    grant = await tokens.get(token)
    if grant is None:
        raise MastodonError(401, INVALID_TOKEN)
    if grant.user_id is not None:
        identities: Identities = request.app.state.identities
        try:
            identity = await identities.get(grant.user_id)
        except IdentityUnavailable as exc:
            raise MastodonError(503, str(exc), headers={"Retry-After": "1"}) from exc
        if not identity.registered:
            raise MastodonError(401, INVALID_TOKEN)
    return Caller(grant.user_id, grant.client_id, scopes.parse(grant.scopes), token)


def needs(scope: str, *, user: bool = True) -> Any:
    """A dependency: the caller, if its token grants ``scope`` (and, with ``user``,
    belongs to a person rather than only an app); 401 without a token, 403 outside it."""

    async def check(request: Request) -> Caller:
        found = await caller(request)
        if found is None:
            raise MastodonError(401, INVALID_TOKEN)
        if not scopes.allows(found.scopes, scope):
            raise MastodonError(403, OUT_OF_SCOPE)
        if user and found.user_id is None:
            raise MastodonError(422, "This method requires an authenticated user")
        return found

    return Depends(check)


def signed_in(caller: Caller) -> int:
    assert caller.user_id is not None  # needs(..., user=True) refused app-only tokens
    return caller.user_id


AUTHORIZE_PATH = "/oauth/authorize"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")


def csp(scope: Scope) -> str:
    """The Content-Security-Policy of the ingest app's HTML answers: locked, except that
    the consent page may submit its form to itself, and browsers apply ``form-action``
    to the redirect that follows too, so the app's ``redirect_uri`` (carried in the
    page's query string) is allowed as well: its origin, or its scheme for an app's own
    URI scheme. Anything that is not a plain scheme and host is left out."""
    if scope.get("path") != AUTHORIZE_PATH:
        return LOCKED_POLICY
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    allowed = ["'self'"]
    target = urlsplit((query.get("redirect_uri") or [""])[0])
    if target.scheme and _SCHEME.match(target.scheme) and target.scheme != "urn":
        if target.scheme in ("http", "https"):
            if target.netloc and _HOST.match(target.netloc):
                allowed.append(f"{target.scheme}://{target.netloc}")
        else:
            allowed.append(f"{target.scheme}:")
    return LOCKED_POLICY.replace("form-action 'none'", "form-action " + " ".join(allowed))


def _pkce_ok(challenge: str, verifier: str) -> bool:
    derived = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return hmac.compare_digest(derived.rstrip(b"=").decode(), challenge)


def _app_json(app: oauth.App, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": app.client_id, "name": app.name, "website": app.website,
        "scopes": app.scopes.split(), "redirect_uris": app.redirect_uris,
        "redirect_uri": "\n".join(app.redirect_uris), "vapid_key": "",
    }
    if secret is not None:
        body.update(client_id=app.client_id, client_secret=secret)
    return body


@router.post("/api/v1/apps")
async def create_app(request: Request) -> JSONResponse:
    """Register a client app: its id and secret (the secret is shown once, stored hashed)."""
    found = await params(request)
    name = text(found, "client_name", limit=200).strip()
    uris = text(found, "redirect_uris", limit=2000).split()
    if not name:
        raise MastodonError(422, "Validation failed: Application name can't be blank")
    if not uris:
        raise MastodonError(422, "Validation failed: Redirect URI can't be blank")
    for uri in uris:
        if uri != OOB and "://" not in uri:
            raise MastodonError(422, "Validation failed: Redirect URI must be an absolute URI")
    try:
        granted = scopes.parse(text(found, "scopes", limit=1000))
    except scopes.ScopeError as exc:
        raise MastodonError(422, f"Validation failed: {exc}") from None
    secret = secrets.token_urlsafe(32)
    app = oauth.App(secrets.token_urlsafe(32), oauth.digest(secret), name,
                    text(found, "website", limit=500) or None, uris, scopes.render(granted))
    await oauth.store_app(_session(request), app)
    return JSONResponse(_app_json(app, secret))


@router.get("/api/v1/apps/verify_credentials")
async def verify_app(request: Request) -> JSONResponse:
    """The app a token was issued to (any scope, app-only tokens too)."""
    found = await caller(request)
    if found is None:
        raise MastodonError(401, INVALID_TOKEN)
    app = await oauth.get_app(_session(request), found.client_id)
    if app is None:
        raise MastodonError(401, INVALID_TOKEN)
    body = _app_json(app)
    body["scopes"] = sorted(found.scopes)
    return JSONResponse(body)


@dataclass(frozen=True)
class _Authorization:
    """An ``/oauth/authorize`` request, checked: whom to send the code to, for what."""

    app: oauth.App
    redirect_uri: str
    scopes: frozenset[str]
    state: str
    challenge: str | None

    def fields(self) -> dict[str, str]:
        """The hidden fields that carry the request through the consent form."""
        out = {"response_type": "code", "client_id": self.app.client_id,
               "redirect_uri": self.redirect_uri, "scope": scopes.render(self.scopes),
               "state": self.state}
        if self.challenge is not None:
            out.update(code_challenge=self.challenge, code_challenge_method="S256")
        return out


async def _authorization(request: Request, found: dict[str, Any]) -> _Authorization:
    if text(found, "response_type") != "code":
        raise MastodonError(400, "unsupported_response_type",
                            "response_type must be code")
    app = await oauth.get_app(_session(request), text(found, "client_id", limit=200))
    if app is None:
        raise MastodonError(401, "invalid_client", "unknown client_id")
    redirect_uri = text(found, "redirect_uri") or app.redirect_uris[0]
    if redirect_uri not in app.redirect_uris:
        raise MastodonError(400, "invalid_request",
                            "redirect_uri is not one the app registered")
    try:
        wanted = scopes.parse(text(found, "scope", limit=1000))
    except scopes.ScopeError as exc:
        raise MastodonError(400, "invalid_scope", str(exc)) from None
    if not scopes.within(wanted, scopes.parse(app.scopes)):
        raise MastodonError(400, "invalid_scope", "a scope the app did not register")
    challenge = text(found, "code_challenge", limit=128) or None
    if challenge is not None and text(found, "code_challenge_method", "plain") != "S256":
        raise MastodonError(400, "invalid_request", "code_challenge_method must be S256")
    return _Authorization(app, redirect_uri, wanted, text(found, "state", limit=1000),
                          challenge)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width\">"
        f"<title>{html.escape(title)}</title></head><body><main>{body}</main></body></html>",
        status_code=status, headers={"Cache-Control": "no-store"})


def _action(authorization: _Authorization) -> str:
    """The form's target: this page, with the redirect URI in the query string, so the
    page re-shown after a wrong password has the same policy (:func:`csp`)."""
    return f"{AUTHORIZE_PATH}?{urlencode({'redirect_uri': authorization.redirect_uri})}"


def _consent(authorization: _Authorization, error: str = "") -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in authorization.fields().items())
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return _page("Authorize " + authorization.app.name, (
        f"<h1>{html.escape(authorization.app.name)} asks to use your photostream account</h1>"
        f"<p>Access asked for: {html.escape(scopes.render(authorization.scopes))}</p>{alert}"
        f'<form method="post" action="{html.escape(_action(authorization))}">{hidden}'
        '<p><label for="username">Username or email</label> '
        '<input id="username" name="username" autocomplete="username" required></p>'
        '<p><label for="password">Password</label> '
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required></p>'
        '<p><button type="submit">Sign in and authorize</button></p></form>'),
        status=401 if error else 200)


@router.get("/oauth/authorize")
async def authorize_page(request: Request) -> HTMLResponse:
    """The consent page: the app, the scopes it asks for, and a sign-in form."""
    return _consent(await _authorization(request, await params(request)))


@router.post("/oauth/authorize")
async def authorize(request: Request) -> Response:
    """Sign the person in and grant the code: to the app's redirect URI, or shown on the
    page for ``urn:ietf:wg:oauth:2.0:oob``."""
    found = await params(request)
    authorization = await _authorization(request, found)
    writes: Writes = request.app.state.writes
    if _settings(request).auth.mode != "password":
        raise MastodonError(403, "access_denied", "this server signs in through its "
                            "identity provider; the consent page needs a password account")
    try:
        signed = await writes.passwords.sign_in(
            text(found, "username", limit=320), text(found, "password", limit=4096),
            request.app.state.limiter)
    except Problem as problem:
        if problem.status != 401:
            raise MastodonError(problem.status, str(problem)) from None
        return _consent(authorization, "The username or password is not right.")
    code = secrets.token_urlsafe(32)
    await oauth.store_code(_session(request), code, oauth.Code(
        authorization.app.client_id, signed.user_id, authorization.redirect_uri,
        scopes.render(authorization.scopes), authorization.challenge))
    if authorization.redirect_uri == OOB:
        return _page("Authorization code", (
            "<h1>Authorization code</h1><p>Copy this code into the app:</p>"
            f'<p><output id="code">{html.escape(code)}</output></p>'))
    query = {"code": code, **({"state": authorization.state} if authorization.state else {})}
    separator = "&" if "?" in authorization.redirect_uri else "?"
    return RedirectResponse(authorization.redirect_uri + separator + urlencode(query),
                            status_code=302)


async def _client(request: Request, found: dict[str, Any]) -> oauth.App:
    """The app the token request authenticates as (form fields or HTTP Basic)."""
    client_id = text(found, "client_id", limit=200)
    secret = text(found, "client_secret", limit=200)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and not client_id:
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise MastodonError(401, "invalid_client", "malformed Basic credentials") \
                from None
    app = await oauth.get_app(_session(request), client_id) if client_id else None
    if app is None or not hmac.compare_digest(app.secret_hash, oauth.digest(secret)):
        raise MastodonError(401, "invalid_client",
                            "Client authentication failed due to unknown client, no client "
                            "authentication included, or unsupported authentication method.")
    return app


def _grant_scopes(found: dict[str, Any], app: oauth.App, default: str) -> frozenset[str]:
    try:
        wanted = scopes.parse(text(found, "scope", limit=1000) or None, default)
    except scopes.ScopeError as exc:
        raise MastodonError(400, "invalid_scope", str(exc)) from None
    if not scopes.within(wanted, scopes.parse(app.scopes)):
        raise MastodonError(400, "invalid_scope", "a scope the app did not register")
    return wanted


@router.post("/oauth/token")
async def token(request: Request) -> JSONResponse:
    """Issue an access token for an authorization code, the app itself
    (``client_credentials``) or, in dev only, a username and password."""
    found = await params(request)
    grant_type = text(found, "grant_type")
    app = await _client(request, found)
    session = _session(request)
    user_id: int | None
    if grant_type == "authorization_code":
        code = await oauth.redeem_code(session, text(found, "code", limit=200))
        invalid = MastodonError(400, "invalid_grant", "The provided authorization grant is "
                                "invalid, expired, revoked or was issued to another client.")
        if code is None or code.client_id != app.client_id:
            raise invalid
        if text(found, "redirect_uri", code.redirect_uri) != code.redirect_uri:
            raise invalid
        if code.code_challenge is not None and not _pkce_ok(
                code.code_challenge, text(found, "code_verifier", limit=200)):
            raise invalid
        user_id, granted = code.user_id, scopes.parse(code.scopes)
    elif grant_type == "client_credentials":
        user_id, granted = None, _grant_scopes(found, app, "read")
    elif grant_type == "password" and _settings(request).dev:
        writes: Writes = request.app.state.writes
        try:
            signed = await writes.passwords.sign_in(
                text(found, "username", limit=320), text(found, "password", limit=4096),
                request.app.state.limiter)
        except Problem as problem:
            if problem.status != 401:
                raise MastodonError(problem.status, str(problem)) from None
            raise MastodonError(400, "invalid_grant", "The username or password is not "
                                "right.") from None
        user_id, granted = signed.user_id, _grant_scopes(found, app, "read")
    else:
        raise MastodonError(400, "unsupported_grant_type",
                            "The authorization grant type is not supported by the "
                            "authorization server.")
    access = secrets.token_urlsafe(32)
    await oauth.store_token(session, access, oauth.Token(app.client_id, user_id,
                                                         scopes.render(granted)))
    return JSONResponse({"access_token": access, "token_type": "Bearer",
                         "scope": scopes.render(granted), "created_at": int(time.time())},
                        headers={"Cache-Control": "no-store"})


@router.post("/oauth/revoke")
async def revoke(request: Request) -> JSONResponse:
    """Revoke a token of the calling app; 200 also for an unknown token (RFC 7009)."""
    found = await params(request)
    app = await _client(request, found)
    value = text(found, "token", limit=512)
    if not value:
        return JSONResponse({})
    tokens: TokenCache = request.app.state.tokens
    grant = await oauth.get_token(_session(request), value)  # the row, not the cache
    try:
        if grant is None:  # unknown, or a revocation retried: drop any cached grant too
            await tokens.forget(value)
        elif grant.client_id != app.client_id:
            raise MastodonError(403, "unauthorized_client",
                                "You are not authorized to revoke this token")
        else:
            await tokens.revoke(value)
    except RevocationPending as exc:
        raise MastodonError(503, "the token cache did not answer: retry the revocation",
                            str(exc), headers={"Retry-After": "1"}) from exc
    return JSONResponse({})


CallerDep = Annotated[Caller | None, Depends(caller)]
