"""The read API's process-wide objects, opened once by the app's lifespan.

One Cassandra session (the driver pools connections and prepares statements once per
session) and one Redis client per process; everything else is stateless on top.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cassandra.cluster import Session
from minio import Minio

from api.cards import Cards
from api.feed import FeedReader
from api.views import Views
from infra.connect import cassandra, s3
from infra.connect import redis as redis_connect
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
    #: The SDK client, used only by the benchmark's naive baseline route.
    naive_s3: Minio

    @classmethod
    async def open(cls, settings: Settings) -> ReadService:
        session = await asyncio.to_thread(cassandra.connect, settings)
        redis = redis_connect.client(settings)
        views = Views(session, redis)
        urls = MediaUrls.from_settings(settings)
        return cls(settings=settings, session=session, redis=redis, views=views,
                   cards=Cards(views, urls), feed=FeedReader(session, redis, settings,
                                                             views=views), urls=urls,
                   identities=Identities(session, redis, settings),
                   naive_s3=s3.client(settings))

    async def close(self) -> None:
        await self.redis.aclose()
        await asyncio.to_thread(self.session.cluster.shutdown)
