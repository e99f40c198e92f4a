"""Pure rules of accounts: username and email normalisation, password rules, session ids
in tokens and in the cached identity."""

from __future__ import annotations

import pytest

from infra.http.auth import mint, verify
from infra.settings import Settings, SettingsError
from producers.ingest.identifiers import IdentifierError, normalise_email, normalise_username
from producers.ingest.password_policy import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordError,
    check_new_password,
)
from sinks.identity import Identity, decode, encode, refusal

SETTINGS = Settings()


@pytest.mark.parametrize(("raw", "stored"), [
    ("alice", "alice"),
    ("  Alice.B_2 ", "alice.b_2"),
    ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # fullwidth: onto what it imitates
    ("\u212aate", "kate"),  # the Kelvin sign is a K
    ("\u017fam", "sam"),  # the long s casefolds to s
])
def test_usernames_are_nfkc_normalised_and_casefolded(raw: str, stored: str) -> None:
    assert normalise_username(raw) == stored


@pytest.mark.parametrize(("raw", "says"), [
    ("\u0430lice", "look-alike"),  # Cyrillic a
    ("b\u03bfb", "look-alike"),  # Greek omicron
    ("ali\u200bce", "look-alike"),  # zero-width space
    ("ab", "3-30"),
    ("a" * 31, "3-30"),
    ("al ice", "3-30"),
    ("al-ice", "3-30"),
    ("", "3-30"),
])
def test_look_alikes_and_malformed_usernames_are_refused(raw: str, says: str) -> None:
    with pytest.raises(IdentifierError, match=says):
        normalise_username(raw)


def test_emails_are_casefolded_and_checked() -> None:
    assert normalise_email(" Ann.Lee+tag@Example.ORG ") == "ann.lee+tag@example.org"
    for bad in ("ann", "ann@", "@example.org", "ann@example", "ann@@example.org",
                "a n@example.org", "ann@-example.org", "ann@exa_mple.org",
                "a" * 65 + "@example.org", "ann@" + "a" * 250 + ".org"):
        with pytest.raises(IdentifierError):
            normalise_email(bad)


def test_password_length_bounds() -> None:
    assert check_new_password("x" * MIN_LENGTH + "q") == "x" * MIN_LENGTH + "q"
    with pytest.raises(PasswordError, match="at least"):
        check_new_password("x" * (MIN_LENGTH - 1))
    assert check_new_password("y" * MAX_LENGTH)
    with pytest.raises(PasswordError, match="at most"):
        check_new_password("y" * (MAX_LENGTH + 1))


@pytest.mark.parametrize("common", ["1234567890", "Password123", "QWERTYUIOP", "iloveyou123"])
def test_common_passwords_are_refused_whatever_the_case(common: str) -> None:
    with pytest.raises(PasswordError, match="most common"):
        check_new_password(common)


def test_a_password_may_not_be_the_username_or_email() -> None:
    with pytest.raises(PasswordError, match="username or email"):
        check_new_password("AliceWonder", username="alicewonder")
    with pytest.raises(PasswordError, match="username or email"):
        check_new_password("ann@example.org", email="ann@example.org")
    assert check_new_password("a long enough one", username="ann")


def test_tokens_carry_a_fresh_session_id() -> None:
    first, second = (verify(mint(7, SETTINGS), SETTINGS) for _ in range(2))
    assert first.session_id and second.session_id and first.session_id != second.session_id
    assert verify(mint(7, SETTINGS, session_id="abc"), SETTINGS).session_id == "abc"


def test_the_cached_identity_keeps_revoked_sessions() -> None:
    identity = Identity(True, 1700000000, frozenset({"s1", "s-2_x"}))
    assert decode(encode(identity)) == identity
    assert decode(encode(Identity(True, 5))) == Identity(True, 5)
    assert refusal(identity, 1700000001, "s1") is not None
    assert refusal(identity, 1700000001, "other") is None
    assert refusal(identity, 1700000001, None) is None
    assert refusal(identity, 1699999999, "other") is not None


def test_auth_mode_settings() -> None:
    assert Settings.from_env({}).auth.mode == "password"
    with pytest.raises(SettingsError, match="AUTH_MODE"):
        Settings.from_env({"PHOTOSTREAM_AUTH_MODE": "magic"})
    with pytest.raises(SettingsError, match="OIDC_ISSUER"):
        Settings.from_env({"PHOTOSTREAM_AUTH_MODE": "oidc"})
    oidc = Settings.from_env({"PHOTOSTREAM_AUTH_MODE": "OIDC",
                              "PHOTOSTREAM_OIDC_ISSUER": "https://id.example.org/",
                              "PHOTOSTREAM_OIDC_CLIENT_ID": "photostream"}).auth
    assert (oidc.mode, oidc.oidc_issuer) == ("oidc", "https://id.example.org")
