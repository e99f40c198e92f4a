"""photostream-metadata: photo rows, per-user photo lists and the search index.

Consumes media.processed (ready / failed) and photos (deleted / caption edited). The
two topics are not ordered against each other, so every effect is commutative: the
deletion tombstone wins over a late ``photo.processed``, captions are last-writer-wins
by event time, and the search index converges to the stored row (see the sinks).
Events of one photo from the two topics can be in flight together in this process, so
they take the photo's lock; across processes the sinks' LWTs and re-checks hold.
"""

from __future__ import annotations

from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.media import PhotoCaptionEdited, PhotoDeleted, PhotoFailed, PhotoProcessed
from schemas.topics import METADATA_GROUP
from sinks import cache, photos, search


class MetadataProcessor(StoreProcessor):
    name: ClassVar[str] = METADATA_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = METADATA_GROUP.topic_names
    uses_redis: ClassVar[bool] = True

    async def handle(self, message: Message) -> None:
        event = message.event
        payload = event.payload
        if not isinstance(payload, PhotoProcessed | PhotoFailed | PhotoDeleted
                          | PhotoCaptionEdited):
            return  # another event type on these topics: not ours
        async with self.lock(payload.photo_id):
            if isinstance(payload, PhotoProcessed):
                await photos.mark_processed(self.session, payload, event.occurred_at)
            elif isinstance(payload, PhotoFailed):
                reason = f"{payload.stage}: {payload.reason}"
                await photos.mark_failed(self.session, payload.photo_id, payload.owner_id,
                                         reason, event.occurred_at)
            elif isinstance(payload, PhotoDeleted):
                await photos.mark_deleted(self.session, payload.photo_id, payload.owner_id,
                                          event.occurred_at)
            else:
                await photos.set_caption(self.session, payload.photo_id, payload.caption,
                                         payload.title, event.occurred_at)
            # Always converge, even when nothing changed: a redelivery after a crash
            # between the row write and the index write must finish the index.
            await search.reindex_photo(self.session, payload.photo_id)
            # The read API's cached photo (status, caption) and the owner's photo count
            # are stale now. Invalidated on every event, changed or not (see above).
            await cache.invalidate(self.redis, cache.PHOTO, [payload.photo_id])
            await cache.invalidate(self.redis, cache.USER_COUNTS, [payload.owner_id])
            await cache.invalidate(self.redis, cache.RECENT, [payload.owner_id])
