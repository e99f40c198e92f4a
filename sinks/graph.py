"""The follow graph: edges in both directions with their counts, and pending requests.

``followers`` (partitioned by the followee) is the source of truth: it is what the
fan-out reads to push a post, and its single writer is the consumer of the followee's
FOLLOWS partition (the graph processor, :func:`apply_followers`). ``following``
(partitioned by the follower) is its mirror for "whom do I follow" pages and counts;
its single writer is the consumer of the follower's partition of the repartition topic
``photostream.following`` (the following processor, :func:`mirror_following`), which
reads each touched edge's state back from ``followers``. Both are counted edges written
by their owner without Paxos (:mod:`sinks.owned_edges`; the argument is in
``docs/consistency.md``). ``follow_requests`` is partitioned by the followee too, so the
graph processor is its single writer as well.

Reading for big fan-outs: :func:`followers_page` is keyset paging (the cursor is the
last follower id, so a fan-out task can persist it and resume anywhere), and
:func:`iter_followers` streams a whole partition with the driver's own paging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks import owned_edges, pair_reads
from sinks.counted import CountedTable, edge_count, has_edge
from sinks.owned_edges import Applied, EdgeChange
from sinks.statements import micros, prepared

FOLLOWERS = CountedTable("followers", "user_id", "follower_id", "follower_count", ("since",))
FOLLOWING = CountedTable("following", "user_id", "followee_id", "following_count", ("since",))

Pair = tuple[int, int]
"""An edge as (follower_id, followee_id)."""

_EDGES = ("SELECT user_id, follower_id, since FROM followers WHERE user_id IN ? "
          "AND follower_id IN ?")
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


def edge_change(member: int, since: datetime | None, *, present: bool = True) -> EdgeChange:
    """The state a run wants for one edge (``member``: the other end of it)."""
    return EdgeChange(member, present, (since,))


async def apply_followers(session: Session, wanted: Mapping[int, Mapping[int, EdgeChange]],
                          newest_event_us: Mapping[int, int]) -> dict[int, Applied]:
    """Apply a run of edge changes (per followee, per follower) to ``followers`` as the
    followees' single writer: no LWT (:mod:`sinks.owned_edges`)."""
    plans = await owned_edges.plan(session, FOLLOWERS, wanted, newest_event_us)
    await owned_edges.commit(session, FOLLOWERS, plans)
    return plans


async def edges_now(session: Session, pairs: Iterable[Pair]) -> dict[Pair, datetime | None]:
    """Which of ``pairs`` are edges in ``followers`` now, with their ``since`` (None when
    a seeded row has none), in reads packed over many followees (:mod:`sinks.pair_reads`)."""
    wanted = {(followee, follower) for follower, followee in pairs}
    if not wanted:
        return {}
    statement = await prepared(session, _EDGES)
    found = await asyncio.gather(*(execute(session, statement, (keys, members))
                                   for keys, members in pair_reads.pack(wanted)))
    return {(row["follower_id"], row["user_id"]): row["since"]
            for rows in found for row in rows
            if (row["user_id"], row["follower_id"]) in wanted}


async def mirror_following(session: Session, pairs: Iterable[Pair]) -> dict[int, Applied]:
    """Make ``following`` agree with ``followers`` for ``pairs``, as the followers'
    (``pairs[i][0]``) single writer: reads the truth, then writes what differs with
    absolute counts (:mod:`sinks.owned_edges`). Idempotent whatever order it is told in."""
    pairs = set(pairs)
    truth = await edges_now(session, pairs)
    wanted: dict[int, dict[int, EdgeChange]] = {}
    for follower, followee in pairs:
        since = truth.get((follower, followee))
        wanted.setdefault(follower, {})[followee] = edge_change(
            followee, since, present=(follower, followee) in truth)
    now_us = micros(datetime.now(UTC))
    plans = await owned_edges.plan(session, FOLLOWING, wanted, dict.fromkeys(wanted, now_us))
    await owned_edges.commit(session, FOLLOWING, plans)
    return plans


async def write_requests(session: Session, added: Sequence[tuple[Pair, datetime]],
                         dropped: Iterable[Pair]) -> None:
    """Record pending requests and forget others (idempotent rows of the followees'
    partitions; only their single writer calls it)."""
    await owned_edges.write_rows(session, [
        *((_REQUEST, (followee, follower, at)) for (follower, followee), at in added),
        *((_DROP_REQUEST, (followee, follower)) for follower, followee in dropped)])


async def set_edges(session: Session, edges: Mapping[Pair, datetime | None]) -> set[Pair]:
    """Make each edge present (value: since) or absent (None) on both sides at once, and
    drop their requests; returns the edges that changed.

    Writes as the single writer of every partition involved, without the topics: for
    callers that are (tests, seeding a benchmark); the pipeline goes through the graph
    and following processors.
    """
    now = datetime.now(UTC)
    wanted: dict[int, dict[int, EdgeChange]] = {}
    newest: dict[int, int] = {}
    for (follower, followee), since in edges.items():
        wanted.setdefault(followee, {})[follower] = edge_change(
            follower, since, present=since is not None)
        newest[followee] = max(newest.get(followee, 0), micros(since or now))
    plans = await apply_followers(session, wanted, newest)
    await write_requests(session, [], edges)
    await mirror_following(session, edges)
    return {(c.member, followee) for followee, plan in plans.items() for c in plan.changes}


async def follow(session: Session, follower_id: int, followee_id: int, since: datetime) -> bool:
    """Make the edge active (and drop any pending request); False if it already was.
    A caller-side single writer's shortcut (:func:`set_edges`)."""
    return bool(await set_edges(session, {(follower_id, followee_id): since}))


async def unfollow(session: Session, follower_id: int, followee_id: int) -> bool:
    """Remove the edge and any pending request; False if there was no edge
    (:func:`set_edges`)."""
    return bool(await set_edges(session, {(follower_id, followee_id): None}))


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
    (it may run before or after the graph processor). Edges are written at ``QUORUM``
    without Paxos, so a ``QUORUM`` read sees every acknowledged write; ``serial=True``
    (a Paxos read, which writes ``system.paxos``) adds nothing any more.
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
