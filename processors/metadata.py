"""photostream-metadata: photo rows, per-user photo lists, the search index and the
objects of deleted photos.

Consumes media.processed (ready / failed) and photos (deleted / caption edited). The
two topics are not ordered against each other, so every effect is commutative: the
deletion tombstone wins over a late ``photo.processed``, captions are last-writer-wins
by event time, and the search index converges to the stored row (see the sinks).
Events of one photo from the two topics can be in flight together in this process, so
they take the photo's lock; across processes (two copies during a rebalance) the
sinks' write timestamps decide, with no Paxos: a processed photo costs one read of its
row, which also feeds the search index.

A deleted photo's original and derivatives are removed from MinIO
(:mod:`sinks.photo_objects`), on the deletion and again on any ``photo.processed`` that
meets its tombstone (the media processor may write derivatives after the deletion ran).
An upload of an account deleted while it was processing comes out as a photo nobody
will ever delete: its ``photo.processed`` (or ``photo.failed``) is answered with a
``photo.deleted`` of our own, so every processor removes it the usual way.

A rendered avatar or header (``profile_image.processed``) becomes the profile's
(:func:`sinks.users.set_profile_image`: the newest upload wins) and the cached profile
is dropped, so every account and profile read shows it from then on. One of an account
deleted meanwhile is removed instead, with every other image of that account. A
``profile_image.failed`` changes nothing: the profile keeps the image it had.
"""

from __future__ import annotations

from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.envelope import make
from schemas.media import (
    PhotoAltTextEdited,
    PhotoCaptionEdited,
    PhotoDeleted,
    PhotoFailed,
    PhotoProcessed,
)
from schemas.profile_images import ProfileImageProcessed
from schemas.topics import METADATA_GROUP
from sinks import cache, photos, search, users
from sinks.objects import ObjectStore
from sinks.photo_objects import remove_photo_objects, remove_profile_images


class MetadataProcessor(StoreProcessor):
    name: ClassVar[str] = METADATA_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = METADATA_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True

    async def start(self) -> None:
        await super().start()
        self.store = ObjectStore.from_settings(self.settings)

    async def handle(self, message: Message) -> None:
        event = message.event
        payload = event.payload
        if isinstance(payload, ProfileImageProcessed):
            await self._profile_image(payload)
            return
        if not isinstance(payload, PhotoProcessed | PhotoFailed | PhotoDeleted
                          | PhotoCaptionEdited | PhotoAltTextEdited):
            return  # another event type on these topics: not ours
        if (isinstance(payload, PhotoProcessed | PhotoFailed)
                and await users.is_deleted(self.session, payload.owner_id)):
            await self._orphaned(payload.photo_id, payload.owner_id)
            return
        async with self.lock(payload.photo_id):
            stored = None
            if isinstance(payload, PhotoProcessed):
                stored = await photos.mark_processed(self.session, payload, event.occurred_at)
                if stored.deleted:
                    await remove_photo_objects(self.store, self.settings, payload.photo_id)
            elif isinstance(payload, PhotoFailed):
                reason = f"{payload.stage}: {payload.reason}"
                await photos.mark_failed(self.session, payload.photo_id, payload.owner_id,
                                         reason, event.occurred_at)
            elif isinstance(payload, PhotoDeleted):
                await photos.mark_deleted(self.session, payload.photo_id, payload.owner_id,
                                          event.occurred_at)
                await remove_photo_objects(self.store, self.settings, payload.photo_id)
            elif isinstance(payload, PhotoAltTextEdited):
                await photos.set_alt_text(self.session, payload.photo_id, payload.alt_text,
                                          event.occurred_at)
            else:
                await photos.set_caption(self.session, payload.photo_id, payload.caption,
                                         payload.title, event.occurred_at)
            # Always converge, even when nothing changed: a redelivery after a crash
            # between the row write and the index write must finish the index.
            await search.reindex_photo(self.session, payload.photo_id, stored)
            # The read API's cached photo (status, caption) and the owner's photo count
            # are stale now. Invalidated on every event, changed or not (see above).
            await cache.invalidate_photo(self.redis, payload.photo_id, payload.owner_id)

    async def _profile_image(self, image: ProfileImageProcessed) -> None:
        """Show the rendered image on its profile, or remove it if the account is gone."""
        async with self.lock(image.user_id):
            if await users.is_deleted(self.session, image.user_id):
                await remove_profile_images(self.store, self.settings, image.user_id)
                return
            await users.set_profile_image(self.session, image.user_id, image.kind,
                                          image.photo_id, image.uploaded_at)
            # Always, changed or not: a redelivery may follow a crash before this line.
            await cache.invalidate(self.redis, cache.PROFILE, [image.user_id])

    async def _orphaned(self, photo_id: int, owner_id: int) -> None:
        """Delete the upload of an account that no longer exists (module doc).

        The event id is fixed per photo, so a redelivery publishes the same deletion.
        """
        deletion = PhotoDeleted(photo_id=photo_id, owner_id=owner_id)
        await self.publisher.publish(make(deletion, producer=self.name,
                                           event_id=f"photo.deleted:{photo_id}:account"))
