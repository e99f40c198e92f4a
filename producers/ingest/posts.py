"""Writes about existing posts: likes, comments, caption edits and deletion.

Each method checks what the caller may do against the stored state (404 for a photo
they cannot see, 403 for an owner-only action or a like or comment across a block),
then publishes one event. The effect
is applied by the stream processors, so a repeated like is harmless (counted once
there) and the client updates optimistically.
"""

from __future__ import annotations

from cassandra.cluster import Session

from infra.http.problems import Problem
from producers.ingest.events import Emitter
from producers.ingest.lookups import (
    BlockGuard,
    forbidden,
    not_found,
    owned_photo,
    visible_photo,
)
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved
from schemas.ids import IdGenerator
from schemas.media import PhotoAltTextEdited, PhotoCaptionEdited, PhotoDeleted
from sinks import engagement
from sinks.posts import post_of


class Posts:
    def __init__(self, session: Session, emitter: Emitter, ids: IdGenerator,
                 guard: BlockGuard) -> None:
        self.session = session
        self.emitter = emitter
        self.ids = ids
        self.guard = guard

    async def like(self, user: int, photo_id: int, *, liked: bool) -> None:
        """``like.added`` (or ``like.removed``), carrying the photo's owner. A like across
        a block is refused; withdrawing one never is."""
        photo = await visible_photo(self.session, photo_id, user)
        assert photo.owner_id is not None  # visible_photo guarantees it
        if liked:
            await self.guard.check(user, photo.owner_id, "like")
        kind = LikeAdded if liked else LikeRemoved
        await self.emitter.emit(kind(photo_id=photo_id, user_id=user, owner_id=photo.owner_id))

    async def comment(self, user: int, photo_id: int, text: str) -> int:
        """Publish ``comment.added``; returns the new (time-ordered) comment id."""
        photo = await visible_photo(self.session, photo_id, user)
        assert photo.owner_id is not None
        await self.guard.check(user, photo.owner_id, "comment")
        comment_id = await self.ids.anext_id(user)
        await self.emitter.emit(
            CommentAdded(comment_id=comment_id, photo_id=photo_id, owner_id=photo.owner_id,
                         user_id=user, text=text.strip()),
            event_id=f"{CommentAdded.TYPE}:{comment_id}",
        )
        return comment_id

    async def delete_comment(self, user: int, photo_id: int, comment_id: int) -> None:
        """The comment's author or the photo's owner may delete it; ``user_id`` of the
        event is the comment's author (whose comment it was)."""
        photo = await visible_photo(self.session, photo_id, user)
        comment = await engagement.get_comment(self.session, photo_id, comment_id)
        if comment is None:
            raise not_found("comment")
        if user not in (comment.user_id, photo.owner_id):
            raise forbidden("only the comment's author or the photo's owner may delete it")
        assert photo.owner_id is not None
        await self.emitter.emit(CommentDeleted(comment_id=comment_id, photo_id=photo_id,
                                               owner_id=photo.owner_id, user_id=comment.user_id))

    async def delete(self, user: int, photo_id: int) -> None:
        """Delete a post (an album's items go with it: :mod:`processors.albums`).

        One item of an album is not deleted on its own (409): the post shows its cover's
        renditions, and the author's order is the post's."""
        photo = await owned_photo(self.session, photo_id, user)
        if photo.detached and await post_of(self.session, photo_id) is not None:
            raise Problem(409, "media-in-post",
                          "this media is part of a post: delete the post instead")
        await self.emitter.emit(PhotoDeleted(photo_id=photo_id, owner_id=user))

    async def edit_alt_text(self, user: int, media_id: int, alt_text: str) -> None:
        """``photo.alt_text_edited`` for one of the caller's media (any state but deleted)."""
        await owned_photo(self.session, media_id, user)
        await self.emitter.emit(PhotoAltTextEdited(photo_id=media_id, owner_id=user,
                                                   alt_text=alt_text))

    async def edit(self, user: int, photo_id: int, caption: str | None,
                   title: str | None) -> None:
        """The event carries caption *and* title (last write wins as a whole), so a
        field the client left out keeps its stored value."""
        photo = await owned_photo(self.session, photo_id, user)
        await self.emitter.emit(PhotoCaptionEdited(
            photo_id=photo_id, owner_id=user,
            caption=photo.caption if caption is None else caption,
            title=photo.title if title is None else title,
        ))
