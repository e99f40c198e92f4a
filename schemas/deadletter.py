"""Dead-letter records: a record a processor gave up on, kept byte-exact with its error.

Published to ``photostream.deadletters`` with the ORIGINAL record key. Key, value and
header values are base64 of the exact original bytes (they may not be UTF-8 or JSON at
all: that is often why they failed), so a re-drive republishes precisely what arrived.
Wire form (JSON)::

    {"version": 1, "topic": "photostream.likes", "partition": 3, "offset": 1200,
     "key": "NDI=", "value": "eyJ0eXBlIjo...", "headers": [["trace", "YWJj"]],
     "error": "payload.photo_id: expected integer, got string",
     "error_type": "schemas.errors.InvalidEvent", "processor": "engagement",
     "first_failed_at": "2024-05-01T12:00:00Z", "last_failed_at": "2024-05-01T12:00:03Z",
     "attempts": 3}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

from schemas.errors import InvalidEvent
from schemas.explain import explain
from schemas.model import MAX_INT64, Record, Time, read_times

FORMAT_VERSION = 1
MAX_ERROR_CHARS = 8000

Header = tuple[str, bytes | None]
Name = Annotated[str, Meta(min_length=1, max_length=255)]


class DeadLetter(Record, frozen=True, tag_field="version", tag=FORMAT_VERSION):
    """One failed record: where it was, its exact bytes, and why/how often it failed.

    On the wire ``version`` comes first (the struct tag) and bytes are base64 (msgspec's
    encoding of ``bytes``).
    """

    topic: Name
    partition: Annotated[int, Meta(ge=0, le=2**31 - 1)]
    offset: Annotated[int, Meta(ge=0, le=MAX_INT64)]
    key: Annotated[bytes | None, Meta(description="original key bytes")]
    value: Annotated[bytes | None, Meta(description="original value bytes, exactly as consumed")]
    headers: Annotated[
        tuple[Header, ...], Meta(description="original headers as [name, base64 value] pairs")
    ]
    error: Annotated[str, Meta(max_length=MAX_ERROR_CHARS)]
    error_type: Annotated[str, Meta(max_length=255)]
    processor: Name
    first_failed_at: Time
    last_failed_at: Time
    attempts: Annotated[int, Meta(ge=1, le=2**31 - 1)]

    TIMES: ClassVar[tuple[str, ...]] = ("first_failed_at", "last_failed_at")
    def __post_init__(self) -> None:
        read_times(self)


_DECODER = msgspec.json.Decoder(DeadLetter)
_ENCODER = msgspec.json.Encoder()


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] = (),
    error: BaseException | str,
    processor: str,
    attempts: int = 1,
    first_failed_at: datetime | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    """Build the dead letter of a consumed record that failed ``attempts`` times.

    ``error`` may be the exception itself: its message and qualified class name are kept
    (class name lets an operator grep all InvalidEvent vs. all timeouts).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if isinstance(error, BaseException):
        cls = type(error)
        module = "" if cls.__module__ == "builtins" else cls.__module__ + "."
        error_type = module + cls.__qualname__
        message = str(error) or repr(error)
    else:
        error_type, message = "", error
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else bytes(key),
        value=None if value is None else bytes(value),
        headers=tuple((str(n), None if v is None else bytes(v)) for n, v in headers),
        error=message[:MAX_ERROR_CHARS],
        error_type=error_type,
        processor=processor,
        first_failed_at=(first_failed_at or now).astimezone(UTC),
        last_failed_at=now,
        attempts=attempts,
    )


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """Serialise ``letter`` to its JSON wire form."""
    return _ENCODER.encode(letter)


def decode_dead_letter(raw: bytes | bytearray | memoryview | str) -> DeadLetter:
    """Parse a dead-letter record; InvalidEvent (naming the field) when it is malformed."""
    try:
        return _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise explain(exc, raw, DeadLetter) from None
    except (msgspec.DecodeError, TypeError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None

