"""Signed-out sessions: the token ids (``sid``) a user revoked one by one, in Cassandra.

Why Cassandra and not only Redis: Redis here is a cache that may be flushed, restarted
without persistence or unreachable (the identity check then reads Cassandra, see
:mod:`sinks.identity`). A sign-out kept only in Redis would be undone by any of those,
and the signed-out token would work again for the rest of its life (days). So the row is
durable, and Redis holds it only as part of the cached identity, which is rebuilt from
these rows on a miss. Each row is written with a TTL of its token's remaining life: after
that the token is refused for having expired, so the row has no more work to do and the
partition stays small (one row per sign-out within the last token lifetime).
"""

from __future__ import annotations

import math
import time

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import prepared

_PUT = "INSERT INTO revoked_sessions (user_id, session_id) VALUES (?, ?) USING TTL ?"
_READ = "SELECT session_id FROM revoked_sessions WHERE user_id = ?"


def remaining_seconds(expires_at: int, now: float | None = None) -> int:
    """Whole seconds until ``expires_at`` (epoch s), at least 1 (a TTL of 0 is none)."""
    now = time.time() if now is None else now
    return max(1, math.ceil(expires_at - now))


async def revoke(session: Session, user_id: int, session_id: str, expires_at: int) -> None:
    """Record that the token ``session_id`` of ``user_id`` is signed out until it expires."""
    statement = await prepared(session, _PUT)
    await execute(session, statement, (user_id, session_id, remaining_seconds(expires_at)))


async def revoked(session: Session, user_id: int) -> frozenset[str]:
    """The session ids of ``user_id`` signed out and not yet expired."""
    statement = await prepared(session, _READ)
    return frozenset(row["session_id"] for row in await execute(session, statement, (user_id,)))
