"""Avatar and header uploads: the original to MinIO, then ``profile_image.uploaded``.

The door answers what it can know without decoding (:func:`check_header`): a file too
large (413), not an image type we decode (415), a header that does not parse or declares
too many pixels (422). The render (media processor) finds the rest; a file it refuses
leaves the image the profile had, so a profile never points at a broken URL.

Each upload gets its own image id, so its keys are new and a replaced avatar's URLs stay
valid while caches still hand them out; the profile shows the image uploaded last,
whatever order renders finish in (:func:`sinks.users.set_profile_image`). The event id
is derived from the image id: a redelivery renders the same bytes to the same keys.
Published with acks=all before the answer; a publish that fails is a 503, and if the
broker did take the event the image appears anyway (a harmless outcome for a profile
picture, so no abort protocol as photos have).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from infra.http.problems import Problem
from infra.settings import Settings
from processors.media.derivatives import MediaRejected
from processors.media.profile_images import check_header
from producers.ingest.events import Emitter
from producers.ingest.multipart import UploadForm, too_large
from producers.ingest.storage import Originals
from schemas.ids import IdGenerator
from schemas.media_formats import IMAGE_TYPES, accept
from schemas.profile_images import ProfileImageKind, ProfileImageUploaded
from sinks.media_keys import profile_original_key

KINDS: tuple[ProfileImageKind, ...] = ("avatar", "header")


def _refused(reason: str) -> Problem:
    return Problem(422, "invalid-image", reason, extra={"reason": reason})


def _not_an_image() -> Problem:
    kinds = sorted(IMAGE_TYPES)
    return Problem(415, "unsupported-media-type",
                   f"an avatar or header must be an image (accepted: {', '.join(kinds)})",
                   extra={"accepted": kinds})


class ProfileImages:
    """Accepts avatar and header files for the render (module doc)."""

    def __init__(self, originals: Originals, emitter: Emitter, ids: IdGenerator,
                 settings: Settings) -> None:
        self.originals = originals
        self.emitter = emitter
        self.ids = ids
        self.settings = settings

    @property
    def max_bytes(self) -> int:
        return self.settings.ingest.max_profile_image_bytes

    async def check(self, form: UploadForm) -> str:
        """The door (module doc): the file's content type, or the Problem that refuses it."""
        if form.size > self.max_bytes:
            raise too_large(self.max_bytes)
        content_type = accept(form.head)
        if content_type is None or content_type not in IMAGE_TYPES:
            raise _not_an_image()
        try:
            await asyncio.to_thread(check_header, form.head, form.file,
                                    max_pixels=self.settings.media.max_pixels)
        except MediaRejected as exc:
            if exc.reason.startswith("not an image"):
                raise _not_an_image() from None
            raise _refused(exc.reason) from None
        return content_type

    async def upload(self, user: int, kind: ProfileImageKind, form: UploadForm) -> int:
        """Check ``form``'s file at the door, store it and queue its render; returns the
        profile image id."""
        content_type = await self.check(form)
        image_id = await self.ids.anext_id(user)
        key = profile_original_key(user, image_id)
        await self.originals.put(key, form.file, form.size, content_type)
        await self.emitter.emit(ProfileImageUploaded(
            photo_id=image_id, user_id=user, kind=kind, object_key=key,
            content_type=content_type, size_bytes=form.size, uploaded_at=datetime.now(UTC),
        ), event_id=f"{ProfileImageUploaded.TYPE}:{image_id}")
        return image_id
