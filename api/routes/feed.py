"""``GET /v1/feed``: the caller's home feed, chronological or ranked ("top"); and
``GET /v1/feed/new?since=``: whether it has a post newer than the client shows.

These FastAPI routes are the reference; warm chronological pages and new-posts checks
are answered first by the plain ASGI routes of :mod:`api.routes.fast`, which pass every
other request on to these.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import cursors
from api.deps import MAX_ID, Cursor, Limit, Service, Viewer
from api.feed_page import NEW_POSTS_WINDOW
from api.models import NewPosts, PhotoPage
from api.ranking import rank
from api.routes.common import ERRORS, JSON, ok, read_cursor
from api.service import ReadService
from sinks import cache

router = APIRouter(prefix="/v1", tags=["feed"])

#: Candidates a "top" ranking is computed over (the newest visible photos).
TOP_POOL = 200


@router.get("/feed", response_model=PhotoPage, responses=ERRORS)
async def feed(viewer: Viewer, svc: Service, limit: Limit = 20, cursor: Cursor = None,
               mode: Literal["chrono", "top"] = Query("chrono")) -> JSON:
    """Home feed, newest first (``mode=top``: ranked by recency decay x engagement).

    The cursor is a position, not an offset: photos posted while the client scrolls
    appear on the next refresh, never as duplicates or gaps on later pages.
    """
    if mode == "top":
        return ok(await _top(svc, viewer, limit, cursor))
    state = read_cursor(cursor, "feed", {"b": int})
    page = await svc.feed.page(viewer, limit, state["b"] if state else None)
    items = await svc.cards.cards(viewer, page.ids, social=(page.following, page.relations),
                                  photos=page.photos)
    more = not page.exhausted and page.last_seen is not None
    return ok({"items": items,
               "next_cursor": cursors.encode("feed", b=page.last_seen) if more else None})


async def _top(svc: ReadService, viewer: int, limit: int, cursor: str | None) -> dict:
    """Rank the pool once per first page; later pages read the saved ranking."""
    state = read_cursor(cursor, "top", {"s": int, "o": int})
    ranked = None
    if state is not None:
        snapshot, offset = state["s"], state["o"]
        ranked = await cache.load_ranking(svc.redis, viewer, snapshot)
    else:
        snapshot, offset = time.time_ns() // 1000, 0
    if ranked is None:  # first page, or the saved ranking expired: rank again
        pool = await svc.feed.page(viewer, TOP_POOL)
        counts = await svc.views.engagement(pool.ids)
        ranked = rank(pool.ids, counts, time.time())
        await cache.save_ranking(svc.redis, viewer, snapshot, ranked)
    window = ranked[offset:offset + limit]
    items = await svc.cards.cards(viewer, window)
    end = offset + len(window)
    more = end < len(ranked)
    return {"items": items,
            "next_cursor": cursors.encode("top", s=snapshot, o=end) if more else None}


@router.get("/feed/new", response_model=NewPosts, responses=ERRORS)
async def new_posts(viewer: Viewer, svc: Service,
                    since: Annotated[int, Query(ge=0, le=MAX_ID,
                                                description="newest photo id the client "
                                                            "shows")]) -> JSON:
    """Whether the home feed has a post newer than ``since`` (the web app polls this to
    offer "new posts" instead of reloading the page)."""
    page = await svc.feed.page(viewer, NEW_POSTS_WINDOW)
    newer = [pid for pid in page.ids if pid > since]
    cards = await svc.cards.cards(viewer, newer, social=(page.following, page.relations),
                                  photos=page.photos)
    return ok({"new_posts": bool(cards)})
