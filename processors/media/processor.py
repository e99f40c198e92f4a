"""The media processor: ``photo.uploaded`` in, derivatives in MinIO, ``photo.processed`` out.

Per upload (``handle``), in this order, because the order is what makes it safe:

1. fetch the original named by the event from the originals bucket;
2. render it in the process pool (photos: :func:`render_photo`; videos: probe, poster
   frame, then the same photo pipeline on the poster, and the web MP4 renditions;
   animated GIFs: the first frame as a photo, and a looping MP4);
3. write every derivative under its deterministic key (:mod:`sinks.media_keys`),
   concurrently;
4. publish ``photo.processed`` keyed by the photo id, and wait for ``acks=all``.

Only then does ``handle`` return, and only after ``handle`` returns does the runtime
commit the offset. A crash anywhere before that re-delivers the upload, and re-processing
is harmless: the same bytes render to the same derivative bytes under the same keys, and
the outcome event gets the same ``event_id`` (derived from the upload's), so downstream
consumers can drop the duplicate.

Avatars and headers (``profile_image.uploaded``) take the same road in the same pool
(:meth:`MediaProcessor._profile_image`): fetch, render the fixed crops
(:mod:`processors.media.profile_images`), write them under their deterministic keys,
publish ``profile_image.processed`` (or ``profile_image.failed``).

A file we cannot or will not process (corrupt, truncated, a decompression bomb, a video
without a decodable frame, an original that is gone) is a normal outcome, not an error:
it becomes ``photo.failed`` with a reason for the uploader, the original stays where it
is, and the consumer moves on. Everything else (a store down, a bug) is raised to the
runtime, which retries transient failures without committing and dead-letters the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from aiokafka import AIOKafkaProducer

from infra import metrics
from infra.connect import kafka
from infra.settings import Settings
from processors.media.derivatives import MediaRejected, Rendition
from processors.media.profile_images import render_profile_image
from processors.media.video import MP4_CONTENT_TYPE, VideoFile, VideoProfile
from processors.media.worker import (
    RenderPool,
    VideoRendition,
    render_gif,
    render_image,
    render_video,
)
from processors.runtime import Message, Processor
from schemas import media_formats
from schemas.envelope import Event, encode, make
from schemas.media import (
    Derivative,
    DerivativeName,
    PhotoFailed,
    PhotoProcessed,
    PhotoUploaded,
    Placeholder,
)
from schemas.payload import Payload
from schemas.profile_images import (
    ProfileImageDerivative,
    ProfileImageFailed,
    ProfileImageName,
    ProfileImageProcessed,
    ProfileImageUploaded,
)
from schemas.topics import MEDIA_GROUP, MEDIA_PROCESSED, MEDIA_UPLOADED, key_for, topic_for
from sinks.media_keys import IMMUTABLE_CACHE_CONTROL, derivative_key, profile_image_key
from sinks.objects import ObjectNotFound, ObjectStore

__all__ = ["STAGE_FETCH", "STAGE_RENDER", "STAGE_VIDEO", "MediaProcessor", "outcome_event_id"]

log = logging.getLogger(__name__)

STAGE_FETCH = "fetch"
STAGE_RENDER = "render"
STAGE_VIDEO = "video"
MAX_REASON_CHARS = 2000
_EVENT_IDS = uuid.UUID("6f1d3c2e-5a0b-4d8e-9c7f-0e2b7a1d4c55")


class UnexpectedEvent(TypeError):
    """A valid event of a type this processor does not take arrived on its topic.

    Not transient: the runtime retries it a few times and then dead-letters it, which
    is where a producer's mistake should surface.
    """


class _Rejected(Exception):
    """Internal: the upload ends as ``photo.failed`` at ``stage``."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(stage, reason)
        self.stage = stage
        self.reason = reason


def outcome_event_id(upload_event_id: str, outcome_type: str) -> str:
    """Event id of the outcome of an upload: the same for every re-processing of it.

    A uuid5 (not the upload id plus a suffix) so it always fits the 128-character limit.
    """
    return uuid.uuid5(_EVENT_IDS, f"{upload_event_id}/{outcome_type}").hex


