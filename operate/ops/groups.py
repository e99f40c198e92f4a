"""Consumer groups: which ones are ours, and who is in a group right now.

A processor's consumer group is its class's ``name`` (``photostream-media``); operators
type the short registry name (``media``), so both are accepted everywhere.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from processors.registry import PROCESSORS


@dataclass(frozen=True)
class ProcessorGroup:
    """A processor of ``processors/registry.py``: its consumer group and its topics."""

    short_name: str
    group: str
    topics: tuple[str, ...]


def processor_groups() -> list[ProcessorGroup]:
    """Every registered processor, read from the classes (not instantiated: no clients)."""
    groups = []
    for short, path in PROCESSORS.items():
        module, cls_name = path.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        groups.append(ProcessorGroup(short, cls.name, tuple(cls.topics)))
    return groups


def group_name(name: str) -> str:
    """``media`` -> ``photostream-media``; anything else (a full group name) unchanged."""
    for pg in processor_groups():
        if name == pg.short_name:
            return pg.group
    return name


@dataclass(frozen=True)
class GroupState:
    """The coordinator's view of a group: ``Stable``/``Empty``/``Dead``/... and its members."""

    state: str
    members: int


async def group_state(admin: AIOKafkaAdminClient, group: str) -> GroupState:
    """Describe ONE group per request: aiokafka 0.14 parses a v3 DescribeGroups response
    with the v2 schema (it drops ``authorized_operations``), so every group after the
    first in one response comes back garbled."""
    responses = await admin.describe_consumer_groups([group])
    obj: dict[str, Any] = responses[0].to_object()
    described = obj["groups"][0]
    if described["group"] != group or described["error_code"]:
        return GroupState("Dead", 0)
    return GroupState(described["state"] or "Dead", len(described["members"]))
