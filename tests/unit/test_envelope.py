"""The envelope codec: strict, exact error paths, and only ever InvalidEvent on bad input."""

from __future__ import annotations

import contextlib
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import Event, InvalidEvent, decode, encode, make
from schemas.errors import InvalidEvent as ErrorsInvalidEvent
from schemas.events import LikeAdded, PhotoDeleted

LIKE = LikeAdded(photo_id=5, user_id=6, owner_id=7)


def envelope(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "like.added",
        "version": 1,
        "event_id": "0b5e1f3c9d2a4e6f8a7b6c5d4e3f2a1b",
        "occurred_at": "2024-05-01T12:00:00Z",
        "producer": "mobile-api",
        "payload": {"photo_id": 5, "user_id": 6, "owner_id": 7},
    }
    for key, value in changes.items():
        if value is ...:
            del doc[key]
        else:
            doc[key] = value
    return doc


def error_of(raw: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode(raw)
    return info.value


def test_hand_written_json_decodes():
    """What a non-Python upstream (kcat, a Go service) writes is accepted as-is."""
    raw = (
        b'{"type":"like.added","version":1,"event_id":"e-1","occurred_at":'
        b'"2024-05-01T12:00:00Z","producer":"kcat","payload":'
        b'{"owner_id":7,"photo_id":5,"user_id":6}}'
    )
    event = decode(raw)
    assert event == Event(
        payload=LIKE,
        event_id="e-1",
        occurred_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        producer="kcat",
    )
    assert event.type == "like.added" and event.version == 1
    assert decode(raw.decode()) == event  # str input too
    assert decode(bytearray(raw)) == event


def test_make_fills_id_and_time():
    before = datetime.now(UTC)
    event = make(LIKE, producer="ingest")
    assert before <= event.occurred_at <= datetime.now(UTC)
    assert event.occurred_at.tzinfo is UTC
    assert len(event.event_id) == 32 and int(event.event_id, 16) >= 0
    assert make(LIKE, producer="ingest").event_id != event.event_id


def test_make_normalises_occurred_at_to_utc():
    plus2 = timezone(timedelta(hours=2))
    event = make(LIKE, producer="p", occurred_at=datetime(2024, 5, 1, 14, tzinfo=plus2))
    assert event.occurred_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert orjson.loads(encode(event))["occurred_at"] == "2024-05-01T12:00:00Z"


def test_make_rejects_naive_time_and_bad_producer():
    with pytest.raises(InvalidEvent, match=r"^occurred_at: naive"):
        make(LIKE, producer="p", occurred_at=datetime(2024, 5, 1))
    with pytest.raises(InvalidEvent, match=r"^producer: must be at least 1"):
        make(LIKE, producer="")
    with pytest.raises(InvalidEvent, match=r"^event_id: "):
        make(LIKE, producer="p", event_id="has space")


def test_encoded_form_has_exactly_the_envelope_keys():
    data = orjson.loads(encode(make(LIKE, producer="p", event_id="abc")))
    assert list(data) == ["type", "version", "event_id", "occurred_at", "producer", "payload"]
    assert data["type"] == "like.added" and data["version"] == 1 and data["event_id"] == "abc"
    assert data["occurred_at"].endswith("Z")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"type": "like.exploded"}, "type", "unknown event type 'like.exploded'"),
        ({"type": 3}, "type", "expected string, got integer"),
        ({"version": 2}, "version", "unknown version 2 of like.added (known: 1)"),
        ({"version": True}, "version", "expected integer, got boolean"),
        ({"version": "1"}, "version", "expected integer, got string"),
        ({"version": 1.0}, "version", "expected integer, got number"),
        ({"event_id": ...}, "event_id", "missing required field"),
        ({"producer": ...}, "producer", "missing required field"),
        ({"payload": ...}, "payload", "missing required field"),
        ({"extra": 1}, "extra", "unknown field"),
        ({"event_id": ""}, "event_id", "must be at least 1 characters, got 0"),
        ({"event_id": 12}, "event_id", "expected string, got integer"),
        ({"producer": None}, "producer", "expected string, got null"),
        ({"occurred_at": "2024-05-01T12:00:00"}, "occurred_at", None),
        ({"occurred_at": "2024-05-01"}, "occurred_at", None),
        ({"occurred_at": "2024-02-30T00:00:00Z"}, "occurred_at", None),
        ({"occurred_at": "2024-05-01 12:00:00Z"}, "occurred_at", None),
        ({"occurred_at": 1714564800}, "occurred_at", None),
        ({"payload": None}, "payload", "expected object, got null"),
        ({"payload": {"photo_id": "5", "user_id": 6, "owner_id": 7}}, "payload.photo_id", None),
    ],
)
def test_envelope_failures_name_the_field(changes, field, reason):
    exc = error_of(orjson.dumps(envelope(**changes)))
    assert exc.field == field
    if reason is not None:
        assert exc.reason == reason
        assert str(exc) == f"{field}: {reason}"


def test_unknown_version_is_distinguished_from_unknown_type():
    assert error_of(orjson.dumps(envelope(version=7))).field == "version"
    assert error_of(orjson.dumps(envelope(type="nope.nope"))).field == "type"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"type": "like.added",}', "not valid JSON"),
        (b"[1, 2]", "expected a JSON object (the event envelope), got array"),
        (b'"hello"', "expected a JSON object (the event envelope), got string"),
        (b"42", "expected a JSON object (the event envelope), got integer"),
        (b"null", "expected a JSON object (the event envelope), got null"),
        (None, "empty record value (tombstone)"),
    ],
)
def test_malformed_records(raw, reason):
    exc = error_of(raw)
    assert exc.field is None
    assert exc.reason.startswith(reason)


def test_invalid_event_is_a_single_picklable_type():
    assert InvalidEvent is ErrorsInvalidEvent
    exc = InvalidEvent("expected integer, got string", "payload.photo_id")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.reason, back.field, str(back)) == (exc.reason, exc.field, str(exc))
    assert str(InvalidEvent("bad")) == "bad"
    assert str(exc.within("outer")) == "outer.payload.photo_id: expected integer, got string"
    assert InvalidEvent("r", "[2].x").within("items").field == "items[2].x"


def test_encode_refuses_events_decode_would_reject():
    bad = Event(payload=PhotoDeleted(photo_id=-1, owner_id=1), event_id="e", producer="p",
                occurred_at=datetime(2024, 5, 1, tzinfo=UTC))  # fmt: skip
    with pytest.raises(InvalidEvent, match=r"^payload\.photo_id: -1 is outside"):
        encode(bad)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_invalid_event(raw: bytes):
    with contextlib.suppress(InvalidEvent):
        decode(raw)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(st.sampled_from(list(envelope())), JSON)
def test_any_envelope_field_value_decodes_or_raises_invalid_event(key: str, value: Any):
    raw = orjson.dumps(envelope(**{key: value}))
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        assert exc.field is not None and exc.field.split(".")[0] in {key, "type", "version"}
    else:
        assert decode(encode(event)) == event
