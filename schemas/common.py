"""Field types shared by several events, each with the constraint that makes it safe.

Bounds exist to protect the stores: ids and counts fit Cassandra ``bigint`` (signed
64-bit) and Java/kcat clients, dimensions fit ``int``, and free text is capped so a
hostile upstream cannot push megabyte captions into every follower's timeline.
"""

from __future__ import annotations

from typing import Annotated, Literal

from schemas.fields import MAX_INT64, IntSpec, StrSpec

Id = Annotated[
    int, IntSpec(0, MAX_INT64, "64-bit non-negative id (fits a signed bigint)")
]
Count = Annotated[int, IntSpec(0, MAX_INT64, "non-negative 64-bit count")]
Dimension = Annotated[int, IntSpec(1, 2**31 - 1, "pixels, at least 1")]
DurationMs = Annotated[int, IntSpec(0, 2**31 - 1, "milliseconds")]

MediaKind = Literal["photo", "video"]

Caption = Annotated[str, StrSpec(max_length=2200, description="at most 2200 characters")]
Title = Annotated[str, StrSpec(max_length=200)]
Location = Annotated[str, StrSpec(max_length=200)]
ObjectKey = Annotated[
    str, StrSpec(1, 1024, description="object key in the bucket named by the event")
]
ContentType = Annotated[
    str, StrSpec(3, 255, r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+", "a MIME type")
]
Username = Annotated[
    str, StrSpec(1, 30, r"[a-z0-9._]{1,30}", "1-30 characters of a-z, 0-9, '.', '_'")
]
DisplayName = Annotated[str, StrSpec(max_length=64)]
Bio = Annotated[str, StrSpec(max_length=150)]
CommentText = Annotated[str, StrSpec(1, 2200, description="1-2200 characters")]
