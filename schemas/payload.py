"""The base class of event payloads and the registry mapping (type, version) to a class.

The registry is what lets :func:`schemas.envelope.decode` go from the ``type`` and
``version`` strings of a record to the struct that validates its payload in one dict
lookup. Registration builds the payload's decoder immediately, so a malformed event
definition breaks the import instead of the first consumer that meets such an event.
"""

from __future__ import annotations

import re
from typing import ClassVar, TypeVar

import msgspec

from schemas.errors import InvalidEvent
from schemas.model import Record

_TYPE_NAME = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")


class Payload(Record, frozen=True):
    """An event payload: a record with the event ``TYPE`` and schema ``VERSION`` it encodes.

    A breaking change to a payload (new required field, changed meaning) is a new class
    with ``VERSION + 1`` registered next to the old one, so records already in Kafka keep
    decoding while consumers migrate.
    """

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.TYPE}.v{cls.VERSION}"


P = TypeVar("P", bound=Payload)

_REGISTRY: dict[tuple[str, int], type[Payload]] = {}
_VERSIONS: dict[str, list[int]] = {}
_DECODERS: dict[type[Payload], msgspec.json.Decoder[Payload]] = {}


def register(cls: type[P]) -> type[P]:
    """Class decorator: make ``cls`` decodable under its (TYPE, VERSION)."""
    if not _TYPE_NAME.fullmatch(cls.TYPE):
        raise TypeError(f"{cls.__qualname__}: bad event type name {cls.TYPE!r}")
    if type(cls.VERSION) is not int or cls.VERSION < 1:
        raise TypeError(f"{cls.__qualname__}: VERSION must be a positive int")
    key = (cls.TYPE, cls.VERSION)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise TypeError(f"{cls.TYPE} v{cls.VERSION} is registered twice")
    _DECODERS[cls] = msgspec.json.Decoder(cls)
    _REGISTRY[key] = cls
    _VERSIONS.setdefault(cls.TYPE, []).append(cls.VERSION)
    return cls


def payload_class(event_type: str, version: int) -> type[Payload]:
    """The payload class of ``event_type`` at ``version``; InvalidEvent naming which is unknown."""
    cls = _REGISTRY.get((event_type, version))
    if cls is not None:
        return cls
    known = _VERSIONS.get(event_type)
    if known is None:
        raise InvalidEvent(f"unknown event type {event_type!r}", "type")
    listed = ", ".join(str(v) for v in sorted(known))
    raise InvalidEvent(f"unknown version {version} of {event_type} (known: {listed})", "version")


def payload_decoder(cls: type[Payload]) -> msgspec.json.Decoder[Payload]:
    """The JSON decoder of a registered payload class."""
    return _DECODERS[cls]


def payload_classes() -> tuple[type[Payload], ...]:
    """Every registered payload class, sorted by (type, version): for docs and tests."""
    return tuple(_REGISTRY[k] for k in sorted(_REGISTRY))
