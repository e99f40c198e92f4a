"""photostream-trending: explore's hashtag window and popular-photo ranking.

Runs on the shared at-least-once runtime, not faust (measured why: README, Guarantees).
Every effect is idempotent (see :mod:`sinks.trending`): counts are set cardinalities
written as absolute scores, so a redelivered event changes nothing.

Only what explore may show is counted: ready photos (``photo.processed``) of authors
whose stored profile is public, posted within the kept window, never a tombstoned photo.
A ``photo.deleted`` uncounts; an author turning private uncounts their recent photos
(those listed in ``photos_by_user``). Photo topics, likes and comments are all keyed and
co-partitioned by photo id, so one instance owns each photo; the photo lock serializes
its events within this process.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved
from schemas.media import PhotoCaptionEdited, PhotoDeleted, PhotoProcessed
from schemas.topics import TRENDING_GROUP
from schemas.users import UserProfileUpdated, UserRegistered
from sinks import photos, trending, users
from sinks.search_terms import hashtags

#: How many of an author's newest photos are looked at when they turn private.
_PRIVATE_SCAN = 500


class TrendingProcessor(StoreProcessor):
    name: ClassVar[str] = TRENDING_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = TRENDING_GROUP.topic_names
    uses_redis: ClassVar[bool] = True

    async def handle(self, message: Message) -> None:
        p = message.event.payload
        if isinstance(p, PhotoProcessed) and not p.detached:  # album items are no posts
            async with self.lock(p.photo_id):
                await self._ready(p)
        elif isinstance(p, PhotoCaptionEdited):
            async with self.lock(p.photo_id):
                await self._recaptioned(p, message.event.occurred_at)
        elif isinstance(p, PhotoDeleted):
            async with self.lock(p.photo_id):
                await self._deleted(p.photo_id, p.owner_id)
        elif isinstance(p, LikeAdded | LikeRemoved):
            await self._engaged(p.photo_id, like_by=p.user_id,
                                present=isinstance(p, LikeAdded))
        elif isinstance(p, CommentAdded | CommentDeleted):
            await self._engaged(p.photo_id, comment=p.comment_id,
                                present=isinstance(p, CommentAdded))
        elif isinstance(p, UserRegistered | UserProfileUpdated) and p.private:
            await self._went_private(p.user_id)

    async def _ready(self, p: PhotoProcessed) -> None:
        if not trending.is_recent(p.photo_id):
            return
        known = await trending.counted(self.session, p.photo_id)
        if known is not None and known.deleted:
            return
        if await users.is_private(self.session, p.owner_id):
            return  # unknown authors count as private: explore is public
        tags = hashtags(p.caption, p.title)
        # Recorded first: a deletion that runs while we count finds what to uncount.
        await trending.record_tags(self.session, p.photo_id, p.owner_id, tags)
        await trending.count_photo(self.redis, p.photo_id, tags)
        await trending.admit_popular(self.redis, p.photo_id)
        after = await trending.counted(self.session, p.photo_id)
        if after is not None and after.deleted:
            # Deleted by another instance (a rebalance overlap) while we counted.
            await trending.uncount_photo(self.redis, p.photo_id, tags)

    async def _recaptioned(self, p: PhotoCaptionEdited, at: datetime) -> None:
        """Hashtags follow a caption edit: uncount the tags the edit removed, count new ones.

        The stored caption decides (last writer wins by event time, the same write the
        metadata processor makes, applied here first so this group need not wait for it),
        so edits handled out of order still converge on the newest caption's tags.
        """
        known = await trending.counted(self.session, p.photo_id)
        if known is None or known.deleted:
            return  # never counted (private, old, not ready yet): nothing to move
        await photos.set_caption(self.session, p.photo_id, p.caption, p.title, at)
        text = await photos.photo_text(self.session, p.photo_id)
        if text is None or not text.ready:
            return
        tags = hashtags(text.caption, text.title)
        await trending.record_tags(self.session, p.photo_id, p.owner_id, tags)
        await trending.uncount_tags(self.redis, p.photo_id,
                                    [tag for tag in known.tags if tag not in tags])
        await trending.count_photo(self.redis, p.photo_id, tags)

    async def _deleted(self, photo_id: int, owner_id: int) -> None:
        await trending.tombstone(self.session, photo_id, owner_id)
        known = await trending.counted(self.session, photo_id)
        await trending.uncount_photo(self.redis, photo_id, known.tags if known else ())
        await trending.forget_engagement(self.redis, photo_id)

    async def _engaged(self, photo_id: int, *, like_by: int | None = None,
                       comment: int | None = None, present: bool) -> None:
        if not trending.is_recent(photo_id):
            return
        async with self.lock(photo_id):
            await trending.set_engaged(self.redis, photo_id, like_by=like_by,
                                       comment=comment, present=present)

    async def _went_private(self, user_id: int) -> None:
        for photo_id in await photos.recent_photos(self.session, user_id, _PRIVATE_SCAN):
            if not trending.is_recent(photo_id):
                break  # newest first: the rest are older still
            async with self.lock(photo_id):
                known = await trending.counted(self.session, photo_id)
                if known is not None:
                    await trending.uncount_photo(self.redis, photo_id, known.tags)
