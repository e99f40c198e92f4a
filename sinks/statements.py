"""Prepared-statement cache shared by the Cassandra sinks, plus small value helpers.

Why a cache keyed by session: preparing is a network round trip to every node, so a
statement must be prepared once per session, not per write; and sinks are plain module
functions taking a ``Session`` (easy to call from any processor), so the cache lives
here instead of on a sink object. Weak keys let a closed session's statements go.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast
from weakref import WeakKeyDictionary

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from infra.settings import get_settings

_CACHE: WeakKeyDictionary[Session, dict[tuple[str, int], PreparedStatement]] = (
    WeakKeyDictionary()
)

#: Writes and plain reads: by default a quorum of the local DC, so a read after a write
#: sees it (PHOTOSTREAM_CASSANDRA_CONSISTENCY; read once, as statements are cached).
QUORUM: int = ConsistencyLevel.name_to_value[get_settings().cassandra.consistency]
#: Linearizable reads of rows that LWTs guard (the album post's compare-and-sets).
SERIAL = ConsistencyLevel.SERIAL
#: A write timestamp no write made at a real time can beat (us: 2100-01-01): what sticky
#: markers and tombstones are written at (``pull_authors``, a deleted photo).
STICKY_US = 4_102_444_800_000_000


async def prepared(session: Session, cql: str, *, consistency: int = QUORUM) -> PreparedStatement:
    """The statement ``cql`` prepared on ``session`` (prepared on first use, then cached)."""
    per_session = _CACHE.get(session)
    if per_session is None:
        per_session = _CACHE.setdefault(session, {})
    key = (cql, consistency)
    statement = per_session.get(key)
    if statement is None:
        # Two first callers may both prepare: harmless, the server dedupes by id.
        statement = cast(PreparedStatement, await asyncio.to_thread(session.prepare, cql))
        statement.consistency_level = consistency
        per_session[key] = statement
    return statement


def micros(moment: datetime) -> int:
    """``moment`` as a Cassandra write timestamp (microseconds since the Unix epoch)."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def as_utc(moment: datetime | None) -> datetime | None:
    """Cassandra hands back naive UTC datetimes; attach the zone so comparisons work."""
    if moment is None or moment.utcoffset() is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def applied(rows: list[dict[str, object]]) -> bool:
    """Whether a conditional (LWT) statement applied, from its result rows."""
    return bool(rows) and bool(rows[0].get("[applied]"))
