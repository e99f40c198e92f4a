"""Redis client from settings: a single server or a Redis Cluster, same interface.

Keys that must live together (one timeline and its metadata) use a ``{hash tag}`` so
that scripts and pipelines touching them stay on one cluster slot.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from hiredis import pack_command
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infra.settings import Settings

RedisClient: TypeAlias = aioredis.Redis | RedisCluster


def client(settings: Settings, *, decode_responses: bool = False,
           timeout: float | None = None, retry_broken: bool = True) -> RedisClient:
    """A client; with ``timeout``, a fail-fast one that bounds connect and each reply.

    ``retry_broken`` allows one immediate retry on a broken connection (the read API's
    :func:`reader`); without it one attempt is all, for callers that would rather go on
    without Redis than wait for it (the rate limiter fails open).
    """
    bounds = {} if timeout is None else _fail_fast(timeout, retries=int(retry_broken))
    if settings.redis.cluster:
        return RedisCluster.from_url(settings.redis.url, decode_responses=decode_responses,
                                     **bounds)
    return aioredis.Redis.from_url(
        settings.redis.url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
        **bounds,
    )


class BoundedPool(aioredis.BlockingConnectionPool):
    """At most ``max_connections``; a caller finding all busy waits up to ``timeout``
    seconds for one, then gets :class:`MaxConnectionsError` (overload, answered 503).

    redis-py's default pool raises MaxConnectionsError the instant its 101st
    connection is asked for: under a burst, 17 % of feed reads were 500s at 500 req/s
    (issue 22). Its blocking pool waits, but then raises a plain ConnectionError,
    which the read path takes for "Redis is down" and answers from Cassandra: the
    overload would be passed on to the database. Hence this subclass.
    """

    async def get_connection(self, command_name: Any = None, *keys: Any,
                             **options: Any) -> Any:
        try:
            return await super().get_connection()
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, TimeoutError):  # asyncio.TimeoutError on 3.11
                raise MaxConnectionsError(
                    f"no Redis connection free within {self.timeout} s") from exc
            raise


def reader(settings: Settings) -> RedisClient:
    """The read API's client: every command bounded by ``api.backend_timeout_seconds``,
    at most ``api.redis_pool_size`` connections, waited for ``redis_pool_wait_seconds``.

    The library's defaults (5 s socket timeout, then up to 10 retries with backoff of
    up to 1 s each) made a stopped Redis cost a reader many seconds before the API
    could fall back to Cassandra; the measured outage answered 500s instead.
    """
    api = settings.api
    if settings.redis.cluster:  # per-node pools of the cluster client; admission bounds it
        return client(settings, timeout=api.backend_timeout_seconds)
    pool = BoundedPool.from_url(
        settings.redis.url, max_connections=api.redis_pool_size,
        timeout=api.redis_pool_wait_seconds, health_check_interval=30, socket_keepalive=True,
        **_fail_fast(api.backend_timeout_seconds, retries=1))
    return aioredis.Redis.from_pool(pool)  # closes the pool with the client


def _fail_fast(timeout: float, *, retries: int) -> dict[str, Any]:
    """At most ``retries`` immediate retries on a broken connection (a pooled link the
    server reset while idle reconnects on it); none on a timeout, which would double
    the wait."""
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,))}


class Lane:
    """A few dedicated connections for the read API's hottest calls (the feed page's two
    scripts), used without the client's per-command machinery.

    Why: redis-py 8 spends ~100-150 us of Python per command outside the socket (the
    pool's lock and observability records, a readiness poll of the connection, a task per
    send for the socket timeout); at two commands per feed page that was a fifth of the
    page's CPU. Here a call is: pop a connected link, write, read the reply under one
    ``asyncio.timeout``, push it back; the command is encoded by hiredis in C (redis-py
    encodes each argument in Python).

    Same failure contract as :func:`reader`: each call bounded by
    ``api.backend_timeout_seconds`` (then :class:`redis.exceptions.TimeoutError`, and the
    link is dropped, since a late reply would answer the next call), one immediate retry
    on a link the server closed while idle, and at most ``size`` links: a caller finding
    all busy waits up to ``wait_seconds`` for one, then gets MaxConnectionsError.
    Single server only (a cluster needs the cluster client's routing).
    """

    def __init__(self, url: str, *, size: int, wait_seconds: float, timeout: float) -> None:
        # No socket timeout of the connection's own: it costs a task per send
        # (asyncio.wait_for); call() bounds the whole exchange with one asyncio.timeout.
        self._kwargs: dict[str, Any] = {**aioredis.connection.parse_url(url),
                                        "socket_connect_timeout": timeout,
                                        "socket_timeout": None, "socket_keepalive": True}
        self.size = size
        self.wait_seconds = wait_seconds
        self.timeout = timeout
        self._idle: list[aioredis.Connection] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[aioredis.Connection]] = (
            collections.deque())

    @classmethod
    def for_reader(cls, settings: Settings) -> Lane:
        api = settings.api
        return cls(settings.redis.url, size=api.redis_pool_size,
                   wait_seconds=api.redis_pool_wait_seconds, timeout=api.backend_timeout_seconds)

    async def call(self, *args: Any) -> Any:
        """One command's reply (a Redis error reply is raised, as by the client)."""
        link = await self._acquire()
        try:
            for attempt in (0, 1):
                try:
                    async with asyncio.timeout(self.timeout):
                        if not link.is_connected:
                            await link.connect()
                        await link.send_packed_command(pack_command(args),
                                                       check_health=False)
                        return await link.read_response()
                except TimeoutError:
                    await link.disconnect(nowait=True)
                    raise RedisTimeoutError(f"no reply within {self.timeout} s") from None
                except (RedisConnectionError, OSError):
                    await link.disconnect(nowait=True)
                    if attempt:
                        raise
        finally:
            self._release(link)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for link in idle:
            await link.disconnect()

    async def _acquire(self) -> aioredis.Connection:
        if self._idle:
            return self._idle.pop()
        if self._open < self.size:
            self._open += 1
            return aioredis.Connection(**self._kwargs)
        waiter: asyncio.Future[aioredis.Connection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_seconds):
                return await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return waiter.result()  # handed over as the time ran out
            raise MaxConnectionsError(
                f"no Redis connection free within {self.wait_seconds} s") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _release(self, link: aioredis.Connection) -> None:
        """Hand the link to the longest waiter, or keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(link)
                return
        self._idle.append(link)
