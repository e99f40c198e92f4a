"""``/v1/photos/{id}``: one photo's card, its comments and its likers.

Comments and likes of accounts blocked either way with the caller are left out
(:func:`api.visibility.can_see_user`); the counts on the card stay the photo's own.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api import cursors
from api.cards import user_ref
from api.deps import Cursor, Limit, PhotoId, Service, Viewer
from api.models import CommentPage, PhotoCard, UserPage
from api.routes.common import ERRORS, JSON, not_found, ok, read_cursor
from api.service import ReadService
from api.visibility import can_see_user, visible_users
from sinks import engagement

router = APIRouter(prefix="/v1/photos", tags=["photos"])


async def _visible_card(svc: ReadService, viewer: int, photo_id: int, *,
                        with_items: bool = False) -> dict:
    cards = await svc.cards.cards(viewer, [photo_id], with_items=with_items)
    if not cards:
        raise not_found("photo")
    return cards[0]


@router.get("/{photo_id}", response_model=PhotoCard, responses=ERRORS)
async def photo(photo_id: PhotoId, viewer: Viewer, svc: Service) -> JSON:
    """One photo. 404 when deleted, unknown, or not visible to the caller (a private
    account's photo to a non-follower); the owner also sees it while it processes.
    An album's card lists every item (``items``) in the author's order."""
    return ok(await _visible_card(svc, viewer, photo_id, with_items=True))


@router.get("/{photo_id}/comments", response_model=CommentPage, responses=ERRORS)
async def comments(photo_id: PhotoId, viewer: Viewer, svc: Service, limit: Limit = 20,
                   cursor: Cursor = None) -> JSON:
    """Comments, newest first."""
    state = read_cursor(cursor, "comments", {"b": int})
    await _visible_card(svc, viewer, photo_id)
    rows, relations = await asyncio.gather(
        engagement.recent_comments(svc.session, photo_id, limit,
                                   before=state["b"] if state else None),
        svc.views.relations(viewer))
    authors = await svc.views.profiles([c.user_id for c in rows])
    items = [{"comment_id": str(c.comment_id), "user": user_ref(authors[c.user_id]),
              "text": c.text,
              "created_at": c.created_at.isoformat().replace("+00:00", "Z")
              if c.created_at else None}
             for c in rows
             if c.user_id in authors and can_see_user(viewer, c.user_id, relations)]
    more = len(rows) == limit
    return ok({"items": items, "next_cursor":
               cursors.encode("comments", b=rows[-1].comment_id) if more else None})


@router.get("/{photo_id}/likes", response_model=UserPage, responses=ERRORS)
async def likes(photo_id: PhotoId, viewer: Viewer, svc: Service, limit: Limit = 20,
                cursor: Cursor = None) -> JSON:
    """Who likes the photo (by user id)."""
    state = read_cursor(cursor, "likes", {"a": int})
    await _visible_card(svc, viewer, photo_id)
    ids, relations = await asyncio.gather(
        engagement.likers(svc.session, photo_id, state["a"] if state else -1, limit),
        svc.views.relations(viewer))
    profiles = await svc.views.profiles(ids)
    more = len(ids) == limit
    return ok({"items": [user_ref(profiles[u]) for u in visible_users(viewer, ids, relations)
                         if u in profiles],
               "next_cursor": cursors.encode("likes", a=ids[-1]) if more else None})
