"""The ingest service's writes to the ``photos`` table: the pre-commit row and the abort.

The write contract of an upload (see :mod:`producers.ingest.uploads`): the
``photo.uploaded`` event on Kafka is the *commit point*. Everything before it is
idempotent and invisible: the original in MinIO, and this row with status
``processing`` (the read side shows only ``ready`` photos to anyone, and the owner's
grid lists only ready ones), so a request that fails before the event leaves nothing a
person can see.

The row is written ``USING TIMESTAMP`` of the photo id's time. Cassandra resolves
conflicting cells by write timestamp and every processor writes at its event's time,
later than the upload (:mod:`sinks.photos`), so a retried request that writes the row
again can never roll a ``ready`` or ``deleted`` photo back to ``processing``.

A publish that fails may still have reached the broker (the acknowledgement is what was
lost), so a failed publish is *aborted*: the row is read, and unless a processor has
already made the photo ``ready`` or ``failed`` (the event did land and was processed
first: the upload is accepted after all), it is tombstoned for good (``deleted``, reason
:data:`ABORTED`, the sticky tombstone of a deletion), so an event that did land is
ignored, or undone if it was being processed at that very moment. No compare-and-set:
this runs only when a publish failed, and whichever way the read goes, the photo ends
in the state the answer gives. A processor that made the photo ready between the read
and the tombstone may have let the read API cache it as ready, so the abort invalidates
the photo's and its owner's cached entries after the tombstone, as a deletion's
processor would (a Redis outage there is logged: those entries expire by their TTL).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from infra.connect.cassandra import execute
from infra.connect.outages import REDIS_ERRORS
from infra.connect.redis import RedisClient
from schemas.ids import id_time
from schemas.media import AlbumPosted, PhotoUploaded
from sinks import cache, withdrawn
from sinks.photos import (
    STATUS_DELETED,
    STATUS_FAILED,
    STATUS_PROCESSING,
    STATUS_READY,
    mark_deleted,
    status_and_reason,
)
from sinks.statements import QUORUM, micros

log = logging.getLogger(__name__)

ABORTED = "upload aborted"
"""``failure_reason`` of a photo whose upload was answered with an error."""

_INSERT = (
    "INSERT INTO photos (photo_id, owner_id, media_kind, status, original_key, content_type, "
    "size_bytes, caption, title, location, detached, sensitive, content_warning, uploaded_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
_INSERT_POST = (
    "INSERT INTO photos (photo_id, owner_id, media_kind, status, caption, title, location, "
    "album_items, detached, sensitive, content_warning, uploaded_at, updated_at) "
    "VALUES (?, ?, 'photo', ?, ?, ?, ?, ?, false, ?, ?, ?, ?) USING TIMESTAMP ?"
)


@dataclass(frozen=True)
class RowState:
    """What the ``photos`` row of an upload says about it (None: no row)."""

    status: str | None
    failure_reason: str | None = None

    @property
    def processed(self) -> bool:
        """The event landed and a processor took it: the upload is accepted."""
        return self.status in (STATUS_READY, STATUS_FAILED)

    @property
    def aborted(self) -> bool:
        """An earlier attempt answered an error: this photo id is dead for good."""
        return self.status == STATUS_DELETED and self.failure_reason == ABORTED


class PhotoRows:
    """Prepared statements for the ``photos`` rows ingest writes and checks."""

    def __init__(self, session: Session, redis: RedisClient,
                 statements: dict[str, PreparedStatement]) -> None:
        self.session = session
        self.redis = redis
        self._st = statements

    @classmethod
    async def create(cls, session: Session, redis: RedisClient) -> PhotoRows:
        def prepare() -> dict[str, PreparedStatement]:
            statements = {"insert": session.prepare(_INSERT),
                          "post": session.prepare(_INSERT_POST)}
            statements["insert"].consistency_level = QUORUM
            statements["post"].consistency_level = QUORUM
            return statements

        return cls(session, redis, await asyncio.to_thread(prepare))

    async def record_upload(self, upload: PhotoUploaded) -> None:
        """Write the invisible pre-commit row (status ``processing``); safe to repeat."""
        await execute(self.session, self._st["insert"], (
            upload.photo_id, upload.owner_id, upload.media_kind, STATUS_PROCESSING,
            upload.object_key, upload.content_type, upload.size_bytes, upload.caption,
            upload.title, upload.location, upload.detached, upload.sensitive,
            upload.content_warning, upload.uploaded_at, upload.uploaded_at,
            micros(id_time(upload.photo_id)),
        ))

    async def record_post(self, post: AlbumPosted) -> None:
        """The album post's invisible pre-commit row (``processing``), like an upload's:
        the owner sees it waiting, delete and caption edits find it; safe to repeat."""
        await execute(self.session, self._st["post"], (
            post.post_id, post.owner_id, STATUS_PROCESSING, post.caption, post.title,
            post.location, list(post.media_ids), post.sensitive, post.content_warning,
            post.posted_at, post.posted_at, micros(id_time(post.post_id)),
        ))

    async def abort(self, photo_id: int, owner_id: int) -> RowState:
        """Tombstone an upload whose publish failed, unless a processor got there first.

        Returns the row's state afterwards: ``aborted`` when this call (or an earlier
        one) abandoned the upload, ``processed`` when the event landed after all.
        """
        state = await self.state(photo_id)
        if state.processed or state.aborted:
            return state
        await mark_deleted(self.session, photo_id, owner_id, datetime.now(UTC), ABORTED)
        await self._uncache(photo_id, owner_id)
        return RowState(STATUS_DELETED, ABORTED)

    async def _uncache(self, photo_id: int, owner_id: int) -> None:
        """Drop what the read API may have cached of a photo made ready in the instant
        before its tombstone (module doc)."""
        try:
            await withdrawn.mark(self.redis, photo_id)  # a fan-out may be in flight
            await cache.invalidate_photo(self.redis, photo_id, owner_id)
        except REDIS_ERRORS:
            log.warning("aborted upload %d: cached entries left to expire (Redis)", photo_id,
                        exc_info=True)

    async def state(self, photo_id: int) -> RowState:
        """The row's status and failure reason (None: no row)."""
        status, reason = await status_and_reason(self.session, photo_id)
        return RowState(status, reason)
