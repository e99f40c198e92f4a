"""Bearer tokens: mint/verify round trip and every refusal names its reason."""

from __future__ import annotations

import dataclasses
import time

import jwt
import pytest

from infra.http.auth import TokenError, VerifiedTokens, mint, verify
from infra.settings import AuthSettings, Settings

SECRET = "unit-test-secret-at-least-32-bytes-long"
SETTINGS = Settings(auth=AuthSettings(jwt_secret=SECRET, token_ttl_seconds=600))


def test_round_trip_returns_the_user_id_and_the_issue_time() -> None:
    token = mint(1234567890123, SETTINGS, now=1_700_000_000.7)
    claims = verify(token, SETTINGS, leeway=10**10)
    assert (claims.user_id, claims.issued_at, claims.expires_at) == (
        1234567890123, 1_700_000_000, 1_700_000_600)


def test_string_user_id_and_sub_is_written_as_a_string() -> None:
    token = mint("42", SETTINGS)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 600
    assert verify(token, SETTINGS).user_id == 42


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "1", "iat": now, "exp": now + 60, **extra}


def test_integer_sub_from_another_minter_is_accepted() -> None:
    token = jwt.encode(claims(sub=7), SECRET)
    assert verify(token, SETTINGS).user_id == 7


def test_expired_token_is_refused() -> None:
    token = mint(1, SETTINGS, ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(TokenError, match="expired"):
        verify(token, SETTINGS)


def test_leeway_tolerates_small_clock_skew() -> None:
    token = mint(1, SETTINGS, ttl_seconds=60, now=time.time() - 65)
    assert verify(token, SETTINGS, leeway=30).user_id == 1


def test_other_secret_is_refused() -> None:
    other_auth = AuthSettings(jwt_secret="someone-else-with-an-equally-long-secret")
    other = dataclasses.replace(SETTINGS, auth=other_auth)
    with pytest.raises(TokenError, match="signature"):
        verify(mint(1, other), SETTINGS)


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), "", algorithm="none")  # "": no key (PyJWT's typing)
    with pytest.raises(TokenError):
        verify(token, SETTINGS)


def test_missing_exp_is_refused() -> None:
    token = jwt.encode({"sub": "1", "iat": int(time.time())}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="'exp'"):
        verify(token, SETTINGS)


def test_missing_iat_is_refused() -> None:
    token = jwt.encode({"sub": "1", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="'iat'"):
        verify(token, SETTINGS)


def test_lifetime_over_the_maximum_is_refused_whoever_minted_it() -> None:
    limit = SETTINGS.auth.max_token_lifetime_seconds
    now = int(time.time())
    assert verify(jwt.encode(claims(iat=now, exp=now + limit), SECRET), SETTINGS)
    with pytest.raises(TokenError, match="lifetime exceeds the maximum"):
        verify(jwt.encode(claims(iat=now, exp=now + limit + 1), SECRET), SETTINGS)


def test_mint_refuses_a_lifetime_over_the_maximum() -> None:
    with pytest.raises(TokenError, match="exceeds the maximum"):
        mint(1, SETTINGS, ttl_seconds=SETTINGS.auth.max_token_lifetime_seconds + 1)


@pytest.mark.parametrize("sub", ["alice", "-1", "", "1.5", str(2**63), True])
def test_sub_that_is_not_a_user_id_is_refused(sub: object) -> None:
    token = jwt.encode(claims(sub=sub), SECRET)
    with pytest.raises(TokenError, match="subject"):
        verify(token, SETTINGS)


def test_garbage_is_refused() -> None:
    with pytest.raises(TokenError, match="malformed"):
        verify("not.a.token", SETTINGS)


def test_mint_refuses_a_bad_user_id() -> None:
    with pytest.raises(TokenError):
        mint(-5, SETTINGS)


def test_verified_tokens_keep_valid_claims_until_expiry_and_never_keep_bad_ones() -> None:
    cache = VerifiedTokens(SETTINGS, size=2)
    now = int(time.time())
    soon = jwt.encode(claims(iat=now - 10, exp=now + 2), SECRET)
    assert cache.verify(soon).user_id == 1
    assert cache.verify(soon) is cache.verify(soon)  # kept
    forged = jwt.encode(claims(iat=now - 10, exp=now + 2), "another-secret-of-32-bytes-length")
    for _ in range(2):  # refused each time: a bad token is never kept
        with pytest.raises(TokenError, match="signature"):
            cache.verify(forged)
    time.sleep(2.1)
    with pytest.raises(TokenError, match="expired"):  # kept, yet refused once expired
        cache.verify(soon)
    for user in range(3):  # bounded: the oldest goes first
        cache.verify(jwt.encode(claims(sub=str(user + 10)), SECRET))
    assert len(cache._claims) == 2
