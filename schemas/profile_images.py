"""Profile image events: an avatar or header uploaded, rendered, or refused.

They travel on the media topics beside photos (the media processor renders them in its
pool), keyed like photos by ``photo_id``, which here is the profile image's own id (from
the same id generator): uploads spread over partitions and a redelivered one stays
behind itself. Not on the users topic: compaction there keeps one record per user, and
it must be the profile (:mod:`schemas.users`).

The image the profile shows is the one uploaded last (``uploaded_at``), whatever order
renders finish in (:func:`sinks.users.set_profile_image`); a refused one changes nothing.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from schemas.common import ContentType, Count, Dimension, Id, ObjectKey
from schemas.media import Reason, StageName
from schemas.model import Record, Time, read_times
from schemas.payload import Payload, register

ProfileImageKind = Literal["avatar", "header"]
#: Avatar 400x400 and 120x120, header 1500x500 (processors/media/profile_images.py).
ProfileImageName = Literal["avatar", "avatar_small", "header"]


@register
class ProfileImageUploaded(Payload, frozen=True):
    """An avatar or header original is in the originals bucket, waiting to be rendered."""

    TYPE: ClassVar[str] = "profile_image.uploaded"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    """The profile image's own id (the media topics' key)."""
    user_id: Id
    kind: ProfileImageKind
    object_key: ObjectKey
    content_type: ContentType
    size_bytes: Count
    uploaded_at: Time

    TIMES: ClassVar[tuple[str, ...]] = ("uploaded_at",)

    def __post_init__(self) -> None:
        read_times(self)


class ProfileImageDerivative(Record, frozen=True):
    """One JPEG rendition of a profile image in the media bucket (``key``)."""

    name: ProfileImageName
    key: ObjectKey
    width: Dimension
    height: Dimension
    bytes: Count


@register
class ProfileImageProcessed(Payload, frozen=True):
    """The derivatives are in the media bucket: the profile may show this image."""

    TYPE: ClassVar[str] = "profile_image.processed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    user_id: Id
    kind: ProfileImageKind
    derivatives: Annotated[tuple[ProfileImageDerivative, ...], Meta(max_length=4)]
    uploaded_at: Time
    """The upload's time: the newest upload is the one shown."""

    TIMES: ClassVar[tuple[str, ...]] = ("uploaded_at",)

    def __post_init__(self) -> None:
        read_times(self)


@register
class ProfileImageFailed(Payload, frozen=True):
    """The upload is no usable image; the profile keeps the image it had."""

    TYPE: ClassVar[str] = "profile_image.failed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    user_id: Id
    kind: ProfileImageKind
    reason: Reason
    stage: StageName
