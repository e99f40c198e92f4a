"""Project-wide fixtures: the real local stack, started once per test run.

``stack`` brings Kafka, Cassandra, MinIO and Redis up through the same launcher users
run (``photostream stack up``), reusing servers that already run, and applies topics,
migrations and buckets. Client fixtures connect to those real servers: nothing here
is a fake.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest
from cassandra.cluster import Session
from minio import Minio

from infra.connect import cassandra, s3
from infra.connect import redis as redis_connect
from infra.connect.redis import RedisClient
from infra.settings import Settings, get_settings
from operate.stack import manager


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests that stop and restart the shared stack last, so they disturb nobody.

    Also refuse a test that uses the ``stack`` fixture without the ``stack`` marker:
    ``pytest -m "not stack"`` promises the pure tests alone, with no server started.
    """
    unmarked = [item.nodeid for item in items if "stack" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("stack") is None]
    if unmarked:
        raise pytest.UsageError("these tests use the stack but are not marked "
                                "(pytestmark = pytest.mark.stack): " + ", ".join(unmarked))
    items.sort(key=lambda item: item.get_closest_marker("lifecycle") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lifecycle: stops/restarts the shared stack; runs last")
    config.addinivalue_line("markers", "stack: needs the running stack (Kafka, Cassandra, "
                                       "MinIO, Redis); deselect with -m 'not stack'")


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The environment's settings without the per-address sign-in and sign-up limits:
    every test signs in from 127.0.0.1 and concurrent runs on one machine share its Redis
    counter (tests/integration/test_rate_limits.py sets the limits it tests)."""
    settings = get_settings()
    return dataclasses.replace(settings, rate=dataclasses.replace(
        settings.rate, sign_ins=0, sign_ups=0))


@pytest.fixture(scope="session")
async def stack(settings: Settings) -> AsyncIterator[Settings]:
    """The running local stack (started here if needed), with the schema applied."""
    await manager.up(settings)
    yield settings


@pytest.fixture(scope="session")
def cassandra_session(stack: Settings) -> Iterator[Session]:
    cluster = cassandra.cluster(stack)
    session = cluster.connect(stack.cassandra.keyspace)
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def s3_client(stack: Settings) -> Minio:
    return s3.client(stack)


@pytest.fixture
async def redis_client(stack: Settings) -> AsyncIterator[RedisClient]:
    client = redis_connect.client(stack)
    yield client
    await client.aclose()
