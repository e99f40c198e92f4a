"""The ingest service's one write to the ``photos`` table: "accepted, processing".

The metadata processor owns photo rows; ingest only upserts the row of a new upload so
the read side can show "processing" at once, and so a retried request can tell the first
attempt finished (the row is written last, after MinIO and Kafka are durable).

The row is written ``USING TIMESTAMP`` of the upload time: Cassandra resolves conflicting
cells by write timestamp, so a processor's later update (status ``ready``) wins even if
it reaches Cassandra before this insert does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from infra.connect.cassandra import execute
from schemas.media import PhotoUploaded
from sinks.statements import QUORUM

STATUS_PROCESSING = "processing"

_INSERT = (
    "INSERT INTO photos (photo_id, owner_id, media_kind, status, original_key, content_type, "
    "size_bytes, caption, title, location, uploaded_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
_EXISTS = "SELECT photo_id FROM photos WHERE photo_id = ?"


def _micros(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1_000_000)


class PhotoRows:
    """Prepared statements for the ``photos`` rows ingest writes and checks."""

    def __init__(self, session: Session, insert: PreparedStatement, exists: PreparedStatement):
        self.session = session
        self._insert = insert
        self._exists = exists

    @classmethod
    async def create(cls, session: Session) -> PhotoRows:
        def prepare() -> tuple[PreparedStatement, PreparedStatement]:
            insert, exists = session.prepare(_INSERT), session.prepare(_EXISTS)
            insert.consistency_level = QUORUM
            exists.consistency_level = QUORUM
            return insert, exists

        return cls(session, *(await asyncio.to_thread(prepare)))

    async def record_upload(self, upload: PhotoUploaded) -> None:
        """Upsert the row of an accepted upload with status ``processing``."""
        await execute(self.session, self._insert, (
            upload.photo_id, upload.owner_id, upload.media_kind, STATUS_PROCESSING,
            upload.object_key, upload.content_type, upload.size_bytes, upload.caption,
            upload.title, upload.location, upload.uploaded_at, upload.uploaded_at,
            _micros(upload.uploaded_at),
        ))

    async def exists(self, photo_id: int) -> bool:
        return bool(await execute(self.session, self._exists, (photo_id,)))
