"""Mastodon read markers (``GET``/``POST /api/v1/markers``), per user and timeline, in Cassandra.

The ``home`` marker lives only here. The ``notifications`` marker's position is the inbox
read mark (:func:`sinks.notifications.read_marker`, which ``POST /v1/notifications/read``
moves too), so both APIs agree on what is read; its row here only keeps Mastodon's
``version`` and ``updated_at``. Two clients saving at once may both write the same next
version: a marker is a hint for where to resume reading, not a ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import as_utc, prepared

HOME = "home"
NOTIFICATIONS = "notifications"
TIMELINES = (HOME, NOTIFICATIONS)
_EPOCH = datetime.fromtimestamp(0, UTC)

_GET = ("SELECT timeline, last_read_id, version, updated_at FROM mastodon_markers "
        "WHERE user_id = ?")
_PUT = ("INSERT INTO mastodon_markers (user_id, timeline, last_read_id, version, updated_at) "
        "VALUES (?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class Marker:
    last_read_id: int
    version: int
    updated_at: datetime


async def markers(session: Session, user_id: int) -> dict[str, Marker]:
    """The stored markers of ``user_id`` by timeline."""
    rows = await execute(session, await prepared(session, _GET), (user_id,))
    return {row["timeline"]: Marker(int(row["last_read_id"] or 0), int(row["version"] or 0),
                                    as_utc(row["updated_at"]) or _EPOCH)
            for row in rows}


async def save(session: Session, user_id: int, timeline: str, marker: Marker) -> None:
    await execute(session, await prepared(session, _PUT), (
        user_id, timeline, marker.last_read_id, marker.version, marker.updated_at))
