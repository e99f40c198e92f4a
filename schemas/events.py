"""Every event type of photostream, importable from one place.

Importing this module registers all payload classes (the definitions live in small
per-domain modules: :mod:`schemas.media`, :mod:`schemas.users`, :mod:`schemas.graph`,
:mod:`schemas.engagement`, :mod:`schemas.blocks`, :mod:`schemas.fanout`,
:mod:`schemas.profile_images`), which
:func:`schemas.envelope.decode` relies on.
"""

from __future__ import annotations

from schemas.blocks import BlockAdded, BlockRemoved, MuteAdded, MuteRemoved
from schemas.engagement import (
    CommentAdded,
    CommentDeleted,
    LikeAdded,
    LikeRemoved,
    StoryPosted,
)
from schemas.fanout import FanoutChunk
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.media import (
    AlbumPosted,
    Derivative,
    PhotoAltTextEdited,
    PhotoCaptionEdited,
    PhotoDeleted,
    PhotoFailed,
    PhotoProcessed,
    PhotoUploaded,
    Placeholder,
)
from schemas.payload import Payload, payload_class
from schemas.payload import payload_classes as _registered
from schemas.profile_images import (
    ProfileImageFailed,
    ProfileImageProcessed,
    ProfileImageUploaded,
)
from schemas.users import (
    UserDeleted,
    UserProfileUpdated,
    UserRegistered,
    UserSessionsRevoked,
)

__all__ = [
    "AlbumPosted",
    "BlockAdded",
    "BlockRemoved",
    "CommentAdded",
    "CommentDeleted",
    "Derivative",
    "FanoutChunk",
    "FollowApproved",
    "FollowRejected",
    "FollowRemoved",
    "FollowRequested",
    "LikeAdded",
    "LikeRemoved",
    "MuteAdded",
    "MuteRemoved",
    "Payload",
    "PhotoAltTextEdited",
    "PhotoCaptionEdited",
    "PhotoDeleted",
    "PhotoFailed",
    "PhotoProcessed",
    "PhotoUploaded",
    "Placeholder",
    "ProfileImageFailed",
    "ProfileImageProcessed",
    "ProfileImageUploaded",
    "StoryPosted",
    "UserDeleted",
    "UserProfileUpdated",
    "UserRegistered",
    "UserSessionsRevoked",
    "event_classes",
    "payload_class",
]


def event_classes() -> tuple[type[Payload], ...]:
    """Every registered payload class, sorted by (TYPE, VERSION)."""
    return _registered()
