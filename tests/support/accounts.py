"""Registered users for tests that drive the services without a graph processor running.

Both services refuse a token whose user does not exist (:mod:`sinks.identity`), so a
test acting as a user must register that user first, as production does. Where no graph
processor runs, :func:`registered_user` stores what it would store for
``user.registered`` -- through the same sink (``sinks.users.upsert_profile``), into the
real Cassandra -- so the check itself is exercised unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import cache

from cassandra.cluster import Session

from infra.connect import cassandra
from infra.settings import get_settings
from sinks import users
from tests.support.ids import random_id


@cache
def _session() -> Session:
    """One session per test process: connecting costs a second, a row a millisecond.

    It reconnects every second: a lifecycle test restarts the shared Cassandra, and the
    driver's doubling delay would leave this session without a host for a minute after."""
    settings = get_settings()
    return cassandra.cluster(settings, reconnect_seconds=1.0).connect(
        settings.cassandra.keyspace)


async def registered_user(user_id: int | None = None, *, private: bool = False) -> int:
    """A user id whose account exists: ``user_id`` (a fresh one, never looked up before,
    so no "unknown" answer is cached for it) or a new random id."""
    session = await asyncio.to_thread(_session)
    user_id = random_id() if user_id is None else user_id
    name = f"t{user_id:x}"[:30]
    await users.upsert_profile(session, user_id, name, name, "", private, datetime.now(UTC),
                               registered=True)
    return user_id
