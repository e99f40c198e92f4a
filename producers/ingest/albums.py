"""Album posts: make a post of media uploaded before, or upload several files at once.

Media for an album are uploaded *detached* (``POST /v1/media`` with ``detached=true``):
each gets its id and is processed at once, as any upload, but is shown only through a
post. ``POST /v1/posts`` then names the media in the author's order; the albums
processor (:mod:`processors.albums`) makes the post visible once they are processed.

The write contract is the upload's (:mod:`producers.ingest.uploads`): ``album.posted``
acknowledged by Kafka is the commit point and the last step; before it, everything is
idempotent and invisible (the media claims, the post's ``processing`` photo row; the
``posts`` row is the processor's, written from the event). A failed publish is aborted:
the post's row is tombstoned by the same compare-and-set as an upload's, and the albums
processor drops an event that meets that tombstone; its claims are released, unless a
processor had already made it ready, in which case the post is accepted after all. A retry with the
same ``Idempotency-Key`` gets the same post id (the claim table of uploads, under its own
key space).

Each media id can be in one post only: claimed with ``INSERT ... IF NOT EXISTS`` before
anything else is written (409 for the second post); another user's media is 403, so
nobody can post someone else's photo as their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from infra.connect.publisher import PublishError
from infra.http.problems import Problem
from producers.ingest.multipart import AlbumForm
from producers.ingest.uploads import Details, IngestService
from schemas.envelope import Event, InvalidEvent, make
from schemas.media import AlbumPosted
from sinks import photos, posts

PRODUCER = "ingest"


def event_id_for(post_id: int) -> str:
    return f"{AlbumPosted.TYPE}:{post_id}"


def _invalid(exc: InvalidEvent) -> Problem:
    field = (exc.field or "").removeprefix("payload.")
    return Problem(422, "invalid-field", f"{field or 'request'}: {exc.reason}",
                   extra={"field": field})


class Albums:
    """The album use cases, on the upload service's clients."""

    def __init__(self, ingest: IngestService) -> None:
        self.ingest = ingest
        self.session = ingest.session
        self.max_items = ingest.settings.albums.max_items

    def _event(self, post_id: int, owner_id: int, media_ids: Sequence[int],
               details: Details) -> Event[AlbumPosted]:
        now = datetime.now(UTC)
        timeout = timedelta(seconds=self.ingest.settings.albums.ready_timeout_seconds)
        try:
            return make(AlbumPosted(
                post_id=post_id, owner_id=owner_id, media_ids=tuple(media_ids),
                caption=details.caption, title=details.title, location=details.location,
                sensitive=details.sensitive, content_warning=details.content_warning,
                posted_at=now, ready_by=now + timeout,
            ), producer=PRODUCER, event_id=event_id_for(post_id))
        except InvalidEvent as exc:
            raise _invalid(exc) from None

    def check_count(self, count: int) -> None:
        if not 1 <= count <= self.max_items:
            raise Problem(422, "album-size",
                          f"a post holds 1 to {self.max_items} media, not {count}",
                          extra={"max_items": self.max_items})

    async def create(self, owner_id: int, media_ids: Sequence[int], details: Details,
                     idempotency_key: str | None) -> int:
        """Make a post of ``owner_id``'s detached media, in this order; returns its id."""
        self.check_count(len(media_ids))
        if len(set(media_ids)) != len(media_ids):
            raise Problem(422, "duplicate-media", "a media id is listed twice")
        self._event(0, owner_id, media_ids, details)  # 422 before any work
        if idempotency_key is None:
            post_id = await self.ingest.ids.anext_id(owner_id)
            await self._create(post_id, owner_id, media_ids, details)
            return post_id
        claims = self.ingest.claims
        key = f"post:{idempotency_key}"
        claim = await claims.acquire(owner_id, key, lambda: self.ingest.ids.anext_id(owner_id),
                                     self.ingest.photos.state)
        if claim.lease is None:
            return claim.photo_id
        try:
            await self._create(claim.photo_id, owner_id, media_ids, details)
        except BaseException:
            with contextlib.suppress(Exception):
                await claims.release(owner_id, key, claim.lease)
            raise
        await self.ingest.mark_committed(claims.commit(owner_id, key))
        return claim.photo_id

    async def _create(self, post_id: int, owner_id: int, media_ids: Sequence[int],
                      details: Details) -> None:
        """Claims and the post's pre-commit row, then ``album.posted`` (the commit point).

        Nothing here makes the post: the albums processor does, from the event (it writes
        the ``posts`` row), so a request that fails before the publish leaves only the
        invisible ``processing`` row and gives its claims back.
        """
        await self._check_media(owner_id, media_ids)
        event = self._event(post_id, owner_id, media_ids, details)
        claimed: list[int] = []
        try:
            for media_id in media_ids:
                holder = await posts.claim_media(self.session, media_id, post_id, owner_id)
                if holder != post_id:
                    raise Problem(409, "media-in-another-post",
                                  f"media {media_id} is already in post {holder}",
                                  extra={"media_id": str(media_id), "post_id": str(holder)})
                claimed.append(media_id)
            await self.ingest.photos.record_post(event.payload)
        except BaseException:
            with contextlib.suppress(Exception):
                await posts.release_media(self.session, claimed, post_id)
            raise
        try:
            await self.ingest.publisher.publish(event)
        except PublishError:
            # Ambiguous: the event may have landed. The tombstone makes the processor
            # drop it (and every processor ignore the post) unless it was made already.
            outcome = await self.ingest.photos.abort(post_id, event.payload.owner_id)
            if outcome.processed:
                return  # the event landed and the post is already made
            with contextlib.suppress(Exception):
                await posts.release_media(self.session, media_ids, post_id)
            raise

    async def _check_media(self, owner_id: int, media_ids: Sequence[int]) -> None:
        """403 for another user's media, 404 for unknown or deleted ones, 409 for media
        that is a post of its own (uploaded without ``detached``)."""
        rows = await photos.get_photos(self.session, media_ids)
        for media_id in media_ids:
            row = rows.get(media_id)
            if row is None or row.deleted or row.owner_id is None:
                raise Problem(404, "media-not-found", f"media {media_id} not found",
                              extra={"media_id": str(media_id)})
            if row.owner_id != owner_id:
                raise Problem(403, "forbidden", f"media {media_id} belongs to another user",
                              extra={"media_id": str(media_id)})
            if not row.detached:
                raise Problem(409, "media-is-a-post",
                              f"media {media_id} was uploaded as a post of its own; upload "
                              "album media with detached=true",
                              extra={"media_id": str(media_id)})

    async def upload(self, owner_id: int, form: AlbumForm, details: Details,
                     idempotency_key: str | None) -> tuple[int, list[int]]:
        """One request, several files: each is uploaded detached (with its alt text, in
        order), then the post is made. Returns (post id, media ids).

        With an ``Idempotency-Key`` every step has a key derived from it, so a retry
        redoes nothing that was done and makes the same post.
        """
        self.check_count(len(form.files))
        alt_texts = form.repeated.get("alt_text", [])
        if len(alt_texts) > len(form.files):
            raise Problem(422, "invalid-field", "more alt_text fields than files",
                          extra={"field": "alt_text"})
        self._event(0, owner_id, [0] * len(form.files), details)  # 422 before any work
        media_ids = []
        for index, upload in enumerate(form.files):
            item = Details(alt_text=alt_texts[index] if index < len(alt_texts) else "",
                           detached=True)
            key = None if idempotency_key is None else f"{idempotency_key}:item:{index}"
            media_ids.append(await self.ingest.upload(owner_id, upload, item, key))
        post_id = await self.create(owner_id, media_ids, replace(details, alt_text=""),
                                    idempotency_key)
        return post_id, media_ids
