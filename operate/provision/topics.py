"""Apply the declarative topic catalogue (``schemas/topics.py``) to Kafka.

Missing topics are created with their partition count, cleanup policy and retention;
existing ones are left as they are (changing partitions of a live keyed topic would
re-route keys, which is an operator decision, not a bootstrap side effect).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.admin import NewTopic

from infra.connect import kafka
from infra.settings import Settings
from schemas.topics import TOPICS, Topic


def topic_config(topic: Topic, settings: Settings) -> dict[str, str]:
    min_isr = min(settings.kafka.min_insync_replicas, settings.kafka.replication_factor)
    return {**topic.config(), "min.insync.replicas": str(min_isr)}


def new_topic(topic: Topic, settings: Settings) -> NewTopic:
    """The create request for ``topic``: catalogue partitions/configs, replication from settings."""
    return NewTopic(
        name=topic.name,
        num_partitions=topic.partitions,
        replication_factor=settings.kafka.replication_factor,
        topic_configs=topic_config(topic, settings),
    )


async def apply_topics(settings: Settings, catalogue: Sequence[Topic] = TOPICS) -> list[str]:
    """Create every catalogue topic that does not exist yet; returns the ones created."""
    admin = kafka.admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in catalogue if t.name not in existing]
        if missing:
            await admin.create_topics([new_topic(t, settings) for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
