"""Which failures are the record's fault and which are the infrastructure's.

The distinction drives the runtime: an infrastructure failure (a store or broker
unreachable or timing out) must never dead-letter a good record; it is retried with
backoff and the batch is not committed. Anything else is the record's problem.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NodeNotReadyError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import ErrorMessage
from minio.error import ServerError
from redis.exceptions import ClusterError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from urllib3.exceptions import HTTPError as Urllib3HTTPError

TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NotEnoughReplicasError,
    # A broker died: its partitions move to another leader within seconds.
    NotEnoughReplicasAfterAppendError,
    NotLeaderForPartitionError,
    LeaderNotAvailableError,
    NodeNotReadyError,
    RequestTimedOutError,
    NoHostAvailable,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    RedisConnectionError,
    RedisTimeoutError,
    # Redis Cluster while a replica takes over a dead master (CLUSTERDOWN, TRYAGAIN,
    # "TTL exhausted", a slot briefly without an owner).
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
    ServerError,
    Urllib3HTTPError,
)


#: Cassandra's CAS_WRITE_UNKNOWN (protocol v5): a lightweight transaction's Paxos round
#: reached too few replicas to know whether it applied, which happens under contention
#: or while a node is down. The driver has no class for it (a bare ``ErrorMessage``
#: "[Unknown]"); our LWTs are idempotent, so trying again is the answer.
CAS_WRITE_UNKNOWN = 0x1700


def is_transient(exc: BaseException) -> bool:
    """True when retrying later can succeed without anything about the record changing."""
    if isinstance(exc, ErrorMessage) and exc.code == CAS_WRITE_UNKNOWN:
        return True
    return isinstance(exc, TRANSIENT)
