"""Internal fan-out work: one chunk of followers whose timelines get (or lose) a post.

The fan-out processor splits a post's follower list into chunks (settings
``timelines.fanout_chunk`` followers each) and publishes one ``fanout.chunk`` per chunk
to ``photostream.fanout.tasks``; any worker of the group applies a chunk. The follower
ids travel in the task, so a retried chunk touches exactly the same timelines even if
the follow graph changed meanwhile, and applying it twice is harmless (timeline inserts
are ``ZADD`` with score = the time-ordered photo id, removals ``ZREM``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from schemas.common import Count, Id
from schemas.model import MAX_INT64
from schemas.payload import Payload, register

MAX_CHUNK = 10_000
"""Most followers in one task: 10k ids of <= 20 digits stay well under Kafka's 1 MB."""


@register
class FanoutChunk(Payload, frozen=True):
    """Add ``photo_id`` to (or remove it from) the timelines of ``follower_ids``."""

    TYPE: ClassVar[str] = "fanout.chunk"
    VERSION: ClassVar[int] = 1

    chunk_id: Id
    action: Literal["add", "remove"]
    photo_id: Id
    owner_id: Id
    chunk_index: Count
    chunk_count: Count
    follower_ids: Annotated[tuple[Id, ...], Meta(max_length=MAX_CHUNK)]


def chunk_id(photo_id: int, action: str, chunk_index: int) -> int:
    """The deterministic id (and Kafka key) of one chunk of one fan-out.

    Deterministic so that a splitter re-run after a crash republishes the same ids
    (workers may dedupe on them); hashed so chunks of one celebrity post spread over all
    partitions instead of queueing behind each other on the post's partition.
    """
    digest = hashlib.blake2b(f"{photo_id}:{action}:{chunk_index}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & MAX_INT64
