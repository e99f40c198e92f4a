"""Pull authors (celebrities): authors whose posts are pulled at read time, not pushed.

An author lands here when a post of theirs is planned with more than
``celebrity_threshold`` followers; the feed then merges their recent photos into each
follower's page instead of the fan-out writing to every follower's timeline. The marker
is sticky (see ``operate/provision/cql/0004_timelines.cql`` and :mod:`processors.fanout`), and the
set stays small, so the read side caches all of it.
"""

from __future__ import annotations

import asyncio

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import applied, prepared

#: ``bucket = author_id % PULL_BUCKETS`` spreads the set over a few partitions.
PULL_BUCKETS = 16

_MARK_PULLED = ("INSERT INTO pull_authors (bucket, author_id, pulled_since) VALUES (?, ?, ?) "
                "IF NOT EXISTS")
_PULLED = "SELECT author_id FROM pull_authors WHERE bucket = ?"


async def mark_pulled(session: Session, author_id: int, photo_id: int) -> bool:
    """Record that ``author_id``'s posts (from ``photo_id`` on) are pulled; True if new."""
    statement = await prepared(session, _MARK_PULLED)
    rows = await execute(session, statement, (author_id % PULL_BUCKETS, author_id, photo_id))
    return applied(rows)


async def pulled_authors(session: Session) -> set[int]:
    """Every author ever pulled (small: accounts that once had a celebrity's audience)."""
    statement = await prepared(session, _PULLED)
    pages = await asyncio.gather(*(execute(session, statement, (b,))
                                   for b in range(PULL_BUCKETS)))
    return {row["author_id"] for rows in pages for row in rows}
