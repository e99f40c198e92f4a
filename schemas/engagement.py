"""Engagement events: likes, comments and stories.

Likes and comments carry the photo's ``owner_id`` so notifications and per-owner
counters need no lookup of the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.common import CommentText, Id, ObjectKey
from schemas.payload import Payload, register


@dataclass(frozen=True, slots=True)
class _Like(Payload):
    """Who likes which photo, and whose photo it is."""

    photo_id: Id
    user_id: Id
    owner_id: Id


@register
@dataclass(frozen=True, slots=True)
class LikeAdded(_Like):
    """``user_id`` liked ``photo_id`` (owned by ``owner_id``); idempotent per (photo, user)."""

    TYPE: ClassVar[str] = "like.added"
    VERSION: ClassVar[int] = 1


@register
@dataclass(frozen=True, slots=True)
class LikeRemoved(_Like):
    """``user_id`` withdrew their like of ``photo_id``."""

    TYPE: ClassVar[str] = "like.removed"
    VERSION: ClassVar[int] = 1


@register
@dataclass(frozen=True, slots=True)
class CommentAdded(Payload):
    """A comment on a photo; ``comment_id`` is time-ordered so comments sort by it."""

    TYPE: ClassVar[str] = "comment.added"
    VERSION: ClassVar[int] = 1

    comment_id: Id
    photo_id: Id
    owner_id: Id
    user_id: Id
    text: CommentText


@register
@dataclass(frozen=True, slots=True)
class CommentDeleted(Payload):
    """A comment was removed (by its author or by the photo's owner)."""

    TYPE: ClassVar[str] = "comment.deleted"
    VERSION: ClassVar[int] = 1

    comment_id: Id
    photo_id: Id
    owner_id: Id
    user_id: Id


@register
@dataclass(frozen=True, slots=True)
class StoryPosted(Payload):
    """A 24-hour story; ``media_key`` is its object in the media bucket."""

    TYPE: ClassVar[str] = "story.posted"
    VERSION: ClassVar[int] = 1

    story_id: Id
    user_id: Id
    media_key: ObjectKey
    posted_at: datetime
