"""Running one Lua script many times in a single pipelined round trip.

Why this exists: a pipeline cannot load a script lazily the way ``Script.__call__``
does on a plain client (and a cluster node may have restarted or failed over without
it), so callers EVALSHA in a non-transactional pipeline and, on NOSCRIPT, load the
script and resend only the calls that failed. Every script sent through here must be
idempotent, so a resend is harmless.

On Redis Cluster, redis-py refuses EVALSHA in a cluster pipeline ("Calling pipelined
function evalsha is blocked when running redis in cluster mode"), so there the calls
go one by one, ``concurrency`` in flight: the cluster client routes each call to the
node of its keys' slot (every call's keys share one slot) and follows MOVED/ASK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from infra.connect.redis import RedisClient

Call = tuple[Sequence[str], Sequence[Any]]


async def evalsha_many(redis: RedisClient, script: AsyncScript,
                       calls: Sequence[Call]) -> list[Any]:
    """The result of ``script`` for each ``(keys, args)`` call, in order."""
    if isinstance(redis, RedisCluster):
        return await _concurrent(redis, script, calls)
    out: list[Any] = [None] * len(calls)
    pending = list(range(len(calls)))
    for _attempt in range(3):
        if not pending:
            return out
        pipe = redis.pipeline(transaction=False)
        for i in pending:
            keys, args = calls[i]
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        results = await pipe.execute(raise_on_error=False)
        retry: list[int] = []
        for i, result in zip(pending, results, strict=True):
            if isinstance(result, NoScriptError):
                retry.append(i)
            elif isinstance(result, BaseException):
                raise result
            else:
                out[i] = result
        if retry:
            await redis.script_load(script.script)
        pending = retry
    if pending:
        raise NoScriptError("script still missing after reloading it")
    return out


async def _concurrent(redis: RedisCluster, script: AsyncScript, calls: Sequence[Call],
                      concurrency: int = 64) -> list[Any]:
    """Cluster mode: one EVALSHA per call, at most ``concurrency`` in flight."""
    gate = asyncio.Semaphore(concurrency)

    async def one(keys: Sequence[str], args: Sequence[Any]) -> Any:
        async with gate:
            for _attempt in range(3):
                try:
                    return await redis.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:
                    # A promoted replica or restarted node may lack it: load everywhere.
                    await redis.script_load(script.script)
            raise NoScriptError("script still missing after reloading it")

    return list(await asyncio.gather(*(one(keys, args) for keys, args in calls)))
