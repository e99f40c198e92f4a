"""``POST /v1/stories``: a 24-hour story, stored as uploaded and announced.

Stories get no derivatives (they expire in a day), so the browser shows the stored
bytes themselves: only image types every browser renders are accepted. The object is
written to the media bucket under :func:`sinks.media_keys.story_key` *before*
``story.posted`` is published, so no consumer ever sees a story whose image is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from infra.http.problems import Problem
from producers.ingest.events import Emitter
from producers.ingest.multipart import UploadForm
from producers.ingest.storage import Originals
from schemas.engagement import StoryPosted
from schemas.ids import IdGenerator
from schemas.media_formats import GIF, JPEG, PNG, WEBP, accept
from sinks.media_keys import story_key

STORY_TYPES = frozenset({JPEG, PNG, GIF, WEBP})


class Stories:
    def __init__(self, media: Originals, emitter: Emitter, ids: IdGenerator) -> None:
        self.media = media  # the bucket facade, pointed at the media bucket
        self.emitter = emitter
        self.ids = ids

    async def post(self, user: int, form: UploadForm) -> int:
        """Store the image, publish ``story.posted``; returns the story id."""
        content_type = accept(form.head)
        if content_type not in STORY_TYPES:
            kinds = ", ".join(sorted(STORY_TYPES))
            raise Problem(415, "unsupported-media-type",
                          f"a story must be an image the browser can show ({kinds})",
                          extra={"accepted": sorted(STORY_TYPES)})
        story_id = await self.ids.anext_id(user)
        key = story_key(story_id)
        form.file.seek(0)
        await self.media.put(key, form.file, form.size, content_type)
        await self.emitter.emit(
            StoryPosted(story_id=story_id, user_id=user, media_key=key,
                        posted_at=datetime.now(UTC)),
            event_id=f"{StoryPosted.TYPE}:{story_id}",
        )
        return story_id
