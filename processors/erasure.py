"""The account-deletion sweep: everything a deleted person did, as per-item events.

Why per-item events instead of one processor deleting everything: each kind of thing
already has one correct, idempotent deletion path with its own single writer (a photo's
``photo.deleted`` removes its row, search rows, trending counts, objects and timeline
entries; ``like.removed`` and ``comment.deleted`` bring another owner's counts down on
the processor that owns that photo's partition; ``follow.removed`` corrects both sides'
counts and the unfollower's timeline). The sweep only *lists* what the person did and
publishes those events, so a person with a hundred thousand likes costs a hundred
thousand small, independently retried events spread over every partition, not one
handler that must finish it all.

What is listed, in this order (the order is what makes a redelivered ``user.deleted``
complete a sweep that crashed half-way):

1. their ready photos (``photos_by_user``): a ``photo.deleted`` each, and, before it,
   ``fanout.chunk`` removals of the photo from the timelines of everyone who follows
   them *now*. The followers are read here, before step 2 publishes a single unfollow,
   so the list is whole; the fan-out planner's own removal for ``photo.deleted`` reads
   the follower list later, when some edges may already be gone. (For the people whose
   edge is still there, the two removals overlap: harmless, both are tombstones.)
   Then their album media (``detached_by_owner``), posted or not: a ``photo.deleted``
   each.
2. the follow graph both ways, and pending requests to them: ``follow.removed`` each;
3. their likes (``likes_by_user``): ``like.removed`` each, with the photo's owner;
4. their comments (``comments_by_user``): ``comment.deleted`` each.

Photos still processing are not listed: the metadata processor deletes them when their
processing ends (:mod:`processors.metadata`). Pending requests *from* the person are
partitioned by the account they asked to follow, so they are not listed either; the
graph processor refuses to approve them (:mod:`processors.graph`).

Event ids are fixed per (account, item), so a second sweep publishes the same events
and every consumer's effect is the same tombstone again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cassandra.cluster import Session

from infra.connect.publisher import Publisher
from schemas.engagement import CommentDeleted, LikeRemoved
from schemas.envelope import Event, make
from schemas.fanout import MAX_CHUNK, FanoutChunk, chunk_id
from schemas.graph import FollowRemoved
from schemas.media import PhotoDeleted
from schemas.payload import Payload
from sinks import engagement, graph, photos

log = logging.getLogger(__name__)

#: Items read per page of a listing (photos, followers, likes, comments).
PAGE = 500
#: Events per ``publish_many`` (one wait for the broker's acknowledgements).
PUBLISH_BATCH = 500
#: Salt of this sweep's chunk ids, so they never equal the fan-out planner's own
#: ``remove`` chunks of the same photo (those carry other follower lists).
CHUNK_SALT = "account-deleted"


@dataclass
class Swept:
    """How many events of each kind one sweep published (logged, and asserted by tests)."""

    photos: int = 0
    chunks: int = 0
    follows: int = 0
    likes: int = 0
    comments: int = 0
    skipped: int = 0
    """Likes and comments on photos with no stored row (no owner to name, nothing shown)."""


class Sweep:
    """Publishes the per-item deletions of one account (module doc); one per sweep."""

    def __init__(self, session: Session, publisher: Publisher, *, producer: str,
                 chunk_size: int) -> None:
        self.session = session
        self.publisher = publisher
        self.producer = producer
        self.chunk_size = max(1, min(chunk_size, MAX_CHUNK))
        self._pending: list[Event[Payload]] = []

    async def run(self, user_id: int, at: datetime) -> Swept:
        """List and publish everything; returns once the broker has all of it."""
        swept = Swept()
        await self._photos(user_id, at, swept)
        await self._album_media(user_id, at, swept)
        await self._follows(user_id, at, swept)
        await self._likes(user_id, at, swept)
        await self._comments(user_id, at, swept)
        await self._flush()
        log.info("%s: account %d swept: %d photos (%d timeline chunks), %d follows, "
                 "%d likes, %d comments", self.producer, user_id, swept.photos,
                 swept.chunks, swept.follows, swept.likes, swept.comments)
        return swept

    async def _photos(self, user_id: int, at: datetime, swept: Swept) -> None:
        async for page in keyset_pages(lambda before: photos.recent_photos(
                self.session, user_id, limit=PAGE, before=before)):
            index = 0
            async for audience in self._audiences(user_id):
                for photo_id in page:
                    await self._emit(self._chunk(photo_id, user_id, index, audience),
                                     f"{CHUNK_SALT}-{photo_id}-{index}", at)
                    swept.chunks += 1
                index += 1
            for photo_id in page:
                await self._emit(PhotoDeleted(photo_id=photo_id, owner_id=user_id),
                                 f"photo.deleted:{photo_id}:account", at)
                swept.photos += 1

    async def _album_media(self, user_id: int, at: datetime, swept: Swept) -> None:
        """Media uploaded for albums (``detached_by_owner``): in no grid, so not listed by
        :meth:`_photos`; a posted one goes with its post too (the same tombstone)."""
        async for page in keyset_pages(lambda before: photos.detached_media(
                self.session, user_id, limit=PAGE, before=before)):
            for media_id in page:
                await self._emit(PhotoDeleted(photo_id=media_id, owner_id=user_id),
                                 f"photo.deleted:{media_id}:account", at)
                swept.photos += 1

    async def _audiences(self, user_id: int) -> AsyncIterator[list[int]]:
        """The owner (their own timeline shows their photos) and then everyone who
        follows them, in lists of at most ``chunk_size`` ids, read once per photo page."""
        buffer = [user_id]
        async for ids in graph.iter_followers(self.session, user_id,
                                              fetch_size=self.chunk_size):
            buffer.extend(f for f in ids if f != user_id)
            while len(buffer) >= self.chunk_size:
                yield buffer[:self.chunk_size]
                del buffer[:self.chunk_size]
        if buffer:
            yield buffer

    def _chunk(self, photo_id: int, owner_id: int, index: int,
               follower_ids: Sequence[int]) -> FanoutChunk:
        return FanoutChunk(chunk_id=chunk_id(photo_id, CHUNK_SALT, index), action="remove",
                           photo_id=photo_id, owner_id=owner_id, chunk_index=index,
                           chunk_count=index + 1, follower_ids=tuple(follower_ids))

    async def _follows(self, user_id: int, at: datetime, swept: Swept) -> None:
        async for page in keyset_pages(lambda after: graph.followers_page(
                self.session, user_id, after=after, limit=PAGE)):
            for follower in page:
                await self._emit(FollowRemoved(follower_id=follower, followee_id=user_id),
                                 f"follow.removed:{follower}:{user_id}:account", at)
                swept.follows += 1
        async for page in keyset_pages(lambda after: graph.following_page(
                self.session, user_id, after=-1 if after is None else after, limit=PAGE)):
            for followee in page:
                await self._emit(FollowRemoved(follower_id=user_id, followee_id=followee),
                                 f"follow.removed:{user_id}:{followee}:account", at)
                swept.follows += 1
        for follower in await graph.pending_requests(self.session, user_id):
            await self._emit(FollowRemoved(follower_id=follower, followee_id=user_id),
                             f"follow.removed:{follower}:{user_id}:account", at)
            swept.follows += 1

    async def _likes(self, user_id: int, at: datetime, swept: Swept) -> None:
        async for page in keyset_pages(lambda before: engagement.liked_photos(
                self.session, user_id, PAGE, before=before)):
            owners = await self._owners(page)
            for photo_id in page:
                if photo_id not in owners:
                    swept.skipped += 1
                    continue
                await self._emit(LikeRemoved(photo_id=photo_id, user_id=user_id,
                                             owner_id=owners[photo_id]),
                                 f"like.removed:{photo_id}:{user_id}:account", at)
                swept.likes += 1

    async def _comments(self, user_id: int, at: datetime, swept: Swept) -> None:
        before: int | None = None
        while True:
            page = await engagement.authored_comments(self.session, user_id, PAGE,
                                                      before=before)
            if not page:
                return
            owners = await self._owners([photo_id for _, photo_id in page])
            for comment_id, photo_id in page:
                if photo_id not in owners:
                    swept.skipped += 1
                    continue
                await self._emit(CommentDeleted(comment_id=comment_id, photo_id=photo_id,
                                                owner_id=owners[photo_id], user_id=user_id),
                                 f"comment.deleted:{comment_id}:account", at)
                swept.comments += 1
            if len(page) < PAGE:
                return
            before = page[-1][0]

    async def _owners(self, photo_ids: Sequence[int]) -> dict[int, int]:
        """The owner of each photo whose row names one (likes and comments carry it)."""
        rows = await photos.get_photos(self.session, photo_ids)
        return {pid: p.owner_id for pid, p in rows.items() if p.owner_id is not None}

    async def _emit(self, payload: Payload, event_id: str, at: datetime) -> None:
        self._pending.append(make(payload, producer=self.producer, event_id=event_id,
                                  occurred_at=at))
        if len(self._pending) >= PUBLISH_BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            await self.publisher.publish_many(batch)


async def keyset_pages(read: Callable[[int | None], Awaitable[list[int]]]
                  ) -> AsyncIterator[list[int]]:
    """Pages of ids from a keyset-paged listing until a short page ends it.

    ``read(cursor)`` returns the page after ``cursor`` (None: the first page), whose last
    id is the next cursor whichever way the listing is sorted.
    """
    cursor: int | None = None
    while True:
        page = await read(cursor)
        if page:
            yield page
        if len(page) < PAGE:
            return
        cursor = page[-1]
