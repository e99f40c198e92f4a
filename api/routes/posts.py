"""``/v1/posts/{id}``: an album post's assembly state, for its owner only."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PhotoId, Service, Viewer
from api.models import PostState
from api.routes.common import ERRORS, JSON, not_found, ok
from sinks import photos, posts

router = APIRouter(prefix="/v1/posts", tags=["photos"])


@router.get("/{post_id}", response_model=PostState, responses=ERRORS)
async def post_state(post_id: PhotoId, viewer: Viewer, svc: Service) -> JSON:
    """Which items of the caller's album made it, and why the others did not (a failed
    item, or one not processed within the bound). 404 for anyone but the owner."""
    post = await posts.get(svc.session, post_id)
    if post is None or post.owner_id != viewer or post.status == posts.DELETED:
        raise not_found("post")
    rows = await photos.get_photos(svc.session, post.media_ids)
    items = []
    status: str
    reason: str | None
    for media_id in post.media_ids:
        row = rows.get(media_id)
        if media_id in post.failed_items:
            status, reason = "failed", post.failed_items[media_id]
        elif row is not None and row.status in ("ready", "failed"):
            status, reason = row.status, row.failure_reason
        else:
            status, reason = "processing", None
        items.append({"media_id": str(media_id), "status": status, "reason": reason})
    ready_by = post.ready_by.isoformat().replace("+00:00", "Z") if post.ready_by else None
    return ok({"post_id": str(post_id), "status": post.status, "ready_by": ready_by,
               "items": items})
