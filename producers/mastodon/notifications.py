"""Mastodon notification routes: ``/api/v1/notifications`` (list, one, dismiss, clear,
unread count) and the grouped ``/api/v2/notifications``.

Read from photostream's inbox (:mod:`.inbox`), rendered by
:mod:`.notification_entities`. Scopes ``read:notifications`` / ``write:notifications``.
Paging as Mastodon's: newest first, ``max_id`` / ``since_id`` / ``min_id``, ``limit``
(40 by default, at most 80), ``Link`` rel=next/prev; ``types[]``, ``exclude_types[]``
and ``account_id`` filter (types photostream has no entries of match nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.service import ReadService
from api.views import Json
from producers.mastodon import inbox
from producers.mastodon.errors import NOT_FOUND, MastodonError, params, text
from producers.mastodon.inbox import Filter
from producers.mastodon.notification_entities import Render
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import read_service
from producers.mastodon.routes import MAX_ID, page_response
from sinks import notification_dismissals as dismissals
from sinks import notifications as entries

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadNotifications = Annotated[Caller, needs("read:notifications")]
WriteNotifications = Annotated[Caller, needs("write:notifications")]

DEFAULT_LIMIT, MAX_LIMIT = 40, 80
UNREAD_LIMIT, MAX_UNREAD_LIMIT = 100, 1000


def _number(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) <= MAX_ID else None


def _notification_id(value: str) -> int:
    found = _number(value)
    if found is None:
        raise MastodonError(404, NOT_FOUND)
    return found


def _paging(found: dict[str, Any], name: str) -> int | None:
    value = text(found, name, limit=30)
    if not value:
        return None
    number = _number(value)
    if number is None:
        raise MastodonError(422, f"Validation failed: {name}")
    return number


def _limit(found: dict[str, Any], default: int, most: int) -> int:
    try:
        return max(1, min(most, int(text(found, "limit", str(default), limit=10))))
    except ValueError:
        return default


def _names(found: dict[str, Any], name: str) -> frozenset[str] | None:
    value = found.get(name)
    if value is None:
        return None
    listed = value if isinstance(value, list) else str(value).replace(",", " ").split()
    return frozenset(str(item)[:50] for item in listed[:30])


async def _filter(request: Request, viewer: int, found: dict[str, Any]) -> Filter:
    """The request's filters and the reader's dismissals; an ``account_id`` that is no
    id matches nothing, as an unknown account would."""
    account = text(found, "account_id", limit=30)
    account_id = None
    if account:
        number = _number(account)
        account_id = -1 if number is None else number
    return Filter(types=_names(found, "types"), exclude=_names(found, "exclude_types")
                  or frozenset(), account_id=account_id,
                  dismissals=await dismissals.load(read_service(request).session, viewer))


async def _page(request: Request, viewer: int, found: dict[str, Any]) -> list[inbox.Shown]:
    return await inbox.page(
        read_service(request).notifications, viewer, await _filter(request, viewer, found),
        _limit(found, DEFAULT_LIMIT, MAX_LIMIT), max_id=_paging(found, "max_id"),
        since_id=_paging(found, "since_id"), min_id=_paging(found, "min_id"))


@router.get("/api/v1/notifications")
async def notifications(request: Request, who: ReadNotifications) -> Response:
    viewer = signed_in(who)
    shown = await _page(request, viewer, await params(request))
    return page_response(request, await Render(request, viewer).notifications(shown))


async def _unread(request: Request, who: Caller) -> JSONResponse:
    viewer = signed_in(who)
    found = await params(request)
    keep = await _filter(request, viewer, found)
    count = await inbox.unread(read_service(request).notifications, viewer, keep,
                               _limit(found, UNREAD_LIMIT, MAX_UNREAD_LIMIT))
    return JSONResponse({"count": count})


@router.get("/api/v1/notifications/unread_count")
async def unread_count(request: Request, who: ReadNotifications) -> JSONResponse:
    """Notifications above the notifications marker (at most ``limit``, 100 by default)."""
    return await _unread(request, who)


@router.get("/api/v2/notifications/unread_count")
async def unread_groups(request: Request, who: ReadNotifications) -> JSONResponse:
    """As v1's: every photostream entry is one group."""
    return await _unread(request, who)


@router.post("/api/v1/notifications/clear")
async def clear(request: Request, who: WriteNotifications) -> JSONResponse:
    """Hide every notification there is now; later activity shows again."""
    svc = read_service(request)
    await dismissals.clear(svc.session, signed_in(who), datetime.now(UTC), _ttl(svc))
    return JSONResponse({})


