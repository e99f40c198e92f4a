"""The identity check's pure parts: the refusal rule, the cache encoding, the seconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sinks.identity import (
    UNKNOWN,
    Identity,
    decode,
    encode,
    epoch_seconds,
    refusal,
    stored_identity,
)


def test_an_unknown_user_is_refused_whatever_the_token() -> None:
    assert refusal(UNKNOWN, issued_at=2_000_000_000) == (
        "the token's user does not exist or is no longer active")


def test_a_registered_user_who_never_signed_out_is_accepted() -> None:
    assert refusal(Identity(registered=True), issued_at=0) is None


def test_tokens_issued_before_the_sign_out_are_refused_later_ones_accepted() -> None:
    identity = Identity(registered=True, tokens_valid_after=1_000)
    assert refusal(identity, issued_at=999) is not None
    assert "revoked" in (refusal(identity, issued_at=999) or "")
    assert refusal(identity, issued_at=1_000) is None  # same second: a fresh sign-in
    assert refusal(identity, issued_at=1_001) is None


@pytest.mark.parametrize("identity", [UNKNOWN, Identity(True), Identity(True, 1_733_000_000)])
def test_cache_encoding_round_trips(identity: Identity) -> None:
    assert decode(encode(identity)) == identity


def test_epoch_seconds_round_down_and_treat_naive_as_utc() -> None:
    aware = datetime(2024, 5, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert epoch_seconds(aware) == 1_714_564_800
    assert epoch_seconds(aware.replace(tzinfo=None)) == 1_714_564_800  # as Cassandra returns
    assert epoch_seconds(None) == 0


def test_a_stored_row_is_unknown_without_a_profile_or_once_deleted() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    alive = {"username": "ana", "tokens_valid_after": at, "deleted_at": None}
    assert stored_identity([alive]) == Identity(True, 1_714_564_800)
    assert stored_identity([]) == UNKNOWN
    assert stored_identity([{**alive, "username": None}]) == UNKNOWN
    # Ingest marks the row before the processor erases the profile: refused already.
    assert stored_identity([{**alive, "deleted_at": at}]) == UNKNOWN
