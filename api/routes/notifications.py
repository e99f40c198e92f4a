"""``/v1/notifications``: the caller's grouped inbox, its unread count, and the read mark."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import cursors
from api.deps import MAX_ID, Cursor, Limit, Service, Viewer
from api.models import UserRef
from api.routes.common import ERRORS, JSON, ok, read_cursor
from sinks import notifications as inbox

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

Kind = Literal["like", "comment", "follow", "follow_request", "follow_accepted", "mention"]
assert set(Kind.__args__) == set(inbox.TYPES)  # type: ignore[attr-defined]


TypeFilter = Annotated[Kind | None, Query(description="only entries of this type")]


class PhotoRef(BaseModel):
    photo_id: str
    thumb_url: str | None
    author: UserRef


class CommentRef(BaseModel):
    comment_id: str
    text: str


class Notification(BaseModel):
    id: str = Field(description="time-ordered; pass to POST /v1/notifications/read")
    type: Kind
    created_at: str
    updated_at: str | None
    unread: bool
    actors: list[UserRef] = Field(description="the newest actors, newest first")
    actor_count: int = Field(description="everyone grouped here ('and N others')")
    photo: PhotoRef | None
    comment: CommentRef | None
    excerpt: str | None
    state: Literal["pending", "accepted", "declined"] | None = Field(
        description="follow requests only")


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None


class Unread(BaseModel):
    count: int
    more: bool = Field(description="true when the count is a lower bound")


class ReadMark(BaseModel):
    up_to: str = Field(pattern=r"^[0-9]{1,19}$", description="an entry id (decimal string)")


@router.get("", response_model=NotificationPage, responses=ERRORS)
async def notifications(viewer: Viewer, svc: Service, limit: Limit = 20, cursor: Cursor = None,
                        type: TypeFilter = None) -> JSON:
    """Grouped notifications, newest first ("alice and 12 others liked your photo").

    Entries about a photo the caller may not see (deleted, or private to them now) are
    left out. The cursor belongs to the ``type`` filter it was made with.
    """
    kind = f"notifications:{type or 'all'}"
    state = read_cursor(cursor, kind, {"b": int})
    items, after = await svc.notifications.page(viewer, limit, state["b"] if state else None,
                                                type)
    return ok({"items": items,
               "next_cursor": cursors.encode(kind, b=after) if after is not None else None})


@router.get("/unread", response_model=Unread, responses=ERRORS)
async def unread(viewer: Viewer, svc: Service) -> JSON:
    """How many entries are newer than the read mark (the bell's badge)."""
    count, more = await svc.notifications.unread(viewer)
    return ok({"count": count, "more": more})


@router.post("/read", response_model=Unread, responses=ERRORS)
async def mark_read(mark: ReadMark, viewer: Viewer, svc: Service) -> JSON:
    """Mark everything up to (and including) entry ``up_to`` read; returns the new count.
    The mark only moves forward; an id from the future is taken as now."""
    up_to = int(mark.up_to)
    if up_to > MAX_ID:
        up_to = MAX_ID
    await svc.notifications.mark_read(viewer, up_to)
    count, more = await svc.notifications.unread(viewer)
    return ok({"count": count, "more": more})
