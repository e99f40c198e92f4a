"""RFC 3339 timestamps, the only time format on the wire.

``datetime.fromisoformat`` alone accepts far more than RFC 3339 (dates without times,
basic format, naive values), and a naive value would silently be read in the consumer's
local zone; so the text is checked against the RFC grammar first and always carries an
offset. Values are normalised to UTC in Python.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UTC_MICROS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z\Z")
"""What our own producers write (``format_rfc3339``, msgspec): parsed without rework."""
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})\Z"
)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; ``ValueError`` if it is not one.

    More than six fractional digits are truncated (Python keeps microseconds). Every
    record is decoded through here, so the common UTC form takes a fast path (a quarter
    of the general path's time, measured).
    """
    if _UTC_MICROS.match(text):
        return datetime.fromisoformat(text)
    if not _RFC3339.match(text):
        raise ValueError("expected an RFC 3339 timestamp like 2024-05-01T12:00:00Z")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = head + "." + rest[: min(digits, 6)].ljust(6, "0") + rest[digits:]
    return datetime.fromisoformat(text).astimezone(UTC)


def format_rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix."""
    if moment.utcoffset() is None:
        raise ValueError("naive datetime: attach a timezone (UTC) before formatting")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
