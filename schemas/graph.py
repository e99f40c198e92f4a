"""Follow-graph events: one edge ``follower_id -> followee_id`` changing state.

Public accounts are followed with ``follow.approved`` directly; private accounts get a
``follow.requested`` first, then ``follow.approved`` or ``follow.rejected`` by the
followee. ``follow.removed`` is an unfollow (or the followee removing a follower).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schemas.common import Id
from schemas.payload import Payload, register


@dataclass(frozen=True, slots=True)
class _Edge(Payload):
    """The two ends of a follow edge."""

    follower_id: Id
    followee_id: Id


@register
@dataclass(frozen=True, slots=True)
class FollowRequested(_Edge):
    """``follower_id`` asked to follow the private account ``followee_id``."""

    TYPE: ClassVar[str] = "follow.requested"
    VERSION: ClassVar[int] = 1


@register
@dataclass(frozen=True, slots=True)
class FollowApproved(_Edge):
    """The edge is active: ``follower_id`` now sees ``followee_id``'s posts."""

    TYPE: ClassVar[str] = "follow.approved"
    VERSION: ClassVar[int] = 1


@register
@dataclass(frozen=True, slots=True)
class FollowRejected(_Edge):
    """The followee declined a pending request."""

    TYPE: ClassVar[str] = "follow.rejected"
    VERSION: ClassVar[int] = 1


@register
@dataclass(frozen=True, slots=True)
class FollowRemoved(_Edge):
    """An active edge (or pending request) is gone."""

    TYPE: ClassVar[str] = "follow.removed"
    VERSION: ClassVar[int] = 1
