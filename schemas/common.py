"""Field types shared by several events, each with the constraint that makes it safe.

Bounds exist to protect the stores: ids and counts fit Cassandra ``bigint`` (signed
64-bit) and Java/kcat clients, dimensions fit ``int``, and free text is capped so a
hostile upstream cannot push megabyte captions into every follower's timeline.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from schemas.model import MAX_INT64

Id = Annotated[
    int, Meta(ge=0, le=MAX_INT64, description="64-bit non-negative id (fits a signed bigint)")
]
Count = Annotated[int, Meta(ge=0, le=MAX_INT64, description="non-negative 64-bit count")]
Dimension = Annotated[int, Meta(ge=1, le=2**31 - 1, description="pixels, at least 1")]
DurationMs = Annotated[int, Meta(ge=0, le=2**31 - 1, description="milliseconds")]

MediaKind = Literal["photo", "video"]

Caption = Annotated[str, Meta(max_length=2200, description="at most 2200 characters")]
Title = Annotated[str, Meta(max_length=200)]
Location = Annotated[str, Meta(max_length=200)]
AltText = Annotated[str, Meta(max_length=1500, description="what the image shows, for people "
                                                         "who cannot see it (at most 1500)")]
ContentWarning = Annotated[str, Meta(max_length=500, description="why a post is hidden "
                                                                "behind a click-through")]
ObjectKey = Annotated[
    str,
    Meta(min_length=1, max_length=1024, description="object key in the bucket named by the event"),
]
ContentType = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=255,
        pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+\Z",
        description="a MIME type",
    ),
]
Username = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=30,
        pattern=r"^[a-z0-9._]{1,30}\Z",
        description="1-30 characters of a-z, 0-9, '.', '_'",
    ),
]
DisplayName = Annotated[str, Meta(max_length=64)]
Bio = Annotated[str, Meta(max_length=150)]
CommentText = Annotated[
    str, Meta(min_length=1, max_length=2200, description="1-2200 characters")
]
