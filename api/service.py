"""The read API's process-wide objects, opened once by the app's lifespan.

One Cassandra session (the driver pools connections and prepares statements once per
session) and one Redis client per process; everything else is stateless on top. Both
clients fail fast (``api.backend_timeout_seconds``): see :mod:`api.failsafe`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cassandra.cluster import Session
from minio import Minio

from api.cards import Cards
from api.feed import FeedReader
from api.live import LiveHub
from api.notifications import NotificationReader
from api.views import Views
from infra.connect import cassandra, s3
from infra.connect import redis as redis_connect
from infra.connect.outages import CASSANDRA, REDIS
from infra.connect.redis import RedisClient
from infra.settings import Settings
from sinks.identity import Identities
from sinks.media_urls import MediaUrls


@dataclass
class ReadService:
    settings: Settings
    session: Session
    redis: RedisClient
    views: Views
    cards: Cards
    feed: FeedReader
    urls: MediaUrls
    identities: Identities
    notifications: NotificationReader
    live: LiveHub
    #: The SDK client, used only by the benchmark's naive baseline route.
    naive_s3: Minio

    @classmethod
    async def open(cls, settings: Settings) -> ReadService:
        session = await asyncio.to_thread(cassandra.connect_reader, settings)
        redis = redis_connect.reader(settings)
        views = Views(session, redis)
        urls = MediaUrls.from_settings(settings)
        cards = Cards(views, urls)
        notifications = NotificationReader(settings, views, cards)
        return cls(settings=settings, session=session, redis=redis, views=views,
                   cards=cards, feed=FeedReader(session, redis, settings,
                                                views=views), urls=urls,
                   identities=Identities(session, redis, settings),
                   notifications=notifications, live=LiveHub(settings, notifications),
                   naive_s3=s3.client(settings))

    async def backends(self) -> dict[str, str | None]:
        """Per store, None if it answers a real request in time, else the error's name."""
        async def redis() -> None:
            await self.redis.ping()

        async def cassandra_probe() -> None:
            await cassandra.execute(self.session, "SELECT release_version FROM system.local")

        probes = {REDIS: redis, CASSANDRA: cassandra_probe}
        bound = 2 * self.settings.api.backend_timeout_seconds
        results = await asyncio.gather(*(asyncio.wait_for(probe(), bound)
                                         for probe in probes.values()), return_exceptions=True)
        return {name: type(result).__name__ if isinstance(result, BaseException) else None
                for name, result in zip(probes, results, strict=True)}

    async def close(self) -> None:
        await self.live.close()
        await self.redis.aclose()
        await asyncio.to_thread(self.session.cluster.shutdown)
