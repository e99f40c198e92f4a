"""Bearer tokens: HMAC-signed (HS256) JWTs whose ``sub`` is the user id.

Why HS256 with a shared secret: the only parties are our own services (the account
service mints, ingest and the read API verify), so a symmetric key is the simplest thing
that is safe; ``exp`` is mandatory so a leaked token stops working by itself. ``sub`` is
written as a decimal string (RFC 7519 says StringOrURI) but an integer ``sub`` from an
older minting service is accepted too.

``iat`` is mandatory as well, and ``exp - iat`` may not exceed
``settings.auth.max_token_lifetime_seconds``: the secret is shared, so one careless
minter (a script, an old service) could otherwise hand out tokens valid for years, and
"sign out everywhere" (:mod:`sinks.identity`) compares ``iat`` with the time of the
sign-out, which a token without ``iat`` would escape. This module checks only what the
token says; whether its user exists and still accepts it is :mod:`sinks.identity`.

Every minted token carries a random session id, ``sid`` (OpenID Connect's name for it):
signing out revokes that one id (:mod:`sinks.sessions`), so the token stops working at
once while the same person's other sessions go on. A token without ``sid`` (minted by an
older service) is accepted but can only be ended by "sign out everywhere".
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from infra.settings import Settings

ALGORITHM = "HS256"
MAX_USER_ID = 2**63 - 1
MAX_SESSION_ID = 64


class TokenError(ValueError):
    """A bearer token is missing, malformed, badly signed, expired or names no user.

    The message is safe to show to the client (it never echoes the token).
    """


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: who, and when it was issued (epoch seconds)."""

    user_id: int
    issued_at: int
    expires_at: int
    #: The token's own id (``sid``); None for a token minted without one.
    session_id: str | None = None


def _user_id(value: object) -> int:
    if isinstance(value, bool):
        raise TokenError("token subject is not a user id")
    if isinstance(value, int):
        user_id = value
    elif isinstance(value, str) and value.isascii() and value.isdecimal():
        user_id = int(value)
    else:
        raise TokenError("token subject is not a user id")
    if not 0 <= user_id <= MAX_USER_ID:
        raise TokenError("token subject is out of the user id range")
    return user_id


def mint(
    user_id: int | str,
    settings: Settings,
    *,
    ttl_seconds: int | None = None,
    now: float | None = None,
    session_id: str | None = None,
) -> str:
    """A token for ``user_id`` valid ``ttl_seconds`` (default: settings.auth.token_ttl_seconds).

    A lifetime over the maximum is refused here rather than minted: :func:`verify`
    would refuse the token anyway.
    """
    uid = _user_id(user_id)
    issued = int(time.time() if now is None else now)
    ttl = settings.auth.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    if ttl > settings.auth.max_token_lifetime_seconds:
        raise TokenError(f"a lifetime of {ttl} s exceeds the maximum of "
                         f"{settings.auth.max_token_lifetime_seconds} s")
    claims = {"sub": str(uid), "iat": issued, "exp": issued + ttl,
              "sid": session_id or new_session_id()}
    return jwt.encode(claims, settings.auth.jwt_secret, algorithm=ALGORITHM)


def new_session_id() -> str:
    """A random session id: 96 bits, 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def verify(token: str, settings: Settings, *, leeway: float = 0) -> TokenClaims:
    """The claims of a valid token; TokenError saying why otherwise.

    The algorithm is pinned to HS256, so a token claiming ``alg: none`` (or an asymmetric
    algorithm keyed with our secret) is refused.
    """
    try:
        claims = jwt.decode(
            token,
            settings.auth.jwt_secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub"], "verify_sub": False},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("token signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"malformed token: {exc}") from None
    user_id = _user_id(claims["sub"])
    issued_at, expires_at = int(claims["iat"]), int(claims["exp"])
    if expires_at - issued_at > settings.auth.max_token_lifetime_seconds:
        raise TokenError("token lifetime exceeds the maximum")
    session_id = claims.get("sid")
    if session_id is not None and (not isinstance(session_id, str)
                                   or not 1 <= len(session_id) <= MAX_SESSION_ID):
        raise TokenError("token session id is malformed")
    return TokenClaims(user_id, issued_at, expires_at, session_id)


#: Verified tokens kept per process (~300 bytes each).
VERIFIED_TOKENS = 20_000


class VerifiedTokens:
    """:func:`verify` that keeps the claims of each valid token until it expires.

    Why: decoding and checking a JWT (base64, JSON, HMAC) costs ~30 us, on every request
    of a client that sends the same token for its whole lifetime. The cache key is the
    token string itself, so only the exact bytes that verified are ever accepted from it;
    expiry is checked again on each use, like ``jwt.decode`` does (valid while
    ``exp > now``); invalid tokens are never kept. Whether the user still accepts the
    token (sign-outs, deletion) is not a property of the token and is checked per request
    by :mod:`sinks.identity`.
    """

    def __init__(self, settings: Settings, size: int = VERIFIED_TOKENS) -> None:
        self.settings = settings
        self.size = size
        self._claims: dict[str, TokenClaims] = {}

    def verify(self, token: str) -> TokenClaims:
        claims = self._claims.get(token)
        if claims is not None and claims.expires_at > time.time():
            return claims
        claims = verify(token, self.settings)
        if len(self._claims) >= self.size:  # oldest first: insertion order
            del self._claims[next(iter(self._claims))]
        self._claims[token] = claims
        return claims
