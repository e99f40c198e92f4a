"""Which errors a read survives, and the per-request record of the ones it survived."""

from __future__ import annotations

import asyncio

import pytest
from cassandra import OperationTimedOut, ReadTimeout
from cassandra.cluster import NoHostAvailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infra import degraded
from infra.connect.outages import CASSANDRA, REDIS, overloaded, unreachable


@pytest.mark.parametrize(("exc", "backend"), [
    (RedisConnectionError("reset"), REDIS),
    (RedisTimeoutError("silent"), REDIS),
    (NoHostAvailable("none", {}), CASSANDRA),
    (OperationTimedOut("silent"), CASSANDRA),
    (ReadTimeout("replicas"), CASSANDRA),
    (MaxConnectionsError("Too many connections"), None),  # overload, not an outage
    (ResponseError("WRONGTYPE"), None),  # a bug, never papered over
    (ValueError("bug"), None),
])
def test_unreachable_names_the_backend_only_for_outages(exc: Exception,
                                                        backend: str | None) -> None:
    assert unreachable(exc) == backend


def test_a_full_pool_is_overload() -> None:
    assert overloaded(MaxConnectionsError("Too many connections"))
    assert not overloaded(RedisConnectionError("reset"))


def test_survived_notes_only_the_named_backends() -> None:
    with degraded.scope() as missing:
        assert degraded.survived(RedisConnectionError("reset"), REDIS)
        assert not degraded.survived(NoHostAvailable("none", {}), REDIS)
        assert not degraded.survived(ValueError("bug"), REDIS, CASSANDRA)
    assert missing == {REDIS}


def test_noting_outside_a_request_is_a_no_op() -> None:
    degraded.note(REDIS)  # a processor reading through the cache: nothing to flag


async def test_tasks_of_a_request_share_its_record() -> None:
    async def fails() -> list[int]:
        raise RedisTimeoutError("silent")

    async def fallback() -> list[int]:
        return [1]

    with degraded.scope() as missing:
        found = await asyncio.gather(degraded.or_else(fails(), REDIS, fallback))
    assert found == [[1]]
    assert missing == {REDIS}


async def test_or_else_reraises_what_it_does_not_survive() -> None:
    async def fails() -> int:
        raise ResponseError("NOSCRIPT")

    async def fallback() -> int:
        return 0

    with pytest.raises(ResponseError):
        await degraded.or_else(fails(), REDIS, fallback)
