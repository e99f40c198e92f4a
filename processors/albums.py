"""photostream-albums: makes an album post visible once its media are processed.

Consumes posts (``album.posted``), media.processed (its items' ``photo.processed`` /
``photo.failed``) and photos (deletions). A post becomes visible as a ``photo.processed``
of the post's own id, published here, that lists its ready items in the author's order
and carries the cover's derivatives: metadata, fan-out, search and trending then treat
it as any post, so feeds, grids and explore needed no second path.

When: as soon as every item is final (ready, failed or deleted), or at the post's
``ready_by`` bound (``PHOTOSTREAM_ALBUM_READY_TIMEOUT_SECONDS`` after posting) with the
items ready by then; the others are named in the post's ``failed_items`` (the owner
reads them at ``GET /v1/posts/{id}``). A failed item is left out, never waited on past
the bound and never shown; a post with no ready item fails (its card says why).

Ordering: the post and its items are keyed by different ids, so they arrive on
different partitions in any order. Each item's outcome is first written to its own
``photos`` row here (the idempotent writes the metadata processor also makes), then the
post's items are read: whichever of two concurrent handlers reads last sees both
outcomes, so the post is never forgotten. Which items made it is fixed once by a
compare-and-set (:func:`sinks.posts.settle`), so two deciders (an item's event and the
sweep at the bound) can never publish different posts; a crash between that and the
publish is finished by the sweep, which reads every unpublished post.

Deleting a post publishes a ``photo.deleted`` for each of its media (fixed event ids), so
their originals and derivatives leave MinIO by the usual path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.envelope import make
from schemas.media import (
    AlbumPosted,
    Derivative,
    PhotoDeleted,
    PhotoFailed,
    PhotoProcessed,
    Placeholder,
)
from schemas.topics import ALBUMS_GROUP
from sinks import cache, photos, posts
from sinks.photos import Photo

log = logging.getLogger(__name__)


def ready_event_id(post_id: int) -> str:
    """Fixed per post: a re-published post is recognisably the same event."""
    return f"album.ready:{post_id}"


def outcome(media_ids: list[int], rows: Mapping[int, Photo]) -> tuple[
        list[int], dict[int, str], list[int]]:
    """(ready ids in the author's order, failed id -> reason, ids still processing)."""
    ready: list[int] = []
    failed: dict[int, str] = {}
    waiting: list[int] = []
    for media_id in media_ids:
        row = rows.get(media_id)
        status = row.status if row is not None else None
        if status == photos.STATUS_READY:
            ready.append(media_id)
        elif status == photos.STATUS_FAILED:
            failed[media_id] = (row.failure_reason if row else None) or "processing failed"
        elif status == photos.STATUS_DELETED:
            failed[media_id] = "deleted"
        else:
            waiting.append(media_id)
    return ready, failed, waiting


class AlbumsProcessor(StoreProcessor):
    name: ClassVar[str] = ALBUMS_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = ALBUMS_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True

    async def start(self) -> None:
        await super().start()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await super().stop()

    async def handle(self, message: Message) -> None:
        event = message.event
        p = event.payload
        if isinstance(p, AlbumPosted):
            if await photos.photo_status(self.session, p.post_id) == photos.STATUS_DELETED:
                return  # its request was answered with an error (aborted), or deleted
            await posts.create(self.session, p)  # safe to repeat
            await self._assemble(p.post_id)
        elif isinstance(p, PhotoProcessed) and p.detached:
            post_id = await posts.post_of(self.session, p.photo_id)
            if post_id is not None:
                await photos.mark_processed(self.session, p, event.occurred_at)
                await self._written(p.photo_id)
                await self._assemble(post_id)
        elif isinstance(p, PhotoFailed):
            post_id = await posts.post_of(self.session, p.photo_id)
            if post_id is not None:
                await photos.mark_failed(self.session, p.photo_id, p.owner_id,
                                         f"{p.stage}: {p.reason}", event.occurred_at)
                await self._written(p.photo_id)
                await self._assemble(post_id)
        elif isinstance(p, PhotoDeleted):
            await self._deleted(p, event.occurred_at)

    async def _deleted(self, p: PhotoDeleted, at: datetime) -> None:
        post = await posts.get(self.session, p.photo_id)
        if post is not None and post.owner_id == p.owner_id:
            await posts.mark_deleted(self.session, post.post_id, at)
            # One event per item, with ids fixed by post and item: a redelivery
            # publishes the same deletions again, which every processor ignores.
            await self.publisher.publish_many([
                make(PhotoDeleted(photo_id=media_id, owner_id=post.owner_id),
                     producer=self.name, event_id=f"photo.deleted:{media_id}:post:{post.post_id}")
                for media_id in post.media_ids])
            return
        post_id = await posts.post_of(self.session, p.photo_id)
        if post_id is not None:  # one item deleted on its own while its post waits
            await photos.mark_deleted(self.session, p.photo_id, p.owner_id, at)
            await self._written(p.photo_id)
            await self._assemble(post_id)

    async def _written(self, media_id: int) -> None:
        """An item's row changed here, maybe before the metadata processor got to it: the
        read API's cached copy (an album page shows the items) is stale now."""
        await cache.invalidate(self.redis, cache.PHOTO, [media_id])

    async def _assemble(self, post_id: int, *, sweeping: bool = False) -> None:
        """Publish the post if every item is final or its bound has passed (module doc)."""
        async with self.lock(post_id):
            post = await posts.get(self.session, post_id, serial=True)
            if post is None:
                return  # album.posted not stored yet: its own handler will get here
            if post.status == posts.PUBLISHING:
                await self._publish(post)
                return
            if post.status != posts.PENDING:
                if sweeping:
                    await posts.unlist(self.session, post_id)
                return
            rows = await photos.get_photos(self.session, post.media_ids)
            ready, failed, waiting = outcome(post.media_ids, rows)
            now = datetime.now(UTC)
            if waiting and (post.ready_by is None or now < post.ready_by):
                return
            timeout = self.settings.albums.ready_timeout_seconds
            for media_id in waiting:
                failed[media_id] = f"not processed within {timeout:g} s of posting"
            if not ready:
                await self._failed(post, failed, now)
                return
            if await posts.settle(self.session, post_id, ready, failed, now):
                settled = replace(post, status=posts.PUBLISHING, ready_items=ready,
                                  failed_items=failed)
                await self._publish(settled, rows)
            else:
                again = await posts.get(self.session, post_id, serial=True)
                if again is not None and again.status == posts.PUBLISHING:
                    await self._publish(again)

    async def _publish(self, post: posts.Post, rows: Mapping[int, Photo] | None = None) -> None:
        cover_id = post.ready_items[0]
        cover = (rows or {}).get(cover_id) or await photos.get_photo(self.session, cover_id)
        if cover is None or cover.width is None or cover.height is None:
            log.error("%s: post %d: cover %d has no stored rendition", self.name,
                      post.post_id, cover_id)
            return
        ready = PhotoProcessed(
            photo_id=post.post_id,
            owner_id=post.owner_id,
            media_kind="video" if cover.media_kind == "video" else "photo",
            original_width=cover.width,
            original_height=cover.height,
            duration_ms=cover.duration_ms,
            derivatives=tuple(Derivative(name=d["name"], key=d["key"], width=d["width"],
                                         height=d["height"], bytes=d["bytes"],
                                         content_type=d["content_type"])
                              for d in cover.derivatives),
            placeholder=Placeholder(dominant_color=cover.dominant_color or "#808080",
                                    blurhash=cover.blurhash),
            caption=post.caption,
            title=post.title,
            location=post.location,
            sensitive=post.sensitive,
            content_warning=post.content_warning,
            items=tuple(post.ready_items),
        )
        await self.publisher.publish(make(ready, producer=self.name,
                                          event_id=ready_event_id(post.post_id)))
        await posts.mark_published(self.session, post.post_id, datetime.now(UTC))
        if post.failed_items:
            log.info("%s: post %d published with %d of %d items (failed: %s)", self.name,
                     post.post_id, len(post.ready_items), len(post.media_ids),
                     ", ".join(f"{k} ({v})" for k, v in post.failed_items.items()))

    async def _failed(self, post: posts.Post, failed: dict[int, str], at: datetime) -> None:
        """No item made it: the post fails, and its card tells the owner why."""
        reason = "no item of the album was processed: " + "; ".join(
            f"{media_id}: {why}" for media_id, why in failed.items())
        await posts.mark_failed(self.session, post.post_id, failed, at)
        await photos.mark_failed(self.session, post.post_id, post.owner_id, reason[:2000], at)
        await cache.invalidate(self.redis, cache.PHOTO, [post.post_id])

    async def _sweep_forever(self) -> None:
        """Every ``sweep_seconds``: assemble the posts whose bound has passed."""
        interval = self.settings.albums.sweep_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                now = datetime.now(UTC)
                for post_id, ready_by in await posts.pending(self.session):
                    if ready_by is None or ready_by <= now:
                        await self._assemble(post_id, sweeping=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # a backend hiccup: the next round tries again
                log.warning("%s: sweep failed", self.name, exc_info=True)
