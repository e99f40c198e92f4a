"""Short-lived Kafka clients and metadata look-ups shared by the ops modules.

Operator commands run once and exit, so each opens its clients, does its reads and
closes them; nothing here is cached between calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from infra.connect import kafka
from infra.settings import Settings
from operate.ops import OpsError

UNKNOWN_TOPIC = 3


async def _start(client: AIOKafkaAdminClient | AIOKafkaConsumer, settings: Settings) -> None:
    """Start a Kafka client, turning "unreachable" into the one-line operator error."""
    try:
        await client.start()
    except KafkaError as exc:
        raise OpsError(f"cannot reach Kafka at {kafka.bootstrap(settings)}: {exc}") from None


@asynccontextmanager
async def admin_client(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = kafka.admin(settings)
    await _start(admin, settings)
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def reader(settings: Settings, group_id: str | None = None
                 ) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer for offset look-ups and manual reads (``assign``, never ``subscribe``).

    Without ``group_id`` it uses a group name it never commits to, so it leaves no
    consumer group behind; with one (``reset-offsets``) its commits land in that group.
    """
    consumer = kafka.consumer(
        settings, group_id=group_id or f"{settings.kafka.client_id}-ops-reader")
    await _start(consumer, settings)
    try:
        yield consumer
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class TopicMeta:
    """What cluster metadata says about one topic."""

    name: str
    partitions: tuple[int, ...]
    replication_factor: int
    internal: bool


async def describe(admin: AIOKafkaAdminClient, topics: Sequence[str] | None = None
                   ) -> dict[str, TopicMeta]:
    """Metadata of ``topics`` (None: every topic); topics the cluster lacks are left out."""
    found: dict[str, TopicMeta] = {}
    raw: list[dict[str, Any]] = await admin.describe_topics(
        list(topics) if topics is not None else None)
    for t in raw:
        if t["error_code"] == UNKNOWN_TOPIC or not t["partitions"]:
            continue
        parts = sorted(p["partition"] for p in t["partitions"])
        rf = min(len(p["replicas"]) for p in t["partitions"])
        found[t["topic"]] = TopicMeta(t["topic"], tuple(parts), rf, bool(t["is_internal"]))
    return found


async def require_topic(admin: AIOKafkaAdminClient, topic: str) -> TopicMeta:
    """The metadata of ``topic``, or a one-line OpsError if the cluster has no such topic."""
    meta = (await describe(admin, [topic])).get(topic)
    if meta is None:
        raise OpsError(f"topic {topic} does not exist in the cluster "
                       f"(see `photostream topics list`)")
    return meta


def partitions_of(metas: Iterable[TopicMeta]) -> list[TopicPartition]:
    return [TopicPartition(m.name, p) for m in metas for p in m.partitions]


async def offset_bounds(consumer: AIOKafkaConsumer, tps: Sequence[TopicPartition]
                        ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(log start, end) offsets of ``tps``: end is the last stable offset (read_committed)."""
    if not tps:
        return {}, {}
    start = await consumer.beginning_offsets(list(tps))
    end = await consumer.end_offsets(list(tps))
    return dict(start), dict(end)
