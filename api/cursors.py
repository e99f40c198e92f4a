"""Opaque page cursors: what the client sends back to get the next page.

A cursor is URL-safe base64 of a small JSON object tagged with the endpoint it belongs
to, so a cursor from one list cannot be replayed against another. Clients must treat
it as opaque; anything that does not decode to the expected shape is a 422 naming the
``cursor`` parameter. A forged but well-formed cursor is harmless: it only chooses where
a page starts, and every item is still checked for visibility.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

MAX_CURSOR = 512


class BadCursor(ValueError):
    """The cursor is not one this endpoint handed out."""


def encode(kind: str, **fields: Any) -> str:
    raw = orjson.dumps({"k": kind, **fields})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, kind: str, schema: dict[str, type]) -> dict[str, Any]:
    """The fields of ``cursor`` (made by :func:`encode` with ``kind``), type-checked."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("cursor is too long")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadCursor("cursor is not valid") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise BadCursor("cursor does not belong to this list")
    for name, typ in schema.items():
        value = data.get(name)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise BadCursor("cursor is not valid")
        if isinstance(value, int) and not 0 <= value < 2**63:
            raise BadCursor("cursor is out of range")
    return data
