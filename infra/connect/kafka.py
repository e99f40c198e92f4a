"""Kafka clients built from settings: the only place that knows how we talk to brokers."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from infra.settings import Settings


def bootstrap(settings: Settings) -> str:
    return ",".join(settings.kafka.bootstrap_servers)


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer: ``acks=all``, retries without duplicates, batched with linger.

    ``send_and_wait`` on it returns only once every in-sync replica has the record, which
    is what "accepted" means for an upload.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "client_id": settings.kafka.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.kafka.linger_ms,
        "max_batch_size": 256 * 1024,
        "compression_type": (None if settings.kafka.compression == "none"
                             else settings.kafka.compression),
        "request_timeout_ms": settings.kafka.request_timeout_ms,
        "retry_backoff_ms": 200,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(settings: Settings, *topics: str, group_id: str, **overrides: Any) -> AIOKafkaConsumer:
    """A group consumer with auto-commit off: processors commit after outputs are durable.

    Range assignment gives partition N of every subscribed topic to the same member, so
    co-partitioned topics (all keyed by photo id, same partition count) keep one owner
    per photo across topics when a processor runs as several instances.

    ``metadata_max_age_ms`` is 10 s instead of 5 min: when a partition without a
    committed offset is reset while its leader moves (a restarted broker taking its
    partitions back, Kafka's preferred-leader rebalance), aiokafka 0.14 retries the
    ListOffsets on ``NotLeaderForPartition`` without refreshing metadata, so it spins
    on the old leader until the next periodic refresh. Seen on the local cluster: a
    processor copy logged 21 700 such errors over ~4 min and processed nothing meanwhile.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "client_id": f"{settings.kafka.client_id}-{group_id}",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 500,
        "session_timeout_ms": settings.kafka.session_timeout_ms,
        "heartbeat_interval_ms": max(100, settings.kafka.session_timeout_ms // 10),
        "max_poll_interval_ms": 300_000,
        "metadata_max_age_ms": 10_000,
        "partition_assignment_strategy": (RangePartitionAssignor,),
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap(settings),
        client_id=f"{settings.kafka.client_id}-admin",
        request_timeout_ms=30_000,
    )
