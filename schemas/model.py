"""The msgspec base of every wire record, and the field types contracts are written in.

Every event payload (and the dead letter) is a frozen :class:`Record`, a ``msgspec.Struct``
whose annotations ARE its wire schema: ``msgspec.json`` decodes and checks it (strict types:
no bool for an int, no numeric strings; bounds and patterns from ``msgspec.Meta``; unknown
keys rejected), ``msgspec.json.schema_components`` writes its JSON Schema into the AsyncAPI
document, and :mod:`schemas.explain` turns a failure into an :class:`~schemas.errors.InvalidEvent`
naming the field.

Why msgspec, measured (``python -m bench.event_codec -n 20000 --rounds 4``: best of 12
runs, rows interleaved, on the shared 2-core dev box, whose neighbours make any single
figure swing by up to 2x; the ratios within one run are what to read). Decoding is the
hot path (every record in every processor):

    codec                       decode ev/s     x   encode ev/s     x
    home-made field framework        52,905  1.00        83,913  1.00
    pydantic v2 (validate_json)     121,481  2.30       184,068  2.19
    msgspec, bare Structs           238,432  4.51       623,310  7.43
    these models (msgspec)          141,949  2.68        92,569  1.10

Library against library (same strictness, each with its own time parser) msgspec
decoded about 2x faster than pydantic in every run, so msgspec it is. These models pay
two costs on top of bare msgspec: times go through :func:`~schemas.rfc3339.parse_rfc3339`
(msgspec's parser also accepts ``' '`` for ``T``, lower-case ``z`` and ``+0200``, which
the contract rejects), and ``encode`` decodes its own output to prove a consumer will
accept it, which keeps encoding at the old framework's speed.

Patterns end in ``\\Z``, not ``$``: msgspec searches with :mod:`re`, where ``$`` also
matches before a final newline. The AsyncAPI generator writes them back as ``$``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, ClassVar

import msgspec
from msgspec.structs import force_setattr

from schemas.errors import InvalidEvent
from schemas.rfc3339 import parse_rfc3339

MAX_INT64 = 2**63 - 1

if TYPE_CHECKING:
    Time = datetime
else:
    # A string on the wire (checked against RFC 3339 by Record.__post_init__, below),
    # an aware UTC datetime in Python.
    Time = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]

_TYPE_NAMES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}


def type_name(value: object) -> str:
    """The JSON name of ``value``'s type (``integer``, ``string``...), else its class name."""
    return _TYPE_NAMES.get(type(value)) or type(value).__name__


def short(value: str) -> str:
    """``value`` quoted for an error message, cut at 40 characters."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


class Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every wire object: frozen (hashable), closed (unknown keys are an error).

    A record with :data:`Time` fields lists them in ``TIMES`` and calls :func:`read_times`
    from its ``__post_init__``, so only those records pay for a Python call on decode.
    """

    TIMES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def schema_name(cls) -> str:
        """The name of this record's schema in generated documents."""
        return cls.__name__


def read_times(record: Record) -> None:
    """``__post_init__`` of records with times: RFC 3339 text becomes an aware UTC datetime.

    Raises InvalidEvent (a ValueError, which msgspec reports as the decode failure, keeping
    it as ``__cause__``) naming the field.
    """
    for name in record.TIMES:
        value = getattr(record, name)
        if type(value) is str:
            try:
                force_setattr(record, name, parse_rfc3339(value))
            except ValueError as exc:
                raise InvalidEvent(f"{short(value)}: {exc}", name) from None


def naive_time(record: Record) -> str | None:
    """The first of ``record``'s times that is a naive datetime (None if none is)."""
    for name in record.TIMES:
        value = getattr(record, name)
        if isinstance(value, datetime) and value.utcoffset() is None:
            return name
    return None
