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
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from infra.settings import Settings

ALGORITHM = "HS256"
MAX_USER_ID = 2**63 - 1


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
    claims = {"sub": str(uid), "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, settings.auth.jwt_secret, algorithm=ALGORITHM)


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
    return TokenClaims(user_id, issued_at, expires_at)
