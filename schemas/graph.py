"""Follow-graph events: one edge ``follower_id -> followee_id`` changing state.

Public accounts are followed with ``follow.approved`` directly; private accounts get a
``follow.requested`` first, then ``follow.approved`` or ``follow.rejected`` by the
followee. ``follow.removed`` is an unfollow (or the followee removing a follower).
"""

from __future__ import annotations

from typing import ClassVar

from schemas.common import Id
from schemas.payload import Payload, register


class _Edge(Payload, frozen=True):
    """The two ends of a follow edge."""

    follower_id: Id
    followee_id: Id


@register
class FollowRequested(_Edge, frozen=True):
    """``follower_id`` asked to follow the private account ``followee_id``."""

    TYPE: ClassVar[str] = "follow.requested"
    VERSION: ClassVar[int] = 1


@register
class FollowApproved(_Edge, frozen=True):
    """The edge is active: ``follower_id`` now sees ``followee_id``'s posts."""

    TYPE: ClassVar[str] = "follow.approved"
    VERSION: ClassVar[int] = 1


@register
class FollowRejected(_Edge, frozen=True):
    """The followee declined a pending request."""

    TYPE: ClassVar[str] = "follow.rejected"
    VERSION: ClassVar[int] = 1


@register
class FollowRemoved(_Edge, frozen=True):
    """An active edge (or pending request) is gone."""

    TYPE: ClassVar[str] = "follow.removed"
    VERSION: ClassVar[int] = 1


@register
class FollowingChanged(_Edge, frozen=True):
    """Internal: edge ``follower_id -> followee_id`` was just applied to ``followers``.

    Published by the graph processor (the followee's single writer) for every edge a run
    touched, keyed by the follower, so that the owner of the follower's partition mirrors
    it into ``following``. It names the edge, not its state: the owner reads the state
    from ``followers`` (the source of truth, written before this was published), so a
    duplicate, a late copy from a zombie or a replay can never set a stale state.
    """

    TYPE: ClassVar[str] = "following.changed"
    VERSION: ClassVar[int] = 1
