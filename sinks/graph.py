"""The follow graph: edges in both directions with their counts, and pending requests.

``followers`` (partitioned by the followee) is the source of truth: it is what the
fan-out reads to push a post, and its single writer is the consumer of the followee's
FOLLOWS partition. ``following`` (partitioned by the follower) is its mirror for "whom
do I follow" pages. Both are counted edges (:mod:`sinks.counted`), written followers
first; each is idempotent, so a crash between them is repaired by the redelivery.

Reading for big fan-outs: :func:`followers_page` is keyset paging (the cursor is the
last follower id, so a fan-out task can persist it and resume anywhere), and
:func:`iter_followers` streams a whole partition with the driver's own paging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.counted import CountedTable, add_edge, edge_count, has_edge, remove_edge
from sinks.statements import prepared

FOLLOWERS = CountedTable("followers", "user_id", "follower_id", "follower_count", ("since",))
FOLLOWING = CountedTable("following", "user_id", "followee_id", "following_count", ("since",))

_FOLLOWERS_FIRST = "SELECT follower_id FROM followers WHERE user_id = ? LIMIT ?"
_FOLLOWERS_AFTER = (
    "SELECT follower_id FROM followers WHERE user_id = ? AND follower_id > ? LIMIT ?"
)
_FOLLOWERS_ALL = "SELECT follower_id FROM followers WHERE user_id = ?"
_FOLLOWING_ALL = "SELECT followee_id FROM following WHERE user_id = ?"
_FOLLOWING_AFTER = (
    "SELECT followee_id FROM following WHERE user_id = ? AND followee_id > ? LIMIT ?"
)
_REQUEST = (
    "INSERT INTO follow_requests (followee_id, follower_id, requested_at) VALUES (?, ?, ?)"
)
_DROP_REQUEST = "DELETE FROM follow_requests WHERE followee_id = ? AND follower_id = ?"
_HAS_REQUEST = (
    "SELECT follower_id FROM follow_requests WHERE followee_id = ? AND follower_id = ?"
)
_REQUESTS = "SELECT follower_id FROM follow_requests WHERE followee_id = ?"

#: Rows per driver page when streaming a whole partition.
DEFAULT_FETCH_SIZE = 5_000


async def follow(session: Session, follower_id: int, followee_id: int, since: datetime) -> bool:
    """Make the edge active (and drop any pending request); False if it already was."""
    added = await add_edge(session, FOLLOWERS, followee_id, follower_id, (since,))
    await add_edge(session, FOLLOWING, follower_id, followee_id, (since,))
    await drop_request(session, follower_id, followee_id)
    return added


async def unfollow(session: Session, follower_id: int, followee_id: int) -> bool:
    """Remove the edge and any pending request; False if there was no edge."""
    removed = await remove_edge(session, FOLLOWERS, followee_id, follower_id)
    await remove_edge(session, FOLLOWING, follower_id, followee_id)
    await drop_request(session, follower_id, followee_id)
    return removed


async def request_follow(session: Session, follower_id: int, followee_id: int,
                         at: datetime) -> bool:
    """Record a pending request to a private account; False if the edge already exists."""
    if await is_following(session, follower_id, followee_id):
        return False
    statement = await prepared(session, _REQUEST)
    await execute(session, statement, (followee_id, follower_id, at))
    return True


async def drop_request(session: Session, follower_id: int, followee_id: int) -> None:
    """Forget a pending request (rejected, approved or withdrawn)."""
    statement = await prepared(session, _DROP_REQUEST)
    await execute(session, statement, (followee_id, follower_id))


async def has_request(session: Session, follower_id: int, followee_id: int) -> bool:
    statement = await prepared(session, _HAS_REQUEST)
    return bool(await execute(session, statement, (followee_id, follower_id)))


async def pending_requests(session: Session, followee_id: int) -> list[int]:
    """Everyone waiting for ``followee_id``'s approval."""
    statement = await prepared(session, _REQUESTS)
    return [row["follower_id"] for row in await _all_rows(session, statement, (followee_id,))]


async def is_following(session: Session, follower_id: int, followee_id: int,
                       *, serial: bool = False) -> bool:
    """Whether the edge ``follower_id -> followee_id`` is active now.

    The fan-out checks this when it handles a follow event from its own consumer group
    (it may run before or after the graph processor). ``serial=True`` makes the read
    linearizable with the edge's LWT (a Paxos read: use it for decisions, not pages).
    """
    return await has_edge(session, FOLLOWERS, followee_id, follower_id, serial=serial)


async def follower_count(session: Session, user_id: int) -> int:
    return await edge_count(session, FOLLOWERS, user_id)


async def following_count(session: Session, user_id: int) -> int:
    return await edge_count(session, FOLLOWING, user_id)


async def followers_page(session: Session, user_id: int, after: int | None = None,
                         limit: int = 1_000) -> list[int]:
    """Up to ``limit`` follower ids of ``user_id`` greater than ``after``, ascending.

    Keyset paging: pass the last id of a page as ``after`` for the next one; an empty
    or short page is the end. The cursor is a plain id, so it survives restarts.
    """
    if after is None:
        statement = await prepared(session, _FOLLOWERS_FIRST)
        rows = await execute(session, statement, (user_id, limit))
    else:
        statement = await prepared(session, _FOLLOWERS_AFTER)
        rows = await execute(session, statement, (user_id, after, limit))
    return [row["follower_id"] for row in rows if row["follower_id"] is not None]


async def following_page(session: Session, user_id: int, after: int = -1,
                         limit: int = 1_000) -> list[int]:
    """Up to ``limit`` ids ``user_id`` follows, greater than ``after``, ascending."""
    statement = await prepared(session, _FOLLOWING_AFTER)
    rows = await execute(session, statement, (user_id, after, limit))
    return [row["followee_id"] for row in rows if row["followee_id"] is not None]


async def iter_followers(session: Session, user_id: int, *,
                         fetch_size: int = DEFAULT_FETCH_SIZE) -> AsyncIterator[list[int]]:
    """Every follower of ``user_id``, one driver page (``fetch_size`` ids) at a time.

    Uses the driver's paging state, each page fetched in a worker thread, so a
    million-follower partition streams without holding it in memory or blocking the
    loop.
    """
    statement = await prepared(session, _FOLLOWERS_ALL)
    async for page in _pages(session, statement, (user_id,), fetch_size):
        ids = [row["follower_id"] for row in page if row["follower_id"] is not None]
        if ids:
            yield ids


async def following(session: Session, user_id: int) -> list[int]:
    """Everyone ``user_id`` follows (following lists are small: no paging needed)."""
    statement = await prepared(session, _FOLLOWING_ALL)
    rows = await _all_rows(session, statement, (user_id,))
    return [row["followee_id"] for row in rows if row["followee_id"] is not None]


async def _pages(session: Session, statement: Any, params: tuple[Any, ...],
                 fetch_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    paging_state: bytes | None = None
    while True:
        bound = statement.bind(params)
        bound.fetch_size = fetch_size
        result = await asyncio.to_thread(session.execute, bound, paging_state=paging_state)
        yield list(result.current_rows)
        paging_state = result.paging_state
        if not paging_state:
            return


async def _all_rows(session: Session, statement: Any,
                    params: tuple[Any, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async for page in _pages(session, statement, params, DEFAULT_FETCH_SIZE):
        rows.extend(page)
    return rows
