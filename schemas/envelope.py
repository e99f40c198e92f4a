"""The versioned envelope around every event, and its JSON codec.

Wire form (plain JSON, so any upstream, even ``kcat``, can publish)::

    {"type": "photo.uploaded", "version": 1, "event_id": "3f2c...", "occurred_at":
     "2024-05-01T12:00:00.123456Z", "producer": "ingest", "payload": {...}}

``type`` and ``version`` select the payload class; every other key is checked strictly
(no missing, no unknown, no coercion) by msgspec. Any failure is an :class:`InvalidEvent` whose
message names the field (``payload.photo_id: expected integer, got string``); processors
turn it into a dead-letter record, so ``decode`` never raises anything else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

import msgspec
from msgspec import Meta

import schemas.events  # noqa: F401 - registers every payload class
from schemas.errors import InvalidEvent
from schemas.explain import explain
from schemas.model import Record, Time, naive_time, read_times, type_name
from schemas.payload import Payload, payload_class, payload_decoder

__all__ = ["Event", "InvalidEvent", "check", "decode", "encode", "make"]

EventId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*\Z",
        description="unique id of this event (uuid4 hex by default)",
    ),
]
Producer = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*\Z",
        description="name of the publishing service",
    ),
]
P = TypeVar("P", bound=Payload)
P_co = TypeVar("P_co", bound=Payload, covariant=True)


class Envelope(Record, frozen=True):
    """The wire envelope; ``payload`` stays raw JSON until ``type``/``version`` pick its class."""

    type: str
    version: int
    event_id: EventId
    occurred_at: Time
    producer: Producer
    payload: msgspec.Raw

    TIMES = ("occurred_at",)
    def __post_init__(self) -> None:
        read_times(self)


class _Outgoing(msgspec.Struct, frozen=True):
    """The envelope as written: the same keys, the payload as its struct."""

    type: str
    version: int
    event_id: str
    occurred_at: datetime
    producer: str
    payload: Payload


_ENVELOPE = msgspec.json.Decoder(Envelope)
_ENCODER = msgspec.json.Encoder()


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
    encode(event)


def encode(event: Event[Payload]) -> bytes:
    """Validate and serialise ``event`` to the JSON wire form.

    Validation is the consumer's own ``decode`` of the bytes about to be published (the
    only check that cannot drift from it), plus what the wire cannot show: a naive time
    and a value that decodes as something else (a list where a tuple is expected).
    """
    payload = event.payload
    if not isinstance(payload, Payload):
        raise InvalidEvent(f"expected a Payload, got {type_name(payload)}", "payload")
    cls = type(payload)
    if payload_class(cls.TYPE, cls.VERSION) is not cls:
        raise InvalidEvent(f"{cls.__qualname__} is not the registered class", "type")
    if not isinstance(event.occurred_at, datetime) or event.occurred_at.utcoffset() is None:
        raise InvalidEvent("naive datetime: a timezone (UTC) is required", "occurred_at")
    naive = naive_time(payload)
    if naive is not None:
        raise InvalidEvent("naive datetime: a timezone (UTC) is required", f"payload.{naive}")
    wire = _Outgoing(
        type=cls.TYPE,
        version=cls.VERSION,
        event_id=event.event_id,
        occurred_at=event.occurred_at.astimezone(UTC),
        producer=event.producer,
        payload=payload,
    )
    try:
        raw = _ENCODER.encode(wire)
    except (TypeError, ValueError, OverflowError) as exc:  # msgspec.EncodeError is a ValueError
        raise InvalidEvent(f"cannot be written as JSON: {exc}", "payload") from None
    _same_after_decode(payload, decode(raw).payload)
    return raw


def _same_after_decode(sent: Payload, back: Payload) -> None:
    if sent == back:
        return
    for name in sent.__struct_fields__:
        mine, theirs = getattr(sent, name), getattr(back, name)
        if mine != theirs or type(mine) is not type(theirs):
            reason = f"expected {type(theirs).__name__}, got {type_name(mine)}"
            raise InvalidEvent(reason, f"payload.{name}")


def decode(raw: bytes | bytearray | memoryview | str | None) -> Event[Payload]:
    """Parse and validate one record value into a typed :class:`Event`.

    ``None`` (a Kafka tombstone) and every other malformed input raise InvalidEvent.
    """
    if raw is None:
        raise InvalidEvent("empty record value (tombstone), expected a JSON event envelope")
    try:
        head = _ENVELOPE.decode(raw)
    except msgspec.ValidationError as exc:
        error = explain(exc, raw, Envelope)
        if error.field is None and error.reason.startswith("expected object, got "):
            got = error.reason.removeprefix("expected object, got ")
            error = InvalidEvent(f"expected a JSON object (the event envelope), got {got}")
        raise error from None
    except (msgspec.DecodeError, TypeError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    cls = payload_class(head.type, head.version)
    try:
        payload = payload_decoder(cls).decode(head.payload)
    except msgspec.ValidationError as exc:
        raise explain(exc, head.payload, cls).within("payload") from None
    return Event(
        payload=payload,
        event_id=head.event_id,
        occurred_at=head.occurred_at,
        producer=head.producer,
    )
