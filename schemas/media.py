"""Media lifecycle events: upload, processing result, edits and deletion of a photo/video.

``photo.processed`` copies caption, title and location from the upload so the metadata
and timeline processors can materialise a post from this one event, without joining
back to the upload topic.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from schemas.common import (
    AltText,
    Caption,
    ContentType,
    ContentWarning,
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
#: The most media one album may hold (the setting ``PHOTOSTREAM_ALBUM_MAX_ITEMS`` is at most this).
MAX_ALBUM_ITEMS = 50

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
    alt_text: AltText = ""
    #: An album item (``POST /v1/media?detached=true``): processed as usual, but shown
    #: only through the post that lists it (``album.posted``), never as a post itself.
    detached: bool = False
    sensitive: bool = False
    content_warning: ContentWarning = ""

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
    alt_text: AltText = ""
    detached: bool = False
    """An album item: its own row is made ready, but it is no post (see PhotoUploaded)."""
    sensitive: bool = False
    content_warning: ContentWarning = ""
    items: Annotated[tuple[Id, ...], Meta(max_length=MAX_ALBUM_ITEMS)] = ()
    """An album post (published by the albums processor, ``photo_id`` is the post id):
    its ready media ids in the author's order, the first being the cover whose
    derivatives this event carries. Empty for a single-photo post."""


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


@register
class PhotoAltTextEdited(Payload, frozen=True):
    """The owner replaced one media item's alt text (last write wins by event time)."""

    TYPE: ClassVar[str] = "photo.alt_text_edited"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    alt_text: AltText


@register
class AlbumPosted(Payload, frozen=True):
    """The author made a post of media uploaded before (detached), in this order.

    The albums processor makes it a post (a ``photo.processed`` of ``post_id`` listing
    the ready items) once every item is processed, or at ``ready_by`` with what is ready.
    """

    TYPE: ClassVar[str] = "album.posted"
    VERSION: ClassVar[int] = 1

    post_id: Id
    owner_id: Id
    media_ids: Annotated[tuple[Id, ...], Meta(min_length=1, max_length=MAX_ALBUM_ITEMS)]
    caption: Caption
    title: Title
    location: Location | None
    sensitive: bool
    content_warning: ContentWarning
    posted_at: Time
    ready_by: Time

    TIMES: ClassVar[tuple[str, ...]] = ("posted_at", "ready_by")
    def __post_init__(self) -> None:
        read_times(self)
