"""Which exceptions mean a backend is unreachable (stopped, cut off, black-holed) and
which mean our own side is overloaded: the two failures a reader answers 503 for; and
which mean a Cassandra request failed, the ones a writer answers 503 for.

Unreachable is not "any error": a bad statement or a script bug is a bug (a 500, and a
fix), never something to paper over with a fallback. Overload is not "unreachable"
either: a full Redis connection pool must not send the same load on to Cassandra.
"""

from __future__ import annotations

from cassandra import DriverException, OperationTimedOut, Timeout, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS = "redis"
CASSANDRA = "cassandra"

#: Redis down, reset or silent past the socket timeout (MaxConnectionsError is a
#: subclass of ConnectionError: see :func:`overloaded`).
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
#: No live node, a node that does not answer in time, or too few replicas alive.
CASSANDRA_ERRORS: tuple[type[Exception], ...] = (
    NoHostAvailable, OperationTimedOut, Timeout, Unavailable, ConnectionShutdown)
#: Any failed Cassandra request, for a writer with no other store to fall back on (the
#: ingest service answers 503 to each): the unreachable errors above, and every other
#: error the driver raises (a failed coordination, a node overloaded or bootstrapping;
#: also a statement the server rejects, which is a bug of ours).
CASSANDRA_FAILURES: tuple[type[Exception], ...] = (*CASSANDRA_ERRORS, DriverException)


def overloaded(exc: BaseException) -> bool:
    """This process ran out of Redis connections: too much concurrent load."""
    return isinstance(exc, MaxConnectionsError)


def unreachable(exc: BaseException) -> str | None:
    """The backend ``exc`` says cannot be reached right now, or None."""
    if overloaded(exc):
        return None
    if isinstance(exc, REDIS_ERRORS):
        return REDIS
    if isinstance(exc, CASSANDRA_ERRORS):
        return CASSANDRA
    return None
