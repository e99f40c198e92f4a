"""Cassandra sessions from settings, and an asyncio bridge for the driver's futures.

The DataStax driver runs its own I/O thread; ``execute`` turns its ``ResponseFuture``
into an awaitable so processors stay async, and ``execute_many`` runs prepared
statements with bounded concurrency instead of one round trip at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    ResponseFuture,
    Session,
)
from cassandra.policies import (
    ConstantReconnectionPolicy,
    DCAwareRoundRobinPolicy,
    TokenAwarePolicy,
)
from cassandra.query import dict_factory, tuple_factory

from infra.settings import Settings

#: Execution profile returning plain tuples: for bulk reads, where building a dict per
#: row is most of the client's CPU (e.g. rebuilding thousands of timelines).
TUPLES = "tuples"


def cluster(settings: Settings, *, request_timeout: float = 20,
            reconnect_seconds: float | None = None) -> Cluster:
    """A cluster object; ``request_timeout`` / ``reconnect_seconds`` for a fail-fast reader.

    ``reconnect_seconds``: a constant reconnection delay instead of the driver's
    exponential one (1 s doubling up to 10 min), which after a 20 s outage already
    waits 16 s before it notices the node is back.
    """
    cs = settings.cassandra
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=cs.local_datacenter)),
        request_timeout=request_timeout,
        row_factory=dict_factory,
        # Unprepared statements too (reads of the API, migrations) at the configured level.
        consistency_level=ConsistencyLevel.name_to_value[cs.consistency],
    )
    tuples = ExecutionProfile(
        load_balancing_policy=profile.load_balancing_policy,
        request_timeout=profile.request_timeout,
        row_factory=tuple_factory,
        consistency_level=profile.consistency_level,
    )
    auth = PlainTextAuthProvider(cs.username, cs.password) if cs.username else None
    reconnection = (ConstantReconnectionPolicy(reconnect_seconds)
                    if reconnect_seconds is not None else None)
    return Cluster(
        contact_points=list(cs.contact_points),
        port=cs.port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile, TUPLES: tuples},
        auth_provider=auth,
        protocol_version=5,
        connect_timeout=10,
        reconnection_policy=reconnection,
    )


def connect(settings: Settings, *, keyspace: bool = True) -> Session:
    """A session bound to the photostream keyspace (or none, for bootstrapping it)."""
    return cluster(settings).connect(settings.cassandra.keyspace if keyspace else None)


def connect_reader(settings: Settings) -> Session:
    """The read API's session: every request (and statement preparation) bounded by
    ``api.backend_timeout_seconds``, reconnecting every ``api.reconnect_seconds``.

    An API answers a client that waits: a request to a dead or black-holed node must
    fail within a second (the caller falls back to Redis or answers 503), not after
    the 20 s a processor can afford to wait for a write to land.
    """
    api = settings.api
    session = cluster(settings, request_timeout=api.backend_timeout_seconds,
                      reconnect_seconds=api.reconnect_seconds).connect(settings.cassandra.keyspace)
    # Session.prepare waits ``default_timeout`` (10 s), not the profile's timeout, and
    # the public setter refuses while execution profiles are in use: set what it reads.
    session._default_timeout = api.backend_timeout_seconds
    return session


def _bridge(future: ResponseFuture) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    result: asyncio.Future[Any] = loop.create_future()

    def on_ok(rows: Any) -> None:
        # Paging is not followed here: callers that read many rows page explicitly.
        loop.call_soon_threadsafe(_settle, result, rows, None)

    def on_err(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_settle, result, None, exc)

    future.add_callbacks(on_ok, on_err)
    return result


def _settle(result: asyncio.Future[Any], rows: Any, exc: BaseException | None) -> None:
    if result.done():
        return
    if exc is not None:
        result.set_exception(exc)
    else:
        result.set_result(rows)


async def execute(
    session: Session, statement: Any, params: Sequence[Any] | None = None,
    *, profile: Any = EXEC_PROFILE_DEFAULT,
) -> list[Any]:
    """Run one statement without blocking the event loop; returns the first page of rows."""
    rows = await _bridge(session.execute_async(statement, params, execution_profile=profile))
    return list(rows or [])


async def execute_many(session: Session, statement: Any, params: Iterable[Sequence[Any]],
                       *, concurrency: int = 64) -> int:
    """Run ``statement`` once per parameter tuple, ``concurrency`` in flight; returns count."""
    gate = asyncio.Semaphore(concurrency)
    count = 0

    async def one(values: Sequence[Any]) -> None:
        async with gate:
            await _bridge(session.execute_async(statement, values))

    tasks = []
    for values in params:
        tasks.append(asyncio.ensure_future(one(values)))
        count += 1
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    return count
