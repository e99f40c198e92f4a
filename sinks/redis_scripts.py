"""Running one Lua script many times in a single pipelined round trip.

Why this exists: a pipeline cannot load a script lazily the way ``Script.__call__``
does on a plain client (and a cluster node may have restarted or failed over without
it), so callers EVALSHA in a non-transactional pipeline and, on NOSCRIPT, load the
script and resend only the calls that failed. Every script sent through here must be
idempotent, so a resend is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from infra.connect.redis import RedisClient

Call = tuple[Sequence[str], Sequence[Any]]


async def evalsha_many(redis: RedisClient, script: AsyncScript,
                       calls: Sequence[Call]) -> list[Any]:
    """The result of ``script`` for each ``(keys, args)`` call, in order."""
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
