"""Media lifecycle events: upload, processing result, edits and deletion of a photo/video.

``photo.processed`` copies caption, title and location from the upload so the metadata
and timeline processors can materialise a post from this one event, without joining
back to the upload topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar, Literal

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
from schemas.fields import MaxItems, Record, StrSpec
from schemas.payload import Payload, register

DerivativeName = Literal["thumb", "small", "medium", "large"]
HexColor = Annotated[str, StrSpec(7, 7, r"#[0-9a-f]{6}", "lower-case #rrggbb")]
BlurHash = Annotated[str, StrSpec(6, 128, description="a BlurHash string")]
StageName = Annotated[str, StrSpec(1, 64, r"[a-z0-9_.-]+", "machine-readable stage name")]
Reason = Annotated[str, StrSpec(1, 2000, description="human-readable explanation")]


@register
@dataclass(frozen=True, slots=True)
class PhotoUploaded(Payload):
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
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class Derivative(Record):
    """One rendition written to the media bucket (``key``) by the media processor."""

    name: DerivativeName
    key: ObjectKey
    width: Dimension
    height: Dimension
    bytes: Count
    content_type: ContentType


@dataclass(frozen=True, slots=True)
class Placeholder(Record):
    """What a client paints before the image loads: a colour and an optional BlurHash."""

    dominant_color: HexColor
    blurhash: BlurHash | None


@register
@dataclass(frozen=True, slots=True)
class PhotoProcessed(Payload):
    """Derivatives are in the media bucket; carries everything needed to show the post."""

    TYPE: ClassVar[str] = "photo.processed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    media_kind: MediaKind
    original_width: Dimension
    original_height: Dimension
    duration_ms: DurationMs | None
    derivatives: Annotated[tuple[Derivative, ...], MaxItems(16)]
    placeholder: Placeholder
    caption: Caption
    title: Title
    location: Location | None


@register
@dataclass(frozen=True, slots=True)
class PhotoFailed(Payload):
    """Processing gave up on an upload (corrupt file, too many pixels...); final for it."""

    TYPE: ClassVar[str] = "photo.failed"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    reason: Reason
    stage: StageName


@register
@dataclass(frozen=True, slots=True)
class PhotoDeleted(Payload):
    """The owner deleted the post; every materialisation of it must go (a tombstone)."""

    TYPE: ClassVar[str] = "photo.deleted"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id


@register
@dataclass(frozen=True, slots=True)
class PhotoCaptionEdited(Payload):
    """The owner replaced caption and title (both carried: last write wins as a whole)."""

    TYPE: ClassVar[str] = "photo.caption_edited"
    VERSION: ClassVar[int] = 1

    photo_id: Id
    owner_id: Id
    caption: Caption
    title: Title
