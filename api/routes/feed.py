"""``GET /v1/feed``: the caller's home feed, chronological or ranked ("top"); and
``GET /v1/feed/new?since=``: whether it has a post newer than the client shows.

Two routes answer each. :class:`FastFeed`, a plain ASGI route matched first, serves the
chronological page from warm caches (:mod:`api.feed_page`: two Redis round trips, no
FastAPI dependency or validation pass, cards assembled from serialised parts) with an
``ETag``, and a ``304`` for a matching ``If-None-Match`` without building a card. Any
request it does not recognise as plainly valid (other parameters, ``mode=top``, a bad
limit or cursor, no bearer token) and any page it hands back goes to the FastAPI route
below, the reference: same answer, same errors, only slower. :class:`FastNewPosts` does
the same for the "new posts" check (one round trip when there is nothing new), and
:class:`FastPhoto` for a single visible photo's card (one round trip).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Query
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from api import cursors
from api.cursors import BadCursor
from api.deps import MAX_ID, Cursor, Limit, Service, Viewer
from api.feed_page import NEW_POSTS_WINDOW, FeedPages
from api.models import NewPosts, PhotoPage
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


@router.get("/feed/new", response_model=NewPosts, responses=ERRORS)
async def new_posts(viewer: Viewer, svc: Service,
                    since: Annotated[int, Query(ge=0, le=MAX_ID,
                                                description="newest photo id the client "
                                                            "shows")]) -> JSON:
    """Whether the home feed has a post newer than ``since`` (the web app polls this to
    offer "new posts" instead of reloading the page)."""
    page = await svc.feed.page(viewer, NEW_POSTS_WINDOW)
    newer = [pid for pid in page.ids if pid > since]
    cards = await svc.cards.cards(viewer, newer, following=page.following, photos=page.photos)
    return ok({"new_posts": bool(cards)})


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class _Fast:
    """A plain ASGI endpoint answering from :class:`api.feed_page.FeedPages`, or passing
    the request on to the app's FastAPI routes (module docstring)."""

    def __init__(self, general: ASGIApp) -> None:
        #: The app's routes without the fast ones: where every other request goes.
        self.general = general
        self.route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route  # metrics label: the same route template
        pages: FeedPages | None = getattr(scope["app"].state, "pages", None)
        token, if_none_match = _bearer(scope)
        answer = None
        if token is not None and pages is not None and pages.enabled:
            params = dict(parse_qsl(scope["query_string"].decode("latin-1"),
                                    keep_blank_values=True))
            try:
                answer = await self.answer(pages, token, params, if_none_match, scope)
            except TokenError as exc:
                raise unauthorized(str(exc), invalid_token=True) from None
            except REDIS_ERRORS as exc:
                if unreachable(exc) is None:
                    raise  # overloaded: answered 503 by api.failsafe
                answer = None  # Redis unreachable: the general path serves from Cassandra
        if answer is None:
            await self.general(scope, receive, send)
            return
        status, headers, body = answer
        if status == 200:
            headers = [*headers, (b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, pages: FeedPages, token: str, params: dict[str, str],
                     if_none_match: str | None, scope: Scope) -> Answer | None:
        raise NotImplementedError


class FastFeed(_Fast):
    """``GET /v1/feed`` (chronological), with ETag and 304."""

    async def answer(self, pages: FeedPages, token: str, params: dict[str, str],
                     if_none_match: str | None, scope: Scope) -> Answer | None:
        request = _feed_params(params)
        if request is None:
            return None
        page = await pages.render(token, *request, if_none_match)
        if page is None:
            return None
        headers = [(b"etag", page.etag.encode()), (b"cache-control", b"private, no-cache"),
                   (b"vary", b"authorization")]
        return (200, headers, page.body) if page.body else (304, headers, b"")


class FastNewPosts(_Fast):
    """``GET /v1/feed/new?since=``."""

    async def answer(self, pages: FeedPages, token: str, params: dict[str, str],
                     if_none_match: str | None, scope: Scope) -> Answer | None:
        since = params.get("since", "")
        if len(params) != 1 or not since.isdigit() or int(since) > MAX_ID:
            return None
        news = await pages.has_new(token, int(since))
        if news is None:
            return None
        return 200, [(b"cache-control", b"private, no-store")], (
            b'{"new_posts":true}' if news else b'{"new_posts":false}')


class FastPhoto(_Fast):
    """``GET /v1/photos/{photo_id}`` of a visible photo with warm caches."""

    async def answer(self, pages: FeedPages, token: str, params: dict[str, str],
                     if_none_match: str | None, scope: Scope) -> Answer | None:
        photo_id = scope["path_params"].get("photo_id", "")
        if not photo_id.isdigit() or int(photo_id) > MAX_ID:
            return None
        card = await pages.photo(token, int(photo_id))
        return None if card is None else (200, [], card)


def _bearer(scope: Scope) -> tuple[str | None, str | None]:
    """The bearer token (None: none or malformed, for the general route to word the 401)
    and the If-None-Match header."""
    token = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                token = credentials.strip()
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return token, if_none_match


def _feed_params(params: dict[str, str]) -> tuple[int, int | None] | None:
    """(limit, before) of a plainly valid chronological page request; None for anything
    the general route should judge (and word the error for)."""
    limit, before = 20, None
    for name, value in params.items():
        if name == "limit" and value.isdigit() and 1 <= int(value) <= 100:
            limit = int(value)
        elif name == "cursor" and len(value) <= cursors.MAX_CURSOR:
            try:
                before = cursors.decode(value, "feed", {"b": int})["b"]
            except BadCursor:
                return None
        elif not (name == "mode" and value == "chrono"):
            return None
    return limit, before


class _FastRoute(Route):
    """A GET route whose endpoint is an ASGI app (no request/response wrapper)."""

    def matches(self, scope: Scope) -> tuple[Match, MutableMapping[str, Any]]:
        match, child = super().matches(scope)
        return (match if scope.get("method") in ("GET", "HEAD") else Match.NONE), child


def mount_fast(app: FastAPI) -> None:
    """Put the fast endpoints in front of the FastAPI routes of the same paths."""
    general = Router(routes=list(app.router.routes))
    for path, endpoint in (("/v1/feed", FastFeed(general)),
                           ("/v1/feed/new", FastNewPosts(general)),
                           ("/v1/photos/{photo_id}", FastPhoto(general))):
        endpoint.route = _FastRoute(path, endpoint, include_in_schema=False)
        app.router.routes.insert(0, endpoint.route)
