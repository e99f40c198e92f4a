"""A Processor base that owns a Cassandra session (and optionally Redis and a publisher).

Why a base: the social processors differ only in ``handle``; opening the session in a
worker thread (the driver connects synchronously) and shutting its cluster down on
stop is the same for all of them.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from cassandra.cluster import Session

from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.connect.publisher import Publisher
from infra.connect.redis import RedisClient
from processors.runtime import Processor

#: Lock stripes: events of one entity arriving on different partitions serialize here.
STRIPES = 1024


class StoreProcessor(Processor):
    """Processor with ``self.session`` (Cassandra); if ``uses_redis``, ``self.redis``; if
    ``publishes`` (it emits events of its own), ``self.publisher``."""

    uses_redis: ClassVar[bool] = False
    publishes: ClassVar[bool] = False
    _session: Session | None = None
    _redis: RedisClient | None = None
    _publisher: Publisher | None = None

    async def start(self) -> None:
        self._session = await asyncio.to_thread(cassandra.connect, self.settings)
        if self.uses_redis:
            self._redis = redis_connect.client(self.settings)
        if self.publishes:
            self._publisher = Publisher(self.settings)
            await self._publisher.start()
        self._locks = [asyncio.Lock() for _ in range(STRIPES)]

    async def stop(self) -> None:
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            await publisher.stop()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._session is not None:
            session, self._session = self._session, None
            await asyncio.to_thread(session.cluster.shutdown)

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError(f"{self.name}: start() was not awaited")
        return self._session

    @property
    def redis(self) -> RedisClient:
        if self._redis is None:
            raise RuntimeError(f"{self.name}: no Redis client (uses_redis is False?)")
        return self._redis

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            raise RuntimeError(f"{self.name}: no publisher (publishes is False?)")
        return self._publisher

    def lock(self, entity_id: int) -> asyncio.Lock:
        """The lock serializing this process's work on one photo or user."""
        return self._locks[entity_id % STRIPES]
