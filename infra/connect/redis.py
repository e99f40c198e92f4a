"""Redis client from settings: a single server or a Redis Cluster, same interface.

Keys that must live together (one timeline and its metadata) use a ``{hash tag}`` so
that scripts and pipelines touching them stay on one cluster slot.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from infra.settings import Settings

RedisClient: TypeAlias = aioredis.Redis | RedisCluster


def client(settings: Settings, *, decode_responses: bool = False,
           fail_after: float | None = None) -> RedisClient:
    """``fail_after`` (seconds) bounds connect and each reply and makes one attempt, no
    retries: for callers that would rather go on without Redis than wait for it (the rate
    limiter fails open)."""
    options: dict[str, Any] = {}
    if fail_after is not None:
        options = {"socket_timeout": fail_after, "socket_connect_timeout": fail_after,
                   "retry": Retry(NoBackoff(), 0)}
    if settings.redis.cluster:
        return RedisCluster.from_url(settings.redis.url, decode_responses=decode_responses,
                                     **options)
    return aioredis.Redis.from_url(
        settings.redis.url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
        **options,
    )
