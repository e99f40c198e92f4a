"""Which failures are retried forever (infrastructure) and which may be dead-lettered."""

from __future__ import annotations

from aiokafka.errors import NotLeaderForPartitionError
from cassandra.protocol import ErrorMessage
from redis.exceptions import ClusterDownError, ResponseError, TryAgainError

from processors.errors import CAS_WRITE_UNKNOWN, is_transient


def test_failover_errors_of_a_cluster_are_transient() -> None:
    assert is_transient(NotLeaderForPartitionError())
    assert is_transient(ClusterDownError("CLUSTERDOWN The cluster is down"))
    assert is_transient(TryAgainError("TRYAGAIN"))
    assert is_transient(ErrorMessage(CAS_WRITE_UNKNOWN, "CAS operation result is unknown", {}))


def test_a_record_fault_is_not_transient() -> None:
    assert not is_transient(ValueError("bad payload"))
    assert not is_transient(ResponseError("WRONGTYPE"))
    assert not is_transient(ErrorMessage(0x2200, "Invalid query", {}))
