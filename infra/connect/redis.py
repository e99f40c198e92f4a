"""Redis client from settings: a single server or a Redis Cluster, same interface.

Keys that must live together (one timeline and its metadata) use a ``{hash tag}`` so
that scripts and pipelines touching them stay on one cluster slot.
"""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from infra.settings import Settings

RedisClient: TypeAlias = aioredis.Redis | RedisCluster


def client(settings: Settings, *, decode_responses: bool = False) -> RedisClient:
    if settings.redis.cluster:
        return RedisCluster.from_url(settings.redis.url, decode_responses=decode_responses)
    return aioredis.Redis.from_url(
        settings.redis.url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
    )