class MediaProcessor(Processor):
    """Validates and resizes uploads; see the module docstring for the guarantees."""

    name = MEDIA_GROUP.group_id
    topics = MEDIA_GROUP.topic_names
    #: Every partition of media.uploaded at once (order within each is kept), so records
    #: of other partitions queue in the pool while one partition waits on MinIO or Kafka:
    #: the workers stay busy. The pool itself bounds CPU use.
    partition_concurrency = MEDIA_UPLOADED.partitions
    #: Smaller batches than the default: a batch is committed as a whole, so this bounds
    #: the rendering redone after a crash and the wait of a rebalance.
    max_records = 128
    #: A batch holding a few long videos takes minutes on a small box (bench.video: a 15 s
    #: 1080p clip is ~14 CPU s); past this Kafka would hand the batch to another member and
    #: the videos would be transcoded again and again. Liveness is the heartbeat's job.
    max_poll_interval_ms = 1_800_000

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.pool = RenderPool(settings.media.workers)
        self.video_profile = VideoProfile.from_settings(settings.media)
        self.store: ObjectStore | None = None
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.store = ObjectStore.from_settings(self.settings)
        self.pool.start()
        self.producer = kafka.producer(self.settings)
        await self.producer.start()
        log.info("%s: %d render workers", self.name, self.pool.workers)

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        try:
            if producer is not None:
                await producer.stop()
        finally:
            await asyncio.to_thread(self.pool.stop)

    async def handle(self, message: Message) -> None:
        event = message.event
        upload = event.payload
        if isinstance(upload, ProfileImageUploaded):
            await self._publish(event.event_id, await self._profile_image(upload))
            return
        if not isinstance(upload, PhotoUploaded):
            raise UnexpectedEvent(f"{self.name} takes photo.uploaded and "
                                  f"profile_image.uploaded, not {event.type}")
        outcome: Payload
        try:
            outcome = await self._process(upload)
        except _Rejected as rejected:
            log.info("%s: photo %d failed at %s: %s", self.name, upload.photo_id,
                     rejected.stage, rejected.reason)
            outcome = PhotoFailed(
                photo_id=upload.photo_id,
                owner_id=upload.owner_id,
                reason=rejected.reason[:MAX_REASON_CHARS],
                stage=rejected.stage,
            )
        await self._publish(event.event_id, outcome)

    async def _process(self, upload: PhotoUploaded) -> PhotoProcessed:
        files: tuple[VideoFile, ...] = ()
        duration: int | None = None
        async with _scratch() as workdir:
            if upload.media_kind == "video":
                video = await self._render_video(upload, workdir)
            else:
                video = await self._render_photo(upload, workdir)
            rendition, files = video.rendition, video.files
            width, height, duration = video.width, video.height, video.duration_ms
            derivatives = await self._store_derivatives(upload.photo_id, rendition, files)
        return PhotoProcessed(
            photo_id=upload.photo_id,
            owner_id=upload.owner_id,
            media_kind=upload.media_kind,
            original_width=width,
            original_height=height,
            duration_ms=duration,
            derivatives=derivatives,
            placeholder=Placeholder(
                dominant_color=rendition.placeholder.dominant_color,
                blurhash=rendition.placeholder.blurhash,
            ),
            caption=upload.caption,
            title=upload.title,
            location=upload.location,
            alt_text=upload.alt_text,
            detached=upload.detached,
            sensitive=upload.sensitive,
            content_warning=upload.content_warning,
        )

    async def _render_photo(self, upload: PhotoUploaded, workdir: Path) -> VideoRendition:
        """A photo; a GIF also gets a looping MP4 when it is animated (written to ``workdir``)."""
        store = self._store()
        try:
            data = await store.get(self.settings.s3.originals_bucket, upload.object_key)
        except ObjectNotFound:
            raise _Rejected(STAGE_FETCH, "original not found") from None
        media = self.settings.media
        started = time.perf_counter()
        try:
            if media_formats.sniff(data[:media_formats.SNIFF_BYTES]) == media_formats.GIF:
                video = await self.pool.run(render_gif, data, str(workdir), media.max_pixels,
                                            media.jpeg_quality, self.video_profile,
                                            media.avif_quality)
            else:
                rendition = await self.pool.run(render_image, data, media.max_pixels,
                                                media.jpeg_quality, media.avif_quality)
                video = VideoRendition(None, rendition.original_width,
                                       rendition.original_height, rendition)
        except MediaRejected as exc:
            raise _Rejected(STAGE_RENDER, exc.reason) from None
        metrics.MEDIA_RENDER_SECONDS.labels("photo", metrics.size_class(
            video.width, video.height)).observe(time.perf_counter() - started)
        return video

    async def _profile_image(self, upload: ProfileImageUploaded
                             ) -> ProfileImageProcessed | ProfileImageFailed:
        """Render an avatar or header and store its crops; a file that is no usable image
        (or an original that is gone) is ``profile_image.failed``: the profile keeps the
        image it had."""
        store = self._store()
        stage = STAGE_FETCH
        try:
            data = await store.get(self.settings.s3.originals_bucket, upload.object_key)
            stage = STAGE_RENDER
            media = self.settings.media
            rendered = await self.pool.run(render_profile_image, data, upload.kind,
                                           media.max_pixels, media.jpeg_quality)
        except (ObjectNotFound, MediaRejected) as exc:
            reason = exc.reason if isinstance(exc, MediaRejected) else "original not found"
            log.info("%s: %s %d of user %d failed at %s: %s", self.name, upload.kind,
                     upload.photo_id, upload.user_id, stage, reason)
            return ProfileImageFailed(photo_id=upload.photo_id, user_id=upload.user_id,
                                      kind=upload.kind, reason=reason[:MAX_REASON_CHARS],
                                      stage=stage)
        keys = [profile_image_key(upload.user_id, upload.photo_id, d.name) for d in rendered]
        await asyncio.gather(*(
            store.put(self.settings.s3.media_bucket, key, d.data, content_type=d.content_type,
                      cache_control=IMMUTABLE_CACHE_CONTROL)
            for key, d in zip(keys, rendered, strict=True)))
        return ProfileImageProcessed(
            photo_id=upload.photo_id, user_id=upload.user_id, kind=upload.kind,
            uploaded_at=upload.uploaded_at, derivatives=tuple(
                ProfileImageDerivative(name=cast(ProfileImageName, d.name), key=key, width=d.width,
                                       height=d.height, bytes=len(d.data))
                for key, d in zip(keys, rendered, strict=True)))

    async def _render_video(self, upload: PhotoUploaded, workdir: Path) -> VideoRendition:
        """Videos go to ffmpeg as a file (it seeks; a clip may be far larger than a photo)."""
        store = self._store()
        path = workdir / "original"
        try:
            await store.download(self.settings.s3.originals_bucket, upload.object_key, path)
        except ObjectNotFound:
            raise _Rejected(STAGE_FETCH, "original not found") from None
        media = self.settings.media
        started = time.perf_counter()
        try:
            video = await self.pool.run(render_video, str(path), str(workdir), media.max_pixels,
                                        media.jpeg_quality, self.video_profile,
                                        media.avif_quality)
        except MediaRejected as exc:
            raise _Rejected(STAGE_VIDEO, exc.reason) from None
        metrics.MEDIA_RENDER_SECONDS.labels(
            "video", metrics.size_class(video.width, video.height)).observe(
            time.perf_counter() - started)
        return video

    async def _store_derivatives(self, photo_id: int, rendition: Rendition,
                                 files: tuple[VideoFile, ...] = ()) -> tuple[Derivative, ...]:
        store = self._store()
        bucket = self.settings.s3.media_bucket
        keys = [derivative_key(photo_id, d.name) for d in rendition.derivatives]
        file_keys = [derivative_key(photo_id, f.name) for f in files]
        await asyncio.gather(*(
            store.put(bucket, key, d.data, content_type=d.content_type,
                      cache_control=IMMUTABLE_CACHE_CONTROL)
            for key, d in zip(keys, rendition.derivatives, strict=True)
        ), *(
            store.put_file(bucket, key, Path(f.path), content_type=MP4_CONTENT_TYPE,
                           cache_control=IMMUTABLE_CACHE_CONTROL)
            for key, f in zip(file_keys, files, strict=True)
        ))
        sizes = await asyncio.to_thread(lambda: [Path(f.path).stat().st_size for f in files])
        return tuple(
            Derivative(name=cast(DerivativeName, d.name), key=key, width=d.width,
                       height=d.height, bytes=len(d.data), content_type=d.content_type)
            for key, d in zip(keys, rendition.derivatives, strict=True)
        ) + tuple(
            Derivative(name=cast(DerivativeName, f.name), key=key, width=f.width,
                       height=f.height, bytes=size, content_type=MP4_CONTENT_TYPE)
            for key, f, size in zip(file_keys, files, sizes, strict=True)
        )

    async def _publish(self, upload_event_id: str, payload: Payload) -> None:
        """Send the outcome and wait for every in-sync replica: it must be durable before
        the runtime commits the upload's offset."""
        producer = self.producer
        if producer is None:
            raise RuntimeError(f"{self.name}.start() was not awaited")
        event: Event[Payload] = make(
            payload,
            producer=self.name,
            event_id=outcome_event_id(upload_event_id, payload.TYPE),
        )
        await producer.send_and_wait(topic_for(event.type).name, encode(event),
                                     key=key_for(event))

    def _store(self) -> ObjectStore:
        if self.store is None:
            raise RuntimeError(f"{self.name}.start() was not awaited")
        return self.store


@contextlib.asynccontextmanager
async def _scratch() -> AsyncIterator[Path]:
    """A private directory for one upload's files (video in, renditions out), removed after."""
    workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="photostream-media-"))
    try:
        yield workdir
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)


assert topic_for(PhotoProcessed.TYPE) is MEDIA_PROCESSED
assert topic_for(PhotoFailed.TYPE) is MEDIA_PROCESSED
assert topic_for(ProfileImageProcessed.TYPE) is MEDIA_PROCESSED
