"""The ingest use cases: accept an upload, hand out a direct-upload URL, commit it.

The write contract: **a 202 means the upload will appear; any error means it never
will**, whichever one of Kafka, Cassandra, MinIO or Redis fails at whatever point.

- The ``photo.uploaded`` event, acknowledged by every in-sync replica (acks=all), is the
  commit point, and the last step: a 202 is only returned after it, so an accepted photo
  is never lost.
- Everything before it is idempotent and invisible: the original in MinIO and the
  ``processing`` row in Cassandra (:mod:`producers.ingest.photos`). A failure there is a
  503 and nothing was published, so nothing will appear.
- A failed publish is ambiguous (the broker may have the event and only the
  acknowledgement was lost), so it is *aborted*: the row is tombstoned by a
  compare-and-set that every processor respects, unless a processor already took the
  event, in which case the upload is accepted after all.
- A retry with the same ``Idempotency-Key`` reuses the photo id, object key and event
  id (all derived from the id), so a half-done attempt is simply redone; a retry after
  an aborted attempt gets a fresh photo id (:mod:`producers.ingest.claims`). A retry
  without a key after an error makes exactly one photo, since the failed attempt never
  appears.

The backends' errors rise from here as they are (the abort and the claim release catch
and re-raise them) and are answered 503 by the handlers of :mod:`producers.ingest.outages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError
from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.outages import CASSANDRA_FAILURES
from infra.connect.publisher import Publisher, PublishError
from infra.http.problems import Problem
from infra.settings import Settings
from producers.ingest.claims import Claims
from producers.ingest.multipart import UploadForm, too_large
from producers.ingest.photos import PhotoRows
from producers.ingest.storage import Originals, StorageUnavailable, original_key
from schemas.envelope import Event, InvalidEvent, make
from schemas.ids import IdGenerator
from schemas.media import PhotoUploaded
from schemas.media_formats import SNIFF_BYTES, accept, accepted_types, is_video

PRODUCER = "ingest"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Details:
    """What the uploader says about the post (validated against the event schema)."""

    caption: str = ""
    title: str = ""
    location: str | None = None
    alt_text: str = ""
    sensitive: bool = False
    content_warning: str = ""
    detached: bool = False
    """An album item: processed now, shown once a post lists it (``POST /v1/posts``)."""


@dataclass(frozen=True)
class DirectUpload:
    """A reserved photo id and the presigned URL to PUT its original to."""

    photo_id: int
    upload_url: str
    expires_at: datetime
    max_bytes: int


def event_id_for(photo_id: int) -> str:
    """Deterministic, so a re-published upload (retry after a crash) is recognisably the
    same event to any consumer that deduplicates by event id."""
    return f"{PhotoUploaded.TYPE}:{photo_id}"


def _unsupported() -> Problem:
    kinds = ", ".join(sorted(accepted_types()))
    return Problem(415, "unsupported-media-type",
                   f"the file is not a supported image or video (accepted: {kinds})",
                   extra={"accepted": sorted(accepted_types())})


class IngestService:
    """Everything the routes need, opened once per process by the app's lifespan."""

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        originals: Originals,
        session: Session,
        claims: Claims,
        photos: PhotoRows,
        ids: IdGenerator,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.originals = originals
        self.session = session
        self.claims = claims
        self.photos = photos
        self.ids = ids

    @property
    def max_bytes(self) -> int:
        return self.settings.ingest.max_upload_bytes

    def _event(self, photo_id: int, owner_id: int, content_type: str, size: int,
               details: Details) -> Event[PhotoUploaded]:
        """The upload event; a caption/title/location breaking the schema is a 422."""
        try:
            return make(
                PhotoUploaded(
                    photo_id=photo_id,
                    owner_id=owner_id,
                    media_kind="video" if is_video(content_type) else "photo",
                    object_key=original_key(photo_id),
                    content_type=content_type,
                    size_bytes=size,
                    caption=details.caption,
                    title=details.title,
                    location=details.location,
                    uploaded_at=datetime.now(UTC),
                    alt_text=details.alt_text,
                    detached=details.detached,
                    sensitive=details.sensitive,
                    content_warning=details.content_warning,
                ),
                producer=PRODUCER,
                event_id=event_id_for(photo_id),
            )
        except InvalidEvent as exc:
            field = (exc.field or "").removeprefix("payload.")
            raise Problem(422, "invalid-field", f"{field or 'request'}: {exc.reason}",
                          extra={"field": field}) from None

    async def _commit(self, event: Event[PhotoUploaded]) -> None:
        """The invisible pre-commit row, then the event: the commit point.

        A publish that fails is aborted; only if a processor already took the event
        (so it demonstrably landed) is the upload accepted anyway.
        """
        await self.photos.record_upload(event.payload)
        try:
            await self.publisher.publish(event)
        except PublishError:
            outcome = await self.photos.abort(event.payload.photo_id, event.payload.owner_id)
            if not outcome.processed:
                raise
            log.warning("publishing upload %s failed, but the event landed and was "
                        "processed: accepted", event.payload.photo_id)

    async def mark_committed(self, mark: Awaitable[None]) -> None:
        """Record a claim as committed. The event is the commit, so a failure here
        only costs a later retry some redone, idempotent work: log it, answer 202."""
        try:
            await mark
        except CASSANDRA_FAILURES as exc:
            log.warning("upload committed, but its claim was not marked: %s", exc)

    async def upload(
        self, owner_id: int, form: UploadForm, details: Details, idempotency_key: str | None
    ) -> int:
        """Store a streamed upload and commit it; returns the photo id."""
        content_type = accept(form.head)
        if content_type is None:
            raise _unsupported()
        self._event(0, owner_id, content_type, form.size, details)  # 422 before any work
        if idempotency_key is None:
            photo_id = await self.ids.anext_id(owner_id)
            await self._store_and_commit(photo_id, owner_id, form, content_type, details)
            return photo_id
        claim = await self.claims.acquire(
            owner_id, idempotency_key,
            lambda: self.ids.anext_id(owner_id), self.photos.state,
        )
        if claim.lease is None:
            return claim.photo_id
        try:
            await self._store_and_commit(
                claim.photo_id, owner_id, form, content_type, details)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.claims.release(owner_id, idempotency_key, claim.lease)
            raise
        await self.mark_committed(self.claims.commit(owner_id, idempotency_key))
        return claim.photo_id

    async def _store_and_commit(self, photo_id: int, owner_id: int, form: UploadForm,
                                content_type: str, details: Details) -> None:
        form.file.seek(0)
        await self.originals.put(original_key(photo_id), form.file, form.size, content_type)
        await self._commit(self._event(photo_id, owner_id, content_type, form.size, details))

    async def begin_direct_upload(self, owner_id: int) -> DirectUpload:
        """Reserve a photo id for ``owner_id`` and presign a PUT of its original."""
        ttl = self.settings.ingest.presign_ttl_seconds
        photo_id = await self.ids.anext_id(owner_id)
        await self.claims.register_presigned(owner_id, photo_id)
        url = await self.originals.presign_put(original_key(photo_id), ttl)
        return DirectUpload(
            photo_id=photo_id,
            upload_url=url,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
            max_bytes=self.max_bytes,
        )

    async def commit_direct_upload(self, owner_id: int, photo_id: int, details: Details) -> int:
        """Check the object the client PUT (exists, size, sniffed type), then commit it.

        Committing again after success answers the same (no second event). Rejected
        objects are deleted, so a refused upload leaves nothing behind. A commit whose
        earlier attempt was aborted cannot be redone under the same id: 409, begin anew.
        """
        key = original_key(photo_id)
        committed = await self.claims.presigned(owner_id, photo_id)
        if committed is None:
            raise Problem(404, "upload-not-found",
                          f"no direct upload {photo_id} was started by this user")
        if committed:
            return photo_id
        state = await self.photos.state(photo_id)
        if state.aborted:
            raise Problem(409, "upload-aborted",
                          "an earlier commit of this upload failed and was abandoned; "
                          "begin a new direct upload")
        if not state.processed:
            await self._commit(await self._checked_event(owner_id, photo_id, key, details))
        await self.mark_committed(self.claims.commit_presigned(owner_id, photo_id))
        return photo_id

    async def _checked_event(self, owner_id: int, photo_id: int, key: str,
                             details: Details) -> Event[PhotoUploaded]:
        """The upload event of a directly uploaded object, once its size and type pass."""
        size = await self.originals.size(key)
        if size is None:
            raise Problem(409, "upload-missing", "nothing was uploaded to the presigned URL yet")
        if size > self.max_bytes:
            await self.originals.remove(key)
            raise too_large(self.max_bytes)
        head = await self.originals.head(key, SNIFF_BYTES) if size else b""
        content_type = accept(head)
        if content_type is None:
            await self.originals.remove(key)
            raise _unsupported()
        return self._event(photo_id, owner_id, content_type, size, details)

    async def readiness(self, timeout: float = 3.0) -> dict[str, str]:
        """``{"kafka": "ok" | error, "minio": ..., "cassandra": ...}``, checked concurrently."""

        async def check(probe: asyncio.Future[object] | asyncio.Task[object]) -> str:
            try:
                await asyncio.wait_for(probe, timeout)
            except TimeoutError:
                return "timeout"
            except (KafkaError, StorageUnavailable, *CASSANDRA_FAILURES, OSError) as exc:
                return f"error: {type(exc).__name__}: {exc}"
            return "ok"

        async def kafka() -> object:
            return await self.publisher.producer.client.fetch_all_metadata()

        async def minio() -> object:
            await self.originals.ping()
            return None

        async def cassandra() -> object:
            return await execute(self.session, "SELECT release_version FROM system.local")

        names = ("kafka", "minio", "cassandra")
        results = await asyncio.gather(
            *(check(asyncio.ensure_future(probe())) for probe in (kafka, minio, cassandra))
        )
        return dict(zip(names, results, strict=True))
