"""Consumer groups: who is in a group right now.

Which groups are ours, and the short names operators type for them (``media`` for
``photostream-media``), is the catalogue's: :data:`schemas.topics.CONSUMER_GROUPS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient


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
