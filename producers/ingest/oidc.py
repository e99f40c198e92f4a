"""OpenID Connect sign-in through the operator's identity provider (authorization code).

Used when ``PHOTOSTREAM_AUTH_MODE=oidc``: operators who already run an identity provider
(Keycloak, Dex, Azure AD, Google...) keep passwords there and we never see one. The flow
is the authorization-code flow with PKCE, done with authlib's client:

1. ``/v1/oidc/login``: a fresh ``state``, ``nonce`` and PKCE verifier, kept in a short
   signed cookie (HS256 with the JWT secret, 10 minutes, HttpOnly, SameSite=Lax, only
   sent to ``/v1/oidc``), and a redirect to the provider's authorization endpoint. The
   cookie binds the callback to the browser that started the flow: a callback URL sent
   to someone else (login CSRF) finds no matching cookie and is refused. Nothing is
   stored on the server, so any ingest replica can take the callback.
2. ``/v1/oidc/callback``: the state must match the cookie's; the code is exchanged
   (with the verifier) at the token endpoint, and the ID token is verified with the
   provider's published keys (JWKS): signature, ``iss``, ``aud`` = our client id,
   ``exp``, and ``nonce`` = the cookie's.

The provider's metadata (``/.well-known/openid-configuration``) and keys are read once
and kept; keys are read again when an ID token names a key id we do not have (rotation).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from infra.settings import Settings

FLOW_SECONDS = 600
FLOW_AUDIENCE = "photostream-oidc-flow"
SCOPE = "openid email profile"


class OidcError(Exception):
    """The sign-in did not succeed; the message is safe to show to the person."""


@dataclass(frozen=True)
class Flow:
    """What the login step keeps for the callback (in the signed cookie)."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in."""

    subject: str
    preferred_username: str
    email: str


def redirect_url(settings: Settings) -> str:
    return (settings.auth.oidc_redirect_url
            or f"http://127.0.0.1:{settings.ingest.port}/v1/oidc/callback")


def web_app_url(settings: Settings) -> str:
    return settings.auth.oidc_web_app_url or f"http://127.0.0.1:{settings.api.port}/app/"


def seal(flow: Flow, settings: Settings, *, now: float | None = None) -> str:
    """The flow as a signed, expiring cookie value."""
    issued = int(time.time() if now is None else now)
    return jwt.encode({"aud": FLOW_AUDIENCE, "exp": issued + FLOW_SECONDS, "st": flow.state,
                       "nc": flow.nonce, "cv": flow.verifier},
                      settings.auth.jwt_secret, algorithm="HS256")


def unseal(cookie: str | None, state: str, settings: Settings) -> Flow:
    """The flow of this browser if ``state`` is its; OidcError otherwise."""
    if not cookie:
        raise OidcError("the sign-in was not started in this browser (or took too long)")
    try:
        claims = jwt.decode(cookie, settings.auth.jwt_secret, algorithms=["HS256"],
                            audience=FLOW_AUDIENCE)
    except jwt.InvalidTokenError:
        raise OidcError("the sign-in expired; start again") from None
    if not secrets.compare_digest(str(claims.get("st", "")), state):
        raise OidcError("the sign-in answer does not belong to this browser's sign-in")
    return Flow(claims["st"], claims["nc"], claims["cv"])


class OidcProvider:
    """The client side of the flow against one provider (``PHOTOSTREAM_OIDC_*``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.auth.oidc_issuer
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _client(self) -> Any:
        # Imported here: only oidc mode needs it, and importing it warns (authlib would
        # rather use httpx2) in every process that never signs anyone in this way.
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        auth = self.settings.auth
        return AsyncOAuth2Client(client_id=auth.oidc_client_id,
                                 client_secret=auth.oidc_client_secret or None,
                                 scope=SCOPE, redirect_uri=redirect_url(self.settings),
                                 code_challenge_method="S256", timeout=10)

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                self._metadata = answer.json()
        return self._metadata

    async def login(self) -> tuple[str, Flow]:
        """The provider's authorization URL to send the browser to, and the flow to keep."""
        flow = Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                    secrets.token_urlsafe(48))
        endpoint = (await self.metadata())["authorization_endpoint"]
        async with self._client() as client:
            url, _ = client.create_authorization_url(endpoint, state=flow.state,
                                                     code_verifier=flow.verifier,
                                                     nonce=flow.nonce)
        return url, flow

    async def finish(self, code: str, flow: Flow) -> ProviderIdentity:
        """Exchange ``code`` and verify the ID token; who signed in."""
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(metadata["token_endpoint"], code=code,
                                                 code_verifier=flow.verifier,
                                                 grant_type="authorization_code")
            except Exception as exc:  # authlib raises its own OAuthError and httpx's
                raise OidcError(f"the identity provider refused the code: {exc}") from None
        id_token = token.get("id_token")
        if not id_token:
            raise OidcError("the identity provider sent no ID token")
        claims = await self._verified(id_token, flow.nonce)
        return ProviderIdentity(subject=str(claims["sub"]),
                                preferred_username=str(claims.get("preferred_username") or ""),
                                email=str(claims.get("email") or ""))

    async def _verified(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            decoded = jose_jwt.decode(id_token, await self._key_set())
        except (JoseError, ValueError):
            self._keys = None  # perhaps rotated: read the keys again, once
            try:
                decoded = jose_jwt.decode(id_token, await self._key_set())
            except (JoseError, ValueError) as exc:
                raise OidcError(f"the ID token's signature is not valid: {exc}") from None
        registry = jose_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": (await self.metadata())["issuer"]},
            aud={"essential": True, "value": self.settings.auth.oidc_client_id},
            sub={"essential": True}, nonce={"essential": True, "value": nonce},
            exp={"essential": True})
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise OidcError(f"the ID token is not for this sign-in: {exc}") from None
        return dict(decoded.claims)

    async def _key_set(self) -> KeySet:
        if self._keys is None:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.get((await self.metadata())["jwks_uri"])
                answer.raise_for_status()
                self._keys = KeySet.import_key_set(answer.json())
        return self._keys
