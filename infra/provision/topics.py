"""Apply the declarative topic catalogue (``schemas/topics.py``) to Kafka.

Missing topics are created with their partition count, cleanup policy and retention;
existing ones are left as they are (changing partitions of a live keyed topic would
re-route keys, which is an operator decision, not a bootstrap side effect).
"""

from __future__ import annotations

from aiokafka.admin import NewTopic
from schemas.topics import CATALOGUE, Topic

from infra.connect import kafka
from infra.settings import Settings


def topic_config(topic: Topic, settings: Settings) -> dict[str, str]:
    config = {
        "cleanup.policy": topic.cleanup_policy,
        "min.insync.replicas": str(min(settings.kafka.min_insync_replicas,
                                       settings.kafka.replication_factor)),
    }
    if topic.retention_ms is not None:
        config["retention.ms"] = str(topic.retention_ms)
    return config


async def apply_topics(settings: Settings) -> list[str]:
    """Create every catalogue topic that does not exist yet; returns the ones created."""
    admin = kafka.admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in CATALOGUE if t.name not in existing]
        if missing:
            await admin.create_topics([
                NewTopic(
                    name=t.name,
                    num_partitions=t.partitions,
                    replication_factor=settings.kafka.replication_factor,
                    topic_configs=topic_config(t, settings),
                )
                for t in missing
            ])
        return [t.name for t in missing]
    finally:
        await admin.close()
