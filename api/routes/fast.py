"""The hottest read endpoints as plain ASGI routes, matched before the FastAPI ones.

:class:`FastFeed` serves the chronological home-feed page from warm caches
(:mod:`api.feed_page`: two Redis round trips, no FastAPI dependency or validation pass,
cards assembled from serialised parts) with an ``ETag``, and a ``304`` for a matching
``If-None-Match`` without building a card; :class:`FastNewPosts` the "new posts since"
check (one round trip when there is nothing new); :class:`FastPhoto` a single visible
photo's card (one round trip); :class:`FastProfile` a profile (one round trip). Why:
FastAPI's per-request work (dependency solving, parameter validation, response wrapping)
was a third of a warm page's CPU.

Each hands everything else to the app's FastAPI routes, the reference: a request it does
not recognise as plainly valid (other parameters, ``mode=top``, a bad limit, cursor or
id, no bearer token), a page it hands back (a cold cache, a 404), a Redis outage. Same
answer, same errors, only slower; ``tests/integration/test_feed_fast_path.py`` compares
them.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from api import cursors
from api.cursors import BadCursor
from api.deps import MAX_ID
from api.feed_page import FeedPages
from infra.connect.outages import REDIS_ERRORS, unreachable
from infra.http.auth import TokenError
from infra.http.problems import unauthorized

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


class FastProfile(_Fast):
    """``GET /v1/users/{user_id}`` with warm caches."""

    async def answer(self, pages: FeedPages, token: str, params: dict[str, str],
                     if_none_match: str | None, scope: Scope) -> Answer | None:
        user_id = scope["path_params"].get("user_id", "")
        if params or not user_id.isdigit() or int(user_id) > MAX_ID:
            return None
        profile = await pages.profile(token, int(user_id))
        return None if profile is None else (200, [], profile)


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


def mount(app: FastAPI) -> None:
    """Put the fast endpoints in front of the FastAPI routes of the same paths."""
    general = Router(routes=list(app.router.routes))
    for path, endpoint in (("/v1/feed", FastFeed(general)),
                           ("/v1/feed/new", FastNewPosts(general)),
                           ("/v1/photos/{photo_id}", FastPhoto(general)),
                           ("/v1/users/{user_id}", FastProfile(general))):
        endpoint.route = _FastRoute(path, endpoint, include_in_schema=False)
        app.router.routes.insert(0, endpoint.route)
