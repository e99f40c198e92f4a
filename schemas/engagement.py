"""Engagement events: likes, comments and stories.

Likes and comments carry the photo's ``owner_id`` so notifications and per-owner
counters need no lookup of the photo.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.common import CommentText, Id, ObjectKey
from schemas.model import Time, read_times
from schemas.payload import Payload, register


class _Like(Payload, frozen=True):
    """Who likes which photo, and whose photo it is."""

    photo_id: Id
    user_id: Id
    owner_id: Id


@register
class LikeAdded(_Like, frozen=True):
    """``user_id`` liked ``photo_id`` (owned by ``owner_id``); idempotent per (photo, user)."""

    TYPE: ClassVar[str] = "like.added"
    VERSION: ClassVar[int] = 1


@register
class LikeRemoved(_Like, frozen=True):
    """``user_id`` withdrew their like of ``photo_id``."""

    TYPE: ClassVar[str] = "like.removed"
    VERSION: ClassVar[int] = 1


@register
class CommentAdded(Payload, frozen=True):
    """A comment on a photo; ``comment_id`` is time-ordered so comments sort by it."""

    TYPE: ClassVar[str] = "comment.added"
    VERSION: ClassVar[int] = 1

    comment_id: Id
    photo_id: Id
    owner_id: Id
    user_id: Id
    text: CommentText


@register
class CommentDeleted(Payload, frozen=True):
    """A comment was removed (by its author or by the photo's owner)."""

    TYPE: ClassVar[str] = "comment.deleted"
    VERSION: ClassVar[int] = 1

    comment_id: Id
    photo_id: Id
    owner_id: Id
    user_id: Id


@register
class StoryPosted(Payload, frozen=True):
    """A 24-hour story; ``media_key`` is its object in the media bucket."""

    TYPE: ClassVar[str] = "story.posted"
    VERSION: ClassVar[int] = 1

    story_id: Id
    user_id: Id
    media_key: ObjectKey
    posted_at: Time

    TIMES: ClassVar[tuple[str, ...]] = ("posted_at",)
    def __post_init__(self) -> None:
        read_times(self)
