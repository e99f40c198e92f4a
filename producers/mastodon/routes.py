"""Mastodon read routes: instance, nodeinfo, accounts and the home and public timelines.

Every read goes through the read side's own objects (:class:`api.service.ReadService`):
the home timeline is :meth:`api.feed.FeedReader.page` hydrated by
:meth:`api.cards.Cards.cards`, exactly as ``GET /v1/feed``, so the visibility rule of
:mod:`api.visibility` is the one rule here too; only the outer shape differs.

Paging as Mastodon's: newest first; ``max_id`` (older than), ``since_id`` (newer than,
newest first), ``min_id`` (just newer than, the page right above it); ``limit`` 20 by
default, at most 40; a ``Link`` header with ``rel="next"`` (older) and ``rel="prev"``
(newer). ``since_id``/``min_id`` look at the newest :data:`NEWER_WINDOW` posts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.cards import Authors
from api.views import Json
from api.visibility import can_view_account
from infra.http.problems import Problem
from infra.settings import Settings
from producers.mastodon import entities
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import Caller, caller, needs, signed_in
from producers.mastodon.request_state import base_url, read_service
from sinks import users

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    from producers.ingest.writes import Writes

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadAccounts = Annotated[Caller, needs("read:accounts")]
ReadStatuses = Annotated[Caller, needs("read:statuses")]

VERSION = "4.3.0 (compatible; photostream 0.1.0)"
DEFAULT_LIMIT, MAX_LIMIT = 20, 40
#: How many of the newest posts a since_id / min_id page is looked for in.
NEWER_WINDOW = 400
MAX_ID = 2**63 - 1
#: Image types the media processor accepts (processors/media/formats.py).
IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
               "image/heif", "image/avif"]
VIDEO_TYPES = ["video/mp4", "video/quicktime"]


def _streaming(request: Request) -> str:
    """Where clients open the streaming API (:mod:`.streaming`, this same service)."""
    return "ws" + base_url(request).removeprefix("http")


def _host(request: Request) -> str:
    return request.url.netloc


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _id(value: str, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) > MAX_ID:
        raise MastodonError(404 if name == "id" else 422,
                            NOT_FOUND if name == "id" else f"Validation failed: {name}")
    return int(value)


def limit_of(found: dict[str, Any]) -> int:
    value = text(found, "limit", str(DEFAULT_LIMIT), limit=10)
    try:
        return max(1, min(MAX_LIMIT, int(value)))
    except ValueError:
        return DEFAULT_LIMIT


# -- instance ------------------------------------------------------------------------------

def _media_limits(settings: Settings) -> Json:
    return {"supported_mime_types": IMAGE_TYPES + VIDEO_TYPES,
            "image_size_limit": settings.ingest.max_upload_bytes,
            "image_matrix_limit": settings.media.max_pixels,
            "video_size_limit": settings.ingest.max_upload_bytes,
            "video_frame_rate_limit": 60,
            "video_matrix_limit": settings.media.video_max_edge ** 2,
            "description_limit": 1500}


@router.get("/api/v1/instance")
async def instance_v1(request: Request) -> JSONResponse:
    settings, host = _settings(request), _host(request)
    return JSONResponse({
        "uri": host, "title": "photostream", "short_description": "A photo-sharing network.",
        "description": "A photo-sharing network.", "email": "", "version": VERSION,
        "urls": {"streaming_api": _streaming(request)},
        "stats": {"user_count": 0, "status_count": 0, "domain_count": 1},
        "thumbnail": None, "languages": ["en"], "registrations": True,
        "approval_required": False, "invites_enabled": False,
        "configuration": {"statuses": {"max_characters": 2200, "max_media_attachments": 10,
                                       "characters_reserved_per_url": 23},
                          "media_attachments": _media_limits(settings),
                          "polls": {"max_options": 0, "max_characters_per_option": 0,
                                    "min_expiration": 0, "max_expiration": 0}},
        "contact_account": None, "rules": []})


@router.get("/api/v2/instance")
async def instance_v2(request: Request) -> JSONResponse:
    settings, host = _settings(request), _host(request)
    return JSONResponse({
        "domain": host, "title": "photostream", "version": VERSION,
        "source_url": "https://github.com/photostream/photostream",
        "description": "A photo-sharing network.", "usage": {"users": {"active_month": 0}},
        "thumbnail": {"url": f"{base_url(request)}/favicon.ico"}, "languages": ["en"],
        "configuration": {
            "urls": {"streaming": _streaming(request)}, "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
            "statuses": {"max_characters": 2200, "max_media_attachments": 10,
                         "characters_reserved_per_url": 23},
            "media_attachments": _media_limits(settings),
            "polls": {"max_options": 0, "max_characters_per_option": 0,
                      "min_expiration": 0, "max_expiration": 0},
            "translation": {"enabled": False}},
        "api_versions": {"mastodon": 2},  # Mastodon 4.3's API version (clients check it)
        "registrations": {"enabled": True, "approval_required": False, "message": None},
        "contact": {"email": "", "account": None}, "rules": []})


@router.get("/.well-known/nodeinfo")
async def nodeinfo_links(request: Request) -> JSONResponse:
    return JSONResponse({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                                    "href": f"{base_url(request)}/nodeinfo/2.0"}]})


@router.get("/nodeinfo/2.0")
async def nodeinfo(request: Request) -> JSONResponse:
    return JSONResponse({
        "version": "2.0", "software": {"name": "photostream", "version": "0.1.0"},
        "protocols": [], "services": {"outbound": [], "inbound": []},
        "usage": {"users": {}, "localPosts": 0}, "openRegistrations": True,
        "metadata": {"nodeName": "photostream"}})


# -- accounts ------------------------------------------------------------------------------

async def _accounts(request: Request, user_ids: list[int],
                    authors: Authors | None = None) -> dict[int, Json]:
    """Account entities of ``user_ids`` that exist (cached profiles and counts);
    ``authors``: what the caller already read of them (the cards' authors)."""
    svc = read_service(request)
    profiles = authors.profiles if authors is not None else \
        await svc.views.profiles(user_ids)
    present = [uid for uid in user_ids if uid in profiles]
    counts: Mapping[int, dict[str, int]]
    if authors is not None and all(uid in authors.counts for uid in present):
        counts = authors.counts
    else:
        counts = await svc.views.users_counts(present)
    base = base_url(request)
    return {uid: entities.account(profiles[uid], counts[uid], base, svc.urls) for uid in present}


async def _account(request: Request, who: Caller | None, user_id: int) -> Json:
    """One Account, or 404 across a block (as if it did not exist)."""
    found = (await _accounts(request, [user_id])).get(user_id)
    if found is None:
        raise MastodonError(404, NOT_FOUND)
    if who is not None and who.user_id is not None and who.user_id != user_id:
        _, relations = await read_service(request).views.social(who.user_id)
        if user_id in relations.blocked_by:
            raise MastodonError(404, NOT_FOUND)
    return found


async def account_of(request: Request, user_id: int) -> Json:
    """The Account entity of ``user_id``; 404 while its registration is not stored."""
    found = (await _accounts(request, [user_id])).get(user_id)
    if found is None:
        raise MastodonError(404, NOT_FOUND)
    return found


@router.get("/api/v1/accounts/verify_credentials")
async def verify_credentials(request: Request, who: ReadAccounts) -> JSONResponse:
    user_id = signed_in(who)
    svc = read_service(request)
    profile = (await svc.views.profiles([user_id])).get(user_id)
    if profile is None:
        raise MastodonError(404, NOT_FOUND)
    body = entities.account(profile, await svc.views.user_counts(user_id), base_url(request),
                            svc.urls)
    body["source"] = entities.source(profile)
    return JSONResponse(body)


@router.get("/api/v1/accounts/lookup")
async def lookup(request: Request) -> JSONResponse:
    who = await caller(request)
    acct = text(await params(request), "acct", limit=300).lstrip("@")
    name, _, domain = acct.partition("@")
    if not name or (domain and domain != _host(request)):
        raise MastodonError(404, NOT_FOUND)
    user_id = await users.user_id_for(read_service(request).session, name.lower())
    if user_id is None:
        raise MastodonError(404, NOT_FOUND)
    return JSONResponse(await _account(request, who, user_id))


@router.get("/api/v1/accounts/{account_id}")
async def account(account_id: str, request: Request) -> JSONResponse:
    who = await caller(request)
    user_id = _id(account_id, "id")
    assert user_id is not None
    return JSONResponse(await _account(request, who, user_id))


# -- timelines -----------------------------------------------------------------------------

async def statuses_of(request: Request, viewer: int, cards: list[Json],
                      authors: Authors | None = None) -> list[Json]:
    """Status entities of ``cards``; ``authors``: what the caller read of their authors
    (:meth:`api.cards.Cards.cards_and_authors`), else they are read here."""
    accounts = await _accounts(request, list({int(c["author"]["user_id"]) for c in cards}),
                               authors)
    base = base_url(request)
    return [entities.status(card, accounts[int(card["author"]["user_id"])], base)
            for card in cards if int(card["author"]["user_id"]) in accounts]


def _window(ids: list[int], limit: int, max_id: int | None, since_id: int | None,
            min_id: int | None) -> list[int]:
    """The page of newest-first ``ids`` that Mastodon's paging parameters select."""
    chosen = [pid for pid in ids if (max_id is None or pid < max_id)
              and (since_id is None or pid > since_id) and (min_id is None or pid > min_id)]
    return chosen[-limit:] if min_id is not None else chosen[:limit]


def page_response(request: Request, statuses: list[Json]) -> Response:
    """The page with its ``Link`` header (next: older than the last; prev: newer than
    the first), the query's other parameters kept."""
    response = Response(orjson.dumps(statuses), media_type="application/json")
    if statuses:
        kept = [(k, v) for k, v in request.query_params.multi_items()
                if k not in ("max_id", "since_id", "min_id")]
        base = f"{base_url(request)}{request.url.path}?"
        older = urlencode([*kept, ("max_id", statuses[-1]["id"])])
        newer = urlencode([*kept, ("min_id", statuses[0]["id"])])
        response.headers["Link"] = f'<{base}{older}>; rel="next", <{base}{newer}>; rel="prev"'
    return response


@router.get("/api/v1/timelines/home")
async def home(request: Request, who: ReadStatuses) -> Response:
    viewer = signed_in(who)
    found = await params(request)
    limit = limit_of(found)
    max_id, since_id, min_id = (_id(text(found, name, limit=30), name)
                                for name in ("max_id", "since_id", "min_id"))
    svc = read_service(request)
    if since_id is None and min_id is None:
        page = await svc.feed.page(viewer, limit, max_id)
        ids = page.ids
    else:
        page = await svc.feed.page(viewer, NEWER_WINDOW, max_id)
        ids = _window(page.ids, limit, None, since_id, min_id)
    cards, authors = await svc.cards.cards_and_authors(
        viewer, ids, social=(page.following, page.relations), photos=page.photos,
        with_items=True, author_counts=True)
    response = page_response(request, await statuses_of(request, viewer, cards, authors))
    if page.rebuilt:  # Mastodon's "your home feed is being prepared" (docs/mastodon-api.md)
        response.status_code = 206
    return response


@router.get("/api/v1/timelines/public")
async def public(request: Request, who: ReadStatuses) -> Response:
    """Recent posts of public accounts (``local``: every account here is local): the
    trending processor's recent popular posts, newest first, each checked as every card
    is and kept only while its author is public."""
    viewer = signed_in(who)
    found = await params(request)
    limit = limit_of(found)
    max_id, since_id, min_id = (_id(text(found, name, limit=30), name)
                                for name in ("max_id", "since_id", "min_id"))
    svc = read_service(request)
    pool = sorted(await svc.views.popular(hours=48, limit=NEWER_WINDOW), reverse=True)
    following, relations = await svc.views.social(viewer)
    cards, authors = await svc.cards.cards_and_authors(
        viewer, pool, social=(following, relations), with_items=True)
    shown = {int(c["photo_id"]): c for c in cards if c["status"] == "ready"
             and (profile := authors.profiles.get(int(c["author"]["user_id"]))) is not None
             and not profile["private"]
             and can_view_account(viewer, profile, following, relations)}
    ids = _window(list(shown), limit, max_id, since_id, min_id)
    return page_response(request, await statuses_of(
        request, viewer, [shown[pid] for pid in ids], authors))


# -- statuses ------------------------------------------------------------------------------

WriteFavourites = Annotated[Caller, needs("write:favourites")]


async def _status(request: Request, viewer: int, status_id: str) -> Json:
    """One Status ``viewer`` may see; 404 as if absent otherwise (the card rule)."""
    photo_id = _id(status_id, "id")
    assert photo_id is not None
    cards = await read_service(request).cards.cards(viewer, [photo_id], with_items=True)
    found = await statuses_of(request, viewer, cards)
    if not found:
        raise MastodonError(404, NOT_FOUND)
    return found[0]


@router.get("/api/v1/statuses/{status_id}")
async def get_status(status_id: str, request: Request, who: ReadStatuses) -> JSONResponse:
    return JSONResponse(await _status(request, signed_in(who), status_id))


async def _favourite(request: Request, who: Caller, status_id: str, liked: bool) -> Json:
    """Publish ``like.added``/``like.removed`` through ingest's own write path; the
    answer shows the new state at once, as Mastodon's does (the count follows once the
    engagement processor has applied the event)."""
    viewer = signed_in(who)
    status = await _status(request, viewer, status_id)
    writes: Writes = request.app.state.writes
    await count(request, "likes", viewer)
    try:
        await writes.posts.like(viewer, int(status["id"]), liked=liked)
    except Problem as problem:
        raise from_problem(problem) from None
    if status["favourited"] != liked:
        status["favourites_count"] = max(0, status["favourites_count"] + (1 if liked else -1))
    status["favourited"] = liked
    return status


@router.post("/api/v1/statuses/{status_id}/favourite")
async def favourite(status_id: str, request: Request, who: WriteFavourites) -> JSONResponse:
    return JSONResponse(await _favourite(request, who, status_id, True))


@router.post("/api/v1/statuses/{status_id}/unfavourite")
async def unfavourite(status_id: str, request: Request, who: WriteFavourites) -> JSONResponse:
    return JSONResponse(await _favourite(request, who, status_id, False))
