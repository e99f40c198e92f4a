"""Pull authors (celebrities): authors whose posts are pulled at read time, not pushed.

An author lands here when a post of theirs is planned with more than
``celebrity_threshold`` followers; the feed then merges their recent photos into each
follower's page instead of the fan-out writing to every follower's timeline. The marker
is sticky (see ``operate/provision/cql/0004_timelines.cql`` and :mod:`processors.fanout`), and the
set stays small, so the read side caches all of it.

Marked without Paxos: several fan-out partitions may mark the same author at once
(their photos are keyed by photo, not author), and the row must keep the *earliest*
photo. Every mark is a plain insert ``USING TIMESTAMP`` that falls as the photo id
grows (:func:`mark_stamp`), so whichever order the inserts land in, the earliest
photo's has the highest timestamp and wins; repeating one rewrites the same cell.
The stamps lie in the future (just before 2100), which is what a sticky marker
wants: nothing written at a normal time can overwrite it.
"""

from __future__ import annotations

import asyncio

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from schemas.ids import SEQUENCE_BITS, SHARD_BITS
from sinks.statements import STICKY_US, prepared

#: ``bucket = author_id % PULL_BUCKETS`` spreads the set over a few partitions.
PULL_BUCKETS = 16

_MARK_PULLED = ("INSERT INTO pull_authors (bucket, author_id, pulled_since) VALUES (?, ?, ?) "
                "USING TIMESTAMP ?")
_PULLED = "SELECT author_id FROM pull_authors WHERE bucket = ?"


def mark_stamp(photo_id: int) -> int:
    """The write timestamp of a mark from ``photo_id``: lower for later photos (by the
    millisecond in the id; within one millisecond Cassandra keeps the larger value)."""
    return STICKY_US - (max(0, photo_id) >> (SHARD_BITS + SEQUENCE_BITS))


async def mark_pulled(session: Session, author_id: int, photo_id: int) -> None:
    """Record that ``author_id``'s posts (from ``photo_id`` on) are pulled (idempotent;
    the earliest photo's mark wins, module doc)."""
    statement = await prepared(session, _MARK_PULLED)
    await execute(session, statement, (author_id % PULL_BUCKETS, author_id, photo_id,
                                       mark_stamp(photo_id)))


async def pulled_authors(session: Session) -> set[int]:
    """Every author ever pulled (small: accounts that once had a celebrity's audience)."""
    statement = await prepared(session, _PULLED)
    pages = await asyncio.gather(*(execute(session, statement, (b,))
                                   for b in range(PULL_BUCKETS)))
    return {row["author_id"] for rows in pages for row in rows}
