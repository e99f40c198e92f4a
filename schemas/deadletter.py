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

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.errors import InvalidEvent
from schemas.fields import MAX_INT64, IntSpec, SchemaRefs, Spec, StrSpec, TimeSpec, type_name
from schemas.rfc3339 import format_rfc3339

FORMAT_VERSION = 1
MAX_ERROR_CHARS = 8000

Header = tuple[str, bytes | None]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One failed record: where it was, its exact bytes, and why/how often it failed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    error: str
    error_type: str
    processor: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int


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


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """Serialise ``letter`` to its JSON wire form."""
    return orjson.dumps(
        {
            "version": FORMAT_VERSION,
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "key": _b64(letter.key),
            "value": _b64(letter.value),
            "headers": [[name, _b64(value)] for name, value in letter.headers],
            "error": letter.error,
            "error_type": letter.error_type,
            "processor": letter.processor,
            "first_failed_at": format_rfc3339(letter.first_failed_at),
            "last_failed_at": format_rfc3339(letter.last_failed_at),
            "attempts": letter.attempts,
        }
    )


_TEXT = StrSpec(max_length=MAX_ERROR_CHARS)
_NAME = StrSpec(1, 255)
_FIELDS: dict[str, Spec] = {
    "version": IntSpec(FORMAT_VERSION, FORMAT_VERSION),
    "topic": _NAME,
    "partition": IntSpec(0, 2**31 - 1),
    "offset": IntSpec(0, MAX_INT64),
    "error": _TEXT,
    "error_type": StrSpec(max_length=255),
    "processor": _NAME,
    "first_failed_at": TimeSpec(),
    "last_failed_at": TimeSpec(),
    "attempts": IntSpec(1, 2**31 - 1),
}
_KEYS = frozenset(_FIELDS) | {"key", "value", "headers"}


def _unb64(value: object, field: str) -> bytes | None:
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidEvent(f"expected base64 string or null, got {type_name(value)}", field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent("not valid base64", field) from None


def _headers(value: object) -> tuple[Header, ...]:
    if type(value) is not list:
        raise InvalidEvent(f"expected array, got {type_name(value)}", "headers")
    out: list[Header] = []
    for i, pair in enumerate(value):
        where = f"headers[{i}]"
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
            raise InvalidEvent("expected [name, base64 value or null]", where)
        out.append((pair[0], _unb64(pair[1], where + "[1]")))
    return tuple(out)


def decode_dead_letter(raw: bytes | bytearray | memoryview | str) -> DeadLetter:
    """Parse a dead-letter record; InvalidEvent (naming the field) when it is malformed."""
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if type(data) is not dict:
        raise InvalidEvent(f"expected a JSON object, got {type_name(data)}")
    if data.keys() != _KEYS:
        missing = sorted(_KEYS - data.keys())
        if missing:
            raise InvalidEvent("missing required field", missing[0])
        raise InvalidEvent("unknown field", sorted(data.keys() - _KEYS)[0])
    loaded: dict[str, Any] = {}
    for name, spec in _FIELDS.items():
        try:
            loaded[name] = spec.load(data[name])
        except InvalidEvent as exc:
            raise exc.within(name) from None
    del loaded["version"]
    return DeadLetter(
        key=_unb64(data["key"], "key"),
        value=_unb64(data["value"], "value"),
        headers=_headers(data["headers"]),
        **loaded,
    )


def json_schema() -> dict[str, object]:
    """JSON Schema of the wire form, for the AsyncAPI document."""
    b64 = {"oneOf": [{"type": "string", "contentEncoding": "base64"}, {"type": "null"}]}
    refs = SchemaRefs()
    props: dict[str, object] = {n: s.json_schema(refs) for n, s in _FIELDS.items()}
    props["key"] = {**b64, "description": "original key bytes"}
    props["value"] = {**b64, "description": "original value bytes, exactly as consumed"}
    props["headers"] = {
        "type": "array",
        "items": {
            "type": "array",
            "items": [{"type": "string"}, b64],
            "additionalItems": False,
            "minItems": 2,
        },
        "description": "original headers as [name, base64 value] pairs",
    }
    order = ["version", "topic", "partition", "offset", "key", "value", "headers", "error",
             "error_type", "processor", "first_failed_at", "last_failed_at", "attempts"]
    return {
        "type": "object",
        "description": "A record a processor gave up on, byte-exact, with its error.",
        "additionalProperties": False,
        "required": order,
        "properties": {name: props[name] for name in order},
    }
