"""The versioned envelope around every event, and its JSON codec.

Wire form (plain JSON, so any upstream, even ``kcat``, can publish)::

    {"type": "photo.uploaded", "version": 1, "event_id": "3f2c...", "occurred_at":
     "2024-05-01T12:00:00.123456Z", "producer": "ingest", "payload": {...}}

``type`` and ``version`` select the payload class; every other key is checked strictly
(no missing, no unknown, no coercion). Any failure is an :class:`InvalidEvent` whose
message names the field (``payload.photo_id: expected integer, got string``); processors
turn it into a dead-letter record, so ``decode`` never raises anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import orjson

import schemas.events  # noqa: F401 - registers every payload class
from schemas.errors import InvalidEvent
from schemas.fields import StrSpec, TimeSpec, record_spec, type_name
from schemas.payload import Payload, payload_class

__all__ = ["Event", "InvalidEvent", "check", "decode", "encode", "make"]

ENVELOPE_FIELDS = ("type", "version", "event_id", "occurred_at", "producer", "payload")
_ENVELOPE_KEYS = frozenset(ENVELOPE_FIELDS)

EVENT_ID = StrSpec(
    1, 128, r"[A-Za-z0-9][A-Za-z0-9._:-]*", "unique id of this event (uuid4 hex by default)"
)
PRODUCER = StrSpec(
    1, 128, r"[A-Za-z0-9][A-Za-z0-9._:/@-]*", "name of the publishing service"
)
_OCCURRED_AT = TimeSpec()
T = TypeVar("T")
P = TypeVar("P", bound=Payload)
P_co = TypeVar("P_co", bound=Payload, covariant=True)


@dataclass(frozen=True, slots=True)
class Event(Generic[P_co]):
    """A decoded (or about-to-be-published) event: envelope fields plus the typed payload.

    ``type`` and ``version`` are read from the payload class rather than stored, so an
    event can never claim a type its payload does not have.
    """

    payload: P_co
    event_id: str
    occurred_at: datetime
    producer: str

    @property
    def type(self) -> str:
        """The event type, e.g. ``photo.uploaded``."""
        return self.payload.TYPE

    @property
    def version(self) -> int:
        """The payload schema version."""
        return self.payload.VERSION


def make(
    payload: P,
    *,
    producer: str,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Event[P]:
    """Wrap ``payload`` in a validated envelope (fresh uuid4 id, now in UTC by default).

    Validating here, at the producer, means a bad value fails in the request that made
    it instead of becoming a dead letter downstream.
    """
    if occurred_at is None:
        occurred_at = datetime.now(UTC)
    elif occurred_at.utcoffset() is None:
        raise InvalidEvent("naive datetime: a timezone (UTC) is required", "occurred_at")
    event = Event(
        payload=payload,
        event_id=uuid.uuid4().hex if event_id is None else event_id,
        occurred_at=occurred_at.astimezone(UTC),
        producer=producer,
    )
    check(event)
    return event


def check(event: Event[Payload]) -> None:
    """Raise InvalidEvent unless ``event`` would decode back to itself."""
    if not isinstance(event.payload, Payload):
        raise InvalidEvent(f"expected a Payload, got {type_name(event.payload)}", "payload")
    cls = type(event.payload)
    if payload_class(cls.TYPE, cls.VERSION) is not cls:
        raise InvalidEvent(f"{cls.__qualname__} is not the registered class", "type")
    _within("event_id", EVENT_ID.check, event.event_id)
    _within("occurred_at", _OCCURRED_AT.check, event.occurred_at)
    _within("producer", PRODUCER.check, event.producer)
    _within("payload", record_spec(cls).check, event.payload)


def encode(event: Event[Payload]) -> bytes:
    """Validate and serialise ``event`` to the JSON wire form."""
    check(event)
    return orjson.dumps(
        {
            "type": event.payload.TYPE,
            "version": event.payload.VERSION,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at.astimezone(UTC),
            "producer": event.producer,
            "payload": event.payload,
        },
        option=orjson.OPT_UTC_Z,
    )


def decode(raw: bytes | bytearray | memoryview | str | None) -> Event[Payload]:
    """Parse and validate one record value into a typed :class:`Event`.

    ``None`` (a Kafka tombstone) and every other malformed input raise InvalidEvent.
    """
    if raw is None:
        raise InvalidEvent("empty record value (tombstone), expected a JSON event envelope")
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if type(data) is not dict:
        raise InvalidEvent(f"expected a JSON object (the event envelope), got {type_name(data)}")
    if data.keys() != _ENVELOPE_KEYS:
        raise _key_error(data)
    event_type = data["type"]
    if type(event_type) is not str:
        raise InvalidEvent(f"expected string, got {type_name(event_type)}", "type")
    version = data["version"]
    if type(version) is not int:
        raise InvalidEvent(f"expected integer, got {type_name(version)}", "version")
    cls = payload_class(event_type, version)
    return Event(
        payload=cast(Payload, _within("payload", record_spec(cls).load, data["payload"])),
        event_id=cast(str, _within("event_id", EVENT_ID.load, data["event_id"])),
        occurred_at=cast(datetime, _within("occurred_at", _OCCURRED_AT.load, data["occurred_at"])),
        producer=cast(str, _within("producer", PRODUCER.load, data["producer"])),
    )


def _within(name: str, fn: Callable[[Any], T], value: object) -> T:
    try:
        return fn(value)
    except InvalidEvent as exc:
        raise exc.within(name) from None


def _key_error(data: dict[str, object]) -> InvalidEvent:
    for name in ENVELOPE_FIELDS:
        if name not in data:
            return InvalidEvent("missing required field", name)
    return InvalidEvent("unknown field", sorted(data.keys() - _ENVELOPE_KEYS)[0])