def _ttl(svc: ReadService) -> int:
    return svc.settings.notify.retention_days * 24 * 3600


async def _dismiss(request: Request, who: Caller, notification_id: int) -> JSONResponse:
    viewer, svc = signed_in(who), read_service(request)
    entry = await entries.get_entry(svc.session, viewer, notification_id)
    if entry is None:
        raise MastodonError(404, NOT_FOUND)
    await dismissals.dismiss(svc.session, viewer, entry, _ttl(svc))
    return JSONResponse({})


@router.post("/api/v1/notifications/dismiss")
async def dismiss_by_param(request: Request, who: WriteNotifications) -> JSONResponse:
    """The pre-2.9.2 form (``id`` as a parameter) that older clients still send."""
    return await _dismiss(request, who,
                          _notification_id(text(await params(request), "id", limit=30)))


@router.post("/api/v1/notifications/{notification_id}/dismiss")
async def dismiss(notification_id: str, request: Request,
                  who: WriteNotifications) -> JSONResponse:
    """Hide one notification (it shows again once it changes: a new like in its group)."""
    return await _dismiss(request, who, _notification_id(notification_id))


@router.get("/api/v1/notifications/{notification_id}")
async def notification(notification_id: str, request: Request,
                       who: ReadNotifications) -> JSONResponse:
    viewer = signed_in(who)
    nid = _notification_id(notification_id)
    keep = Filter(dismissals=await dismissals.load(read_service(request).session, viewer))
    shown = await inbox.one(read_service(request).notifications, viewer, nid, keep)
    rendered = await Render(request, viewer).notifications([shown] if shown else [])
    if not rendered:
        raise MastodonError(404, NOT_FOUND)
    return JSONResponse(rendered[0])


@router.get("/api/v2/notifications")
async def grouped(request: Request, who: ReadNotifications) -> Response:
    """Grouped notifications (Mastodon 4.3): photostream's entries are groups already."""
    viewer = signed_in(who)
    found = await params(request)
    shown = await _page(request, viewer, found)
    body = await Render(request, viewer).grouped(
        shown, partial=text(found, "expand_accounts", limit=30) == "partial_avatars")
    response = Response(orjson.dumps(body), media_type="application/json")
    groups: list[Json] = body["notification_groups"]
    if groups:
        response.headers["Link"] = _links(request, groups[0]["page_max_id"],
                                          groups[-1]["page_min_id"])
    return response


def _links(request: Request, newest: str, oldest: str) -> str:
    """``Link``: next (older than ``oldest``), prev (newer than ``newest``), the query's
    other parameters kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items()
            if k not in ("max_id", "since_id", "min_id")]
    base = f"{str(request.base_url).rstrip('/')}{request.url.path}?"
    older = urlencode([*kept, ("max_id", oldest)])
    newer = urlencode([*kept, ("min_id", newest)])
    return f'<{base}{older}>; rel="next", <{base}{newer}>; rel="prev"'


def _group_entry(group_key: str) -> int:
    """The entry id of a group key (``favourite-{id}``, ``ungrouped-{id}``)."""
    return _notification_id(group_key.rpartition("-")[2])


async def _group(request: Request, viewer: int, group_key: str) -> tuple[Render, inbox.Shown]:
    svc = read_service(request)
    keep = Filter(dismissals=await dismissals.load(svc.session, viewer))
    shown = await inbox.one(svc.notifications, viewer, _group_entry(group_key), keep)
    if shown is None:
        raise MastodonError(404, NOT_FOUND)
    return Render(request, viewer), shown


@router.get("/api/v2/notifications/{group_key}")
async def group(group_key: str, request: Request, who: ReadNotifications) -> JSONResponse:
    render, shown = await _group(request, signed_in(who), group_key)
    body = await render.grouped([shown], partial=False)
    if not body["notification_groups"]:
        raise MastodonError(404, NOT_FOUND)
    return JSONResponse(body)


@router.get("/api/v2/notifications/{group_key}/accounts")
async def group_accounts(group_key: str, request: Request,
                         who: ReadNotifications) -> JSONResponse:
    """The group's accounts photostream names (the newest ones; the rest is a count)."""
    render, shown = await _group(request, signed_in(who), group_key)
    actors = [int(actor["user_id"]) for actor in shown.item["actors"]]
    found = await render.accounts(actors)
    return JSONResponse([found[uid] for uid in actors if uid in found])


@router.post("/api/v2/notifications/{group_key}/dismiss")
async def dismiss_group(group_key: str, request: Request,
                        who: WriteNotifications) -> JSONResponse:
    return await _dismiss(request, who, _group_entry(group_key))
