"""The topic catalogue (``schemas/topics.py``) compared with what the cluster really has.

Bootstrap only creates missing topics and never alters existing ones, so drift (a topic
created by hand with other partitions, a retention changed in an incident, a topic
nobody owns) is only found by looking; this is that look, with record counts so an
operator also sees where the traffic is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.settings import Settings
from operate.ops.catalogue import topic_configs, topic_drift
from operate.ops.cluster import (
    TopicMeta,
    admin_client,
    describe,
    offset_bounds,
    partitions_of,
    reader,
    require_topic,
)
from schemas.topics import TOPICS, Topic

CONFIGS = ("cleanup.policy", "retention.ms")


@dataclass(frozen=True)
class TopicReport:
    """One topic of the catalogue and/or the cluster, and how the two disagree."""

    name: str
    catalogue: Topic | None
    partitions: int | None
    replication_factor: int | None
    cleanup_policy: str | None
    retention_ms: int | None
    records: int | None
    """Offsets currently held (end - log start): records, up to compaction and markers."""
    end_offsets: int | None
    """Sum of end offsets: everything ever appended (what lag is measured against)."""
    problems: tuple[str, ...]

    @property
    def status(self) -> str:
        return "; ".join(self.problems) if self.problems else "ok"


async def _configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, dict.fromkeys(CONFIGS))
                 for n in names]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        obj: dict[str, Any] = response.to_object()
        for res in obj["resources"]:
            out[res["resource_name"]] = {e["config_names"]: e["config_value"]
                                         for e in res["config_entries"]}
    return out


def _problems(topic: Topic | None, meta: TopicMeta | None, configs: dict[str, str],
              settings: Settings) -> tuple[str, ...]:
    if meta is None:
        return ("MISSING from cluster (run `photostream stack init`)",)
    if topic is None:
        return ("EXTRA: not in the catalogue",)
    found: list[str] = []
    if len(meta.partitions) != topic.partitions:
        found.append(f"partitions {len(meta.partitions)}, catalogue says {topic.partitions}")
    if configs.get("cleanup.policy") != topic.cleanup_policy:
        found.append(f"cleanup {configs.get('cleanup.policy')}, "
                     f"catalogue says {topic.cleanup_policy}")
    if configs.get("retention.ms") != str(topic.retention_ms):
        found.append(f"retention.ms {configs.get('retention.ms')}, "
                     f"catalogue says {topic.retention_ms}")
    if meta.replication_factor < settings.kafka.replication_factor:
        found.append(f"replication {meta.replication_factor}, "
                     f"settings say {settings.kafka.replication_factor}")
    return tuple(found)


async def topic_reports(settings: Settings, *, include_extra: bool = True) -> list[TopicReport]:
    """Every catalogue topic (in catalogue order), then cluster topics the catalogue lacks.

    Internal topics (``__consumer_offsets``) are never reported as extra.
    """
    async with admin_client(settings) as admin:
        metas = {n: m for n, m in (await describe(admin)).items() if not m.internal}
        configs = await _configs(admin, sorted(metas))
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, partitions_of(metas.values()))
    catalogue = {t.name: t for t in TOPICS}
    names = [t.name for t in TOPICS]
    if include_extra:
        names += sorted(n for n in metas if n not in catalogue)
    reports = []
    for name in names:
        meta, conf = metas.get(name), configs.get(name, {})
        ends = [end[tp] for tp in partitions_of([meta])] if meta else []
        starts = [start[tp] for tp in partitions_of([meta])] if meta else []
        retention = conf.get("retention.ms")
        reports.append(TopicReport(
            name=name,
            catalogue=catalogue.get(name),
            partitions=len(meta.partitions) if meta else None,
            replication_factor=meta.replication_factor if meta else None,
            cleanup_policy=conf.get("cleanup.policy"),
            retention_ms=int(retention) if retention is not None else None,
            records=sum(ends) - sum(starts) if meta else None,
            end_offsets=sum(ends) if meta else None,
            problems=_problems(catalogue.get(name), meta, conf, settings),
        ))
    return reports


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    log_start: int
    end: int


@dataclass(frozen=True)
class TopicDescription:
    """Everything about one topic: its catalogue entry, partitions, configs and drift."""

    name: str
    catalogue: Topic | None
    partitions: tuple[PartitionInfo, ...]
    dynamic_configs: dict[str, str]
    """Configs set on the topic itself (the rest are broker defaults)."""
    drift: tuple[str, ...]


async def describe_topic(settings: Settings, name: str) -> TopicDescription:
    """One topic in detail (``OpsError`` if the cluster has no such topic)."""
    catalogue = {t.name: t for t in TOPICS}.get(name)
    async with admin_client(settings) as admin:
        meta = await require_topic(admin, name)
        raw: list[dict[str, Any]] = await admin.describe_topics([name])
        configs = (await topic_configs(admin, [name])).get(name, {})
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, partitions_of([meta]))
    parts = sorted(raw[0]["partitions"], key=lambda p: p["partition"])
    drift: list[str] = []
    if catalogue is not None:
        found, warnings = topic_drift(catalogue, meta, configs, settings)
        drift = [*map(str, found), *warnings]
    return TopicDescription(
        name=name,
        catalogue=catalogue,
        partitions=tuple(
            PartitionInfo(p["partition"], p["leader"], tuple(p["replicas"]), tuple(p["isr"]),
                          start[tp], end[tp])
            for p in parts for tp in [TopicPartition(name, p["partition"])]),
        dynamic_configs={k: v for k, (v, dynamic) in sorted(configs.items()) if dynamic},
        drift=tuple(drift),
    )
