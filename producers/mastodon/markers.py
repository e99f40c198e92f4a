"""Mastodon read markers: ``GET /api/v1/markers`` and ``POST /api/v1/markers``.

Two timelines, as Mastodon's: ``home`` (stored by :mod:`sinks.markers`) and
``notifications``, whose position IS the inbox read mark of ``POST
/v1/notifications/read`` (:meth:`api.notifications.NotificationReader.mark_read`), so a
web client and a Mastodon app agree on what is read and the unread badge and
``/v1/stream`` follow a Mastodon client's marker. That mark only moves forward (never
past now): a marker set lower than it answers the mark as it stays.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.service import ReadService
from api.views import Json
from producers.mastodon.errors import MastodonError, params
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import read_service
from producers.mastodon.routes import MAX_ID
from sinks import markers
from sinks import notifications as inbox
from sinks.markers import HOME, NOTIFICATIONS, TIMELINES, Marker

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadStatuses = Annotated[Caller, needs("read:statuses")]
WriteStatuses = Annotated[Caller, needs("write:statuses")]


def _entity(marker: Marker) -> Json:
    at = marker.updated_at.astimezone(UTC).isoformat(timespec="milliseconds")
    return {"last_read_id": str(marker.last_read_id), "version": marker.version,
            "updated_at": at.replace("+00:00", "Z")}


async def _current(svc: ReadService, viewer: int) -> dict[str, Marker]:
    """Both markers as they stand (notifications: the inbox read mark)."""
    stored, read_up_to = await asyncio.gather(markers.markers(svc.session, viewer),
                                              inbox.read_marker(svc.session, viewer))
    current = {name: stored[name] for name in (HOME,) if name in stored}
    note = stored.get(NOTIFICATIONS)
    if read_up_to or note is not None:
        current[NOTIFICATIONS] = Marker(
            read_up_to, note.version if note else 0,
            note.updated_at if note else datetime.now(UTC))
    return current


@router.get("/api/v1/markers")
async def get_markers(request: Request, who: ReadStatuses) -> JSONResponse:
    """The markers of the ``timeline[]`` asked for (those never set are left out)."""
    viewer = signed_in(who)
    asked = (await params(request)).get("timeline") or []
    wanted = {str(name) for name in (asked if isinstance(asked, list) else [asked])}
    current = await _current(read_service(request), viewer)
    return JSONResponse({name: _entity(marker) for name, marker in current.items()
                         if name in wanted})


def _positions(found: dict[str, Any]) -> dict[str, int]:
    """``{timeline: last_read_id}`` from a JSON body (``{"home": {"last_read_id": ..}}``)
    or a form / query (``home[last_read_id]=..``)."""
    out: dict[str, int] = {}
    for name in TIMELINES:
        value = found.get(name)
        raw = (value.get("last_read_id") if isinstance(value, dict)
               else found.get(f"{name}[last_read_id]"))
        if raw is None:
            continue
        text = str(raw)
        if not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
            raise MastodonError(422, "Validation failed: last_read_id is not an id")
        out[name] = int(text)
    return out


@router.post("/api/v1/markers")
async def set_markers(request: Request, who: WriteStatuses) -> JSONResponse:
    """Save the markers given; answers them as stored."""
    viewer, svc = signed_in(who), read_service(request)
    positions = _positions(await params(request))
    current = await _current(svc, viewer)
    now = datetime.now(UTC)
    saved: dict[str, Json] = {}
    for name, position in positions.items():
        before = current.get(name)
        if name == NOTIFICATIONS:
            moved = await svc.notifications.mark_read(viewer, position)
            position = max(moved, before.last_read_id if before else 0)
        marker = Marker(position, (before.version if before else 0) + 1, now)
        await markers.save(svc.session, viewer, name, marker)
        saved[name] = _entity(marker)
    return JSONResponse(saved)
