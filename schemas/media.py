"""Media lifecycle events: upload, processing result, edits and deletion of a photo/video.

``photo.processed`` copies caption, title and location from the upload so the metadata
and timeline processors can materialise a post from this one event, without joining
back to the upload topic.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from schemas.common import (
    Caption,
    ContentType,
    Count,
    Dimension,
    DurationMs,
    Id,
    Location,
    MediaKind,
    ObjectKey,
    Title,
)
from schemas.model import Record, Time, read_times
from schemas.payload import Payload, register

#: JPEGs of the photo (or of a video's poster frame), AVIF twins of the large and medium
#: ones, then the MP4 renditions of a video or animated GIF: at most 1080p, and the small
#: one for slow connections.
DerivativeName = Literal["thumb", "small", "medium", "large", "large_avif", "medium_avif",
                         "video", "video_small"]
HexColor = Annotated[
    str,
    Meta(min_length=7, max_length=7, pattern=r"^#[0-9a-f]{6}\Z", description="lower-case #rrggbb"),
]
BlurHash = Annotated[str, Meta(min_length=6, max_length=128, description="a BlurHash string")]
StageName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9_.-]+\Z",
        description="machine-readable stage name",
    ),
]
Reason = Annotated[
    str, Meta(min_length=1, max_length=2000, description="human-readable explanation")
]


@register
class PhotoUploaded(Payload, frozen=True):
    """An original was stored in the originals bucket and awaits processing."""

    TYPE: ClassVar[str] = "photo.uploaded"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    media_kind: MediaKind
    object_key: ObjectKey
    content_type: ContentType
    size_bytes: Count
    caption: Caption
    title: Title
    location: Location | None
    uploaded_at: Time

    TIMES: ClassVar[tuple[str, ...]] = ("uploaded_at",)
    def __post_init__(self) -> None:
        read_times(self)


class Derivative(Record, frozen=True):
    """One rendition written to the media bucket (``key``) by the media processor."""

    name: DerivativeName
    key: ObjectKey
    width: Dimension
    height: Dimension
    bytes: Count
    content_type: ContentType


class Placeholder(Record, frozen=True):
    """What a client paints before the image loads: a colour and an optional BlurHash."""

    dominant_color: HexColor
    blurhash: BlurHash | None


@register
class PhotoProcessed(Payload, frozen=True):
    """Derivatives are in the media bucket; carries everything needed to show the post."""

    TYPE: ClassVar[str] = "photo.processed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    media_kind: MediaKind
    original_width: Dimension
    original_height: Dimension
    duration_ms: DurationMs | None
    derivatives: Annotated[tuple[Derivative, ...], Meta(max_length=16)]
    placeholder: Placeholder
    caption: Caption
    title: Title
    location: Location | None


@register
class PhotoFailed(Payload, frozen=True):
    """Processing gave up on an upload (corrupt file, too many pixels...); final for it."""

    TYPE: ClassVar[str] = "photo.failed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    reason: Reason
    stage: StageName


@register
class PhotoDeleted(Payload, frozen=True):
    """The owner deleted the post; every materialisation of it must go (a tombstone)."""

    TYPE: ClassVar[str] = "photo.deleted"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id


@register
class PhotoCaptionEdited(Payload, frozen=True):
    """The owner replaced caption and title (both carried: last write wins as a whole)."""

    TYPE: ClassVar[str] = "photo.caption_edited"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    caption: Caption
    title: Title
