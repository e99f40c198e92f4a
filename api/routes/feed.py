"""``GET /v1/feed``: the caller's home feed, chronological or ranked ("top").

Two routes answer it. :class:`FastFeed`, a plain ASGI route matched first, serves the
chronological page from warm caches (:mod:`api.feed_page`: two Redis round trips, no
FastAPI dependency or validation pass, cards assembled from serialised parts) with an
``ETag``, and a ``304`` for a matching ``If-None-Match`` without building a card. Any
request it does not recognise as plainly valid (other parameters, ``mode=top``, a bad
limit or cursor, no bearer token) and any page it hands back goes to the FastAPI route
below, the reference: same answer, same errors, only slower.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Query
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from api import cursors
from api.cursors import BadCursor
from api.deps import Cursor, Limit, Service, Viewer
from api.feed_page import FeedPages
from api.models import PhotoPage
from api.ranking import rank
from api.routes.common import ERRORS, JSON, ok, read_cursor
from api.service import ReadService
from infra.connect.outages import REDIS_ERRORS, unreachable
from infra.http.auth import TokenError
from infra.http.problems import unauthorized
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
    items = await svc.cards.cards(viewer, page.ids, following=page.following,
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


class FastFeed:
    """The plain ASGI endpoint of the chronological feed (module docstring)."""

    def __init__(self, general: ASGIApp) -> None:
        #: The app's routes without this one: where every other request goes.
        self.general = general
        self.route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route  # metrics label: the same route template
        request = _plain_request(scope)
        pages: FeedPages | None = getattr(scope["app"].state, "pages", None)
        if request is None or pages is None or not pages.enabled:
            await self.general(scope, receive, send)
            return
        token, limit, before, if_none_match = request
        try:
            page = await pages.render(token, limit, before, if_none_match)
        except TokenError as exc:
            raise unauthorized(str(exc), invalid_token=True) from None
        except REDIS_ERRORS as exc:
            if unreachable(exc) is None:
                raise  # overloaded: answered 503 by api.failsafe
            page = None  # Redis unreachable: the general path serves from Cassandra
        if page is None:
            await self.general(scope, receive, send)
            return
        headers = [(b"etag", page.etag.encode()), (b"cache-control", b"private, no-cache"),
                   (b"vary", b"authorization")]
        if not page.body:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(page.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page.body})


def _plain_request(scope: Scope) -> tuple[str, int, int | None, str | None] | None:
    """(token, limit, before, If-None-Match) of a plainly valid chronological request;
    None for anything the general route should judge (and word the error for)."""
    token = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                return None
            token = credentials.strip()
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    if token is None:
        return None
    limit, before = 20, None
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"),
                                 keep_blank_values=True):
        if name == "limit" and value.isdigit() and 1 <= int(value) <= 100:
            limit = int(value)
        elif name == "cursor" and len(value) <= cursors.MAX_CURSOR:
            try:
                before = cursors.decode(value, "feed", {"b": int})["b"]
            except BadCursor:
                return None
        elif not (name == "mode" and value == "chrono"):
            return None
    return token, limit, before, if_none_match


class _FastRoute(Route):
    """A GET route whose endpoint is an ASGI app (no request/response wrapper)."""

    def matches(self, scope: Scope) -> tuple[Match, MutableMapping[str, Any]]:
        match, child = super().matches(scope)
        return (match if scope.get("method") in ("GET", "HEAD") else Match.NONE), child


def mount_fast(app: FastAPI) -> None:
    """Put :class:`FastFeed` in front of the FastAPI ``GET /v1/feed`` route."""
    endpoint = FastFeed(Router(routes=list(app.router.routes)))
    endpoint.route = _FastRoute("/v1/feed", endpoint, include_in_schema=False)
    app.router.routes.insert(0, endpoint.route)
