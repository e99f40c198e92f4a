"""Mastodon reads of the search index: ``GET /api/v2/search`` and the hashtag timeline
``GET /api/v1/timelines/tag/:hashtag``.

Both are ``/v1/search``'s reads in Mastodon's shape: account hits by username prefix
(without accounts blocked either way), photo hits by caption words, ``#tag`` or
``@mention`` (:func:`api.routes.search._photo_hits`), every photo hydrated through
:meth:`api.cards.Cards.cards`, so a private account's posts are found only by itself
and its approved followers, and a blocked author's never. A hashtag is a hit only when
the caller can see at least one post carrying it, so a tag used only by accounts it may
not see is not revealed either.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.routes.search import _photo_hits
from api.views import Json
from producers.mastodon.accounts import find_accounts
from producers.mastodon.errors import MastodonError, params, text
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import base_url, read_service
from producers.mastodon.routes import (
    NEWER_WINDOW,
    ReadStatuses,
    _id,
    limit_of,
    page_response,
    statuses_of,
)
from sinks import search
from sinks.search_terms import normalize_tag

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadSearch = Annotated[Caller, needs("read:search")]

#: Search hits read per kind before visibility filtering (``/v1/search`` reads 3x too).
OVERREAD = 3
#: Tagged posts a hashtag hit is checked against (one visible is enough).
TAG_PROBE = 20
_TAG = re.compile(r"^#?(\w{1,100})$")


def tag_entity(name: str, base: str) -> Json:
    return {"name": name, "url": f"{base}/tags/{name}", "history": [], "following": False}


# -- the hashtag timeline ------------------------------------------------------------------

async def _visible(request: Request, viewer: int, ids: list[int], limit: int) -> list[Json]:
    """The first ``limit`` cards of ``ids`` the viewer may see, read a chunk at a time
    (hydrating a whole pool for one page would read every row of it)."""
    svc, chunk = read_service(request), 2 * limit
    shown: list[Json] = []
    for start in range(0, len(ids), chunk):
        shown += await svc.cards.cards(viewer, ids[start:start + chunk], with_items=True,
                                       limit=limit - len(shown))
        if len(shown) >= limit:
            break
    return shown


@router.get("/api/v1/timelines/tag/{hashtag}")
async def tag_timeline(hashtag: str, request: Request, who: ReadStatuses) -> Response:
    """Posts tagged ``hashtag``, newest first, with the home timeline's paging
    (``max_id`` reads the index below it; ``since_id`` / ``min_id`` look among the
    newest posts with the tag); ``any[]``, ``all[]``, ``none[]``, ``local`` and
    ``only_media`` are ignored."""
    viewer = signed_in(who)
    found = await params(request)
    limit = limit_of(found)
    max_id, since_id, min_id = (_id(text(found, name, limit=30), name)
                                for name in ("max_id", "since_id", "min_id"))
    tag = _TAG.match(hashtag.strip())
    if tag is None:
        return page_response(request, [])
    session = read_service(request).session
    pool = await search.photos_with_hashtag(session, tag.group(1), limit=NEWER_WINDOW,
                                            before=max_id)
    newer = [pid for pid in pool if (since_id is None or pid > since_id)
             and (min_id is None or pid > min_id)]
    cards = await _visible(request, viewer, newer[::-1] if min_id is not None else newer,
                           limit)
    if min_id is not None:
        cards.reverse()
    return page_response(request, await statuses_of(request, viewer, cards))


# -- /api/v2/search ------------------------------------------------------------------------

async def _statuses(request: Request, viewer: int, q: str, limit: int) -> list[Json]:
    ids = await _photo_hits(read_service(request).session, q)
    cards = await read_service(request).cards.cards(viewer, ids[:limit * OVERREAD], limit=limit,
                                             with_items=True)
    return await statuses_of(request, viewer, cards)


async def _hashtags(request: Request, viewer: int, q: str) -> list[Json]:
    tag = _TAG.match(q)
    if tag is None:
        return []
    name = normalize_tag(tag.group(1))
    tagged = await search.photos_with_hashtag(read_service(request).session, name, limit=TAG_PROBE)
    if not await read_service(request).cards.cards(viewer, tagged, limit=1):
        return []
    return [tag_entity(name, base_url(request))]


@router.get("/api/v2/search")
async def search_v2(request: Request, who: ReadSearch) -> JSONResponse:
    """``q``: words, ``#tag``, ``@name`` or a username prefix, as ``/v1/search``;
    ``type`` (accounts, hashtags, statuses) narrows it, ``limit`` (20, at most 40)
    bounds each list; ``resolve``, ``offset``, ``following`` and ``account_id`` are
    ignored (every account is local; see docs/mastodon-api.md)."""
    viewer = signed_in(who)
    found: dict[str, Any] = await params(request)
    q = text(found, "q", limit=100).strip()
    if not q:
        raise MastodonError(400, "param is missing or the value is empty: q")
    kind, limit = text(found, "type", limit=20), limit_of(found)
    wanted = {kind} if kind in ("accounts", "hashtags", "statuses") else {
        "accounts", "hashtags", "statuses"}
    accounts = (await find_accounts(request, viewer, q, limit)
                if "accounts" in wanted and not q.startswith("#") else [])
    statuses = await _statuses(request, viewer, q, limit) if "statuses" in wanted else []
    hashtags = await _hashtags(request, viewer, q) if "hashtags" in wanted else []
    return JSONResponse({"accounts": accounts, "statuses": statuses, "hashtags": hashtags})
