"""Fixtures for the cluster tests (``make test-cluster``): the local multi-node cluster.

These tests start 3 Kafka brokers, 3 Cassandra nodes and a 6-node Redis Cluster and kill
nodes on purpose, so they never run in the plain ``pytest`` of ``make test`` (its
testpaths leave this folder out) and are not even collected unless
``PHOTOSTREAM_CLUSTER_TESTS=1``. The test process and every service it starts get the
cluster's ``PHOTOSTREAM_*`` environment (operate/stack/cluster.py), so the code under test
is the same code, only pointed at more nodes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from cassandra.cluster import Session

from infra.connect import cassandra
from infra.settings import Settings, get_settings
from operate.stack import cluster
from tests.cluster.fleet import Fleet

ENABLED = os.environ.get("PHOTOSTREAM_CLUSTER_TESTS") == "1"
if ENABLED:
    # Module-level settings (sinks.statements) and get_settings() must see the cluster.
    os.environ.update(cluster.cluster_environment())
    get_settings.cache_clear()
else:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return cluster.cluster_settings()


@pytest.fixture(scope="session")
async def stack(settings: Settings) -> AsyncIterator[Settings]:
    """The running cluster (started here if needed, never stopped here), schema applied."""
    report = await cluster.up(settings)
    rss = cluster.total_rss(settings) / 1024**2
    print(f"\ncluster ready in {report.total_seconds:.1f} s, total rss {rss:.0f} MiB")
    yield settings


@pytest.fixture(scope="session")
def service_env(stack: Settings) -> Iterator[dict[str, str]]:
    """Environment for service subprocesses: the cluster's, quiet logs, and a 10 s Kafka
    session timeout (instead of 30 s) so a SIGKILLed copy's partitions move sooner. No
    upload rate limit: one author streams uploads through every node loss."""
    yield {**os.environ, **cluster.cluster_environment(), "PHOTOSTREAM_LOG_LEVEL": "WARNING",
           "PHOTOSTREAM_KAFKA_SESSION_TIMEOUT_MS": "10000", "PHOTOSTREAM_RATE_UPLOADS": "0"}


@pytest.fixture(scope="session")
def session(stack: Settings) -> Iterator[Session]:
    nodes = cassandra.cluster(stack)
    yield nodes.connect(stack.cassandra.keyspace)
    nodes.shutdown()


@pytest.fixture
async def fleet(service_env: dict[str, str], stack: Settings) -> AsyncIterator[Fleet]:
    """Service copies of one test, stopped (SIGTERM) at its end."""
    fleet = Fleet(service_env, stack.stack.state_dir / "logs" / "tests")
    yield fleet
    await fleet.close()
