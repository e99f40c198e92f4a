"""Block and mute events: one account (``user_id``) hiding another (``target_id``).

A block is mutual in effect: the two accounts stop seeing each other's posts,
comments, likes and stories, and the follow edges between them are removed (the
blocks processor publishes the two ``follow.removed`` events, which the graph
processor applies on its usual path so the counts stay exact). A mute is one-way and
quiet: it only hides ``target_id``'s posts from ``user_id``'s home feed.

All four events name the acting account ``user_id``, the topic's key, so one consumer
is the single writer of an account's block and mute lists and sees its block and
unblock of the same target in order.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.common import Id
from schemas.payload import Payload, register


class _Relation(Payload, frozen=True):
    """Who acts (``user_id``) on whom (``target_id``)."""

    user_id: Id
    target_id: Id


@register
class BlockAdded(_Relation, frozen=True):
    """``user_id`` blocked ``target_id``: neither sees the other; follow edges go."""

    TYPE: ClassVar[str] = "block.added"
    VERSION: ClassVar[int] = 1


@register
class BlockRemoved(_Relation, frozen=True):
    """``user_id`` unblocked ``target_id`` (removed follow edges are not restored)."""

    TYPE: ClassVar[str] = "block.removed"
    VERSION: ClassVar[int] = 1


@register
class MuteAdded(_Relation, frozen=True):
    """``user_id`` muted ``target_id``: their posts leave ``user_id``'s home feed."""

    TYPE: ClassVar[str] = "mute.added"
    VERSION: ClassVar[int] = 1


@register
class MuteRemoved(_Relation, frozen=True):
    """``user_id`` unmuted ``target_id``: their posts are back in the home feed."""

    TYPE: ClassVar[str] = "mute.removed"
    VERSION: ClassVar[int] = 1
