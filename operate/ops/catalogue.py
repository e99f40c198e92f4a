"""The topic catalogue as code: what the cluster lacks (``diff``) and making it so (``apply``).

``schemas/topics.py`` declares every topic's partitions and configs; bootstrap only
creates missing topics, so an incident fix (a retention changed by hand, an extra
``segment.ms``) or a topic created by hand with too few partitions stays until someone
looks. ``diff`` is that look as a check CI or an operator can run (drift = a missing
topic, fewer partitions than declared, or a topic-level config that differs from the
catalogue, including configs the catalogue does not set); ``apply`` converges:

* missing topics are created as declared;
* partitions are *raised* to the declared count, never lowered (Kafka cannot shrink a
  topic, and deleting one is never a sync side effect);
* topic-level configs are set to exactly the catalogue's. The classic AlterConfigs
  request replaces a topic's whole dynamic config, which is what we want here: an
  undeclared override is drift too.

Deviations ``apply`` cannot fix (more partitions than declared, a lower replication
factor than settings ask for) are reported as warnings, not drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from infra.settings import Settings
from operate.ops.cluster import TopicMeta, admin_client, describe
from operate.provision.topics import apply_topics, topic_config
from schemas.topics import TOPICS, Topic

#: ``config_source`` of a DescribeConfigs entry set on the topic itself (KIP-226).
DYNAMIC_TOPIC_CONFIG = 1

DriftKind = Literal["missing", "partitions", "config"]


@dataclass(frozen=True)
class Drift:
    """One way a topic differs from its catalogue entry that ``apply`` can fix."""

    topic: str
    kind: DriftKind
    name: str
    """What differs: ``topic``, ``partitions`` or the config name."""
    have: str | None
    """The cluster's value (None: absent)."""
    want: str | None
    """The catalogue's value (None: the config should not be set on the topic)."""

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.topic}: missing (catalogue: {self.want})"
        have = "unset" if self.have is None else self.have
        want = "unset (broker default)" if self.want is None else self.want
        return f"{self.topic}: {self.name} is {have}, catalogue says {want}"


@dataclass(frozen=True)
class CatalogueDiff:
    drifts: tuple[Drift, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.drifts

    def topics(self) -> list[str]:
        return list(dict.fromkeys(d.topic for d in self.drifts))


async def topic_configs(admin: AIOKafkaAdminClient, names: Sequence[str]
                        ) -> dict[str, dict[str, tuple[str, bool]]]:
    """Every config of each topic: name -> (value, set on the topic itself)."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names]
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for response in await admin.describe_configs(resources):
        obj: dict[str, Any] = response.to_object()
        for res in obj["resources"]:
            out[res["resource_name"]] = {
                e["config_names"]: (e["config_value"],
                                    e.get("config_source") == DYNAMIC_TOPIC_CONFIG)
                for e in res["config_entries"]}
    return out


def _config_drift(topic: Topic, settings: Settings,
                  have: dict[str, tuple[str, bool]]) -> list[Drift]:
    want = topic_config(topic, settings)
    found = [Drift(topic.name, "config", k, have[k][0] if k in have else None, v)
             for k, v in want.items() if have.get(k, (None, False))[0] != v]
    found += [Drift(topic.name, "config", k, value, None)
              for k, (value, dynamic) in sorted(have.items()) if dynamic and k not in want]
    return found


def topic_drift(topic: Topic, meta: TopicMeta | None, configs: dict[str, tuple[str, bool]],
                 settings: Settings) -> tuple[list[Drift], list[str]]:
    if meta is None:
        return [Drift(topic.name, "missing", "topic", None,
                      f"{topic.partitions} partitions")], []
    drifts: list[Drift] = []
    warnings: list[str] = []
    have = len(meta.partitions)
    if have < topic.partitions:
        drifts.append(Drift(topic.name, "partitions", "partitions", str(have),
                            str(topic.partitions)))
    elif have > topic.partitions:
        warnings.append(f"{topic.name}: {have} partitions, catalogue says {topic.partitions} "
                        f"(never shrunk: Kafka cannot remove partitions)")
    if meta.replication_factor < settings.kafka.replication_factor:
        warnings.append(f"{topic.name}: replication {meta.replication_factor}, settings say "
                        f"{settings.kafka.replication_factor} (needs a reassignment)")
    drifts += _config_drift(topic, settings, configs)
    return drifts, warnings


async def _diff(admin: AIOKafkaAdminClient, settings: Settings,
                catalogue: Sequence[Topic]) -> CatalogueDiff:
    metas = await describe(admin, [t.name for t in catalogue])
    configs = await topic_configs(admin, sorted(metas))
    drifts: list[Drift] = []
    warnings: list[str] = []
    for topic in catalogue:
        d, w = topic_drift(topic, metas.get(topic.name), configs.get(topic.name, {}),
                            settings)
        drifts += d
        warnings += w
    return CatalogueDiff(tuple(drifts), tuple(warnings))


async def diff(settings: Settings, catalogue: Sequence[Topic] = TOPICS) -> CatalogueDiff:
    """How the cluster differs from ``catalogue`` (default: the photostream catalogue)."""
    async with admin_client(settings) as admin:
        return await _diff(admin, settings, catalogue)


def _raise_errors(response: Any, what: str) -> None:
    for res in response.to_object()["resources"]:
        if res["error_code"]:
            raise for_code(res["error_code"])(
                f"{what} {res['resource_name']}: {res['error_message']}")


async def apply(settings: Settings, catalogue: Sequence[Topic] = TOPICS) -> CatalogueDiff:
    """Make the cluster match ``catalogue``; returns the drift that was fixed (idempotent)."""
    by_name = {t.name: t for t in catalogue}
    async with admin_client(settings) as admin:
        before = await _diff(admin, settings, catalogue)
        missing = [by_name[d.topic] for d in before.drifts if d.kind == "missing"]
        if missing:
            await apply_topics(settings, missing)
        grow = {d.topic: NewPartitions(total_count=int(d.want or 0))
                for d in before.drifts if d.kind == "partitions"}
        if grow:
            await admin.create_partitions(grow)
        fix = sorted({d.topic for d in before.drifts if d.kind == "config"})
        if fix:
            for response in await admin.alter_configs([
                    ConfigResource(ConfigResourceType.TOPIC, name,
                                   topic_config(by_name[name], settings)) for name in fix]):
                _raise_errors(response, "alter configs of")
    return before
