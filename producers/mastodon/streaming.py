"""Mastodon's streaming API as server-sent events: ``/api/v1/streaming/health`` and the user
streams (``/api/v1/streaming/user``, ``/user/notification``, ``/api/v1/streaming?stream=``).

Fed by the pipeline exactly as ``/v1/stream`` is (:mod:`api.routes.stream`), never by
polling Cassandra: the same per-user Redis Stream (:mod:`sinks.notification_hot`: inbox
entries from the notifications processor, the new-post and deleted-post hints of the
fan-out) and the same wake-ups (:class:`api.live.LiveHub`: one pub/sub subscription per
process, reads and hydrations batched across streams). Events, with Mastodon's names:

* ``update`` - a post reached the home feed (the reader's own too): its Status,
  hydrated as the timelines hydrate (:mod:`.notification_entities`), so the card's
  visibility rule decides and a post the reader may not see is never sent;
* ``notification`` - an inbox entry created or changed: its Notification, as ``GET
  /api/v1/notifications`` shows it (only with ``read:notifications``; a grouped entry
  that gains an actor is sent again, same id, with its newest actor);
* ``delete`` - a post in the home feed was deleted: its id.

Every event's ``id:`` is its own position in the Redis Stream, so a client reconnecting
with ``Last-Event-ID`` gets exactly what came after it, as long as the stream holds it
(``notify.stream_maxlen`` entries per user). A ``:thump`` comment every
``notify.heartbeat_seconds`` keeps idle connections open through proxies.

Mounted on the ingest app, which has no admission bound (:mod:`infra.http.admission`
is the read API's; :data:`PATHS` are passed as ``long_lived`` all the same, so a bound
added later would not count them) and no request timeout: an idle stream holds a
suspended coroutine and an ``asyncio.Event``; the hub caps streams per process
(``notify.max_streams``, then 503 + ``Retry-After``). The token comes in the
``Authorization`` header or, as Mastodon allows (a browser's EventSource cannot send
headers), the ``access_token`` query parameter.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.live import StreamsFull
from api.service import ReadService
from producers.mastodon import scopes
from producers.mastodon.errors import INVALID_TOKEN, OUT_OF_SCOPE, MastodonError
from producers.mastodon.inbox import Filter, pair
from producers.mastodon.notification_entities import Render
from producers.mastodon.oauth import Caller, caller
from producers.mastodon.request_state import read_service
from sinks import notification_dismissals as dismissals
from sinks.notification_hot import StreamRow, stream_key
from sinks.notifications import Entry

router = APIRouter(tags=["mastodon"], include_in_schema=False)

USER, NOTIFICATION = "user", "user:notification"
#: The streams' paths: long-lived, never to be counted by an admission bound.
PATHS = ("/api/v1/streaming", "/api/v1/streaming/user", "/api/v1/streaming/user/notification")
#: The scope each stream needs (Mastodon's: either ``read`` or the narrow one).
CHANNELS = {USER: "read:statuses", NOTIFICATION: "read:notifications"}
_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


def _event(name: str, data: bytes, event_id: str) -> bytes:
    return f"id: {event_id}\nevent: {name}\ndata: ".encode() + data + b"\n\n"


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _with_query_token(request: Request) -> Request:
    """The request with ``?access_token=`` as its bearer header, when it has no header."""
    token = request.query_params.get("access_token")
    if not token or request.headers.get("authorization"):
        return request
    scope = dict(request.scope)
    scope["headers"] = [*request.scope["headers"],
                        (b"authorization", f"Bearer {token}".encode())]
    return Request(scope, request.receive)


async def _who(request: Request, channel: str) -> Caller:
    found = await caller(_with_query_token(request))
    if found is None:
        raise MastodonError(401, INVALID_TOKEN)
    if not scopes.allows(found.scopes, CHANNELS[channel]):
        raise MastodonError(403, OUT_OF_SCOPE)
    if found.user_id is None:
        raise MastodonError(422, "This method requires an authenticated user")
    return found


@router.get("/api/v1/streaming/health")
async def health() -> PlainTextResponse:
    return PlainTextResponse("OK")


@router.get("/api/v1/streaming/user")
async def user(request: Request) -> StreamingResponse:
    return await _open(request, USER)


@router.get("/api/v1/streaming/user/notification")
async def user_notification(request: Request) -> StreamingResponse:
    return await _open(request, NOTIFICATION)


@router.get("/api/v1/streaming")
async def by_name(request: Request) -> StreamingResponse:
    """``?stream=user`` / ``user:notification`` (public and hashtag streams are not served)."""
    channel = request.query_params.get("stream", "")
    if channel not in CHANNELS:
        raise MastodonError(400, "Unknown stream type")
    return await _open(request, channel)


async def _open(request: Request, channel: str) -> StreamingResponse:
    who = await _who(request, channel)
    viewer = who.user_id
    assert viewer is not None
    last = request.headers.get("last-event-id")
    if last is not None and not _STREAM_ID.match(last):
        raise MastodonError(422, "Validation failed: Last-Event-ID is not an event id")
    svc = read_service(request)
    try:
        svc.live.reserve()
    except StreamsFull as exc:
        raise MastodonError(503, f"too many streams: {exc}", headers={
            "Retry-After": str(svc.settings.api.retry_after_seconds)}) from None
    wake = None
    try:
        wake = await svc.live.subscribe(viewer)
        position = await _start(svc, viewer, last, wake)
    except BaseException as exc:
        svc.live.release()
        if wake is not None:
            svc.live.unsubscribe(viewer, wake)
        if isinstance(exc, Exception):  # Redis unreachable before the first byte
            raise MastodonError(503, "the stream is unavailable, retry", headers={
                "Retry-After": str(svc.settings.api.retry_after_seconds)}) from exc
        raise
    notifications = channel == NOTIFICATION or scopes.allows(who.scopes, "read:notifications")
    render = Render(request, viewer)

    async def translate(rows: list[StreamRow], _unread: int | None, marker: int
                        ) -> list[bytes]:
        return await _translate(render, rows, marker, posts=channel == USER,
                                notifications=notifications)

    return StreamingResponse(
        svc.live.serve(viewer, wake, position, translate, opening=[b":)\n\n"],
                       heartbeat=b":thump\n\n"),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _start(svc: ReadService, viewer: int, last: str | None,
                 wake: asyncio.Event) -> str:
    """Where the stream reads on from: now, or right after ``Last-Event-ID`` (what the
    Redis Stream still holds after it is sent at once)."""
    # The viewer's follow edges and blocks are read now, as /v1/stream does: every batch
    # is filtered by them, and a burst must not find a thousand new streams uncached.
    newest, _social = await asyncio.gather(svc.redis.xrevrange(stream_key(viewer), count=1),
                                           svc.views.social(viewer))
    head = _text(newest[0][0]) if newest else "0-0"
    if last is None or _order(last) >= _order(head):
        return head
    wake.set()
    return last


async def _translate(render: Render, rows: list[StreamRow], marker: int, *, posts: bool,
                     notifications: bool) -> list[bytes]:
    """One batch of stream rows as Mastodon events, in stream order, each with its own
    id (an entry changed several times in the batch is sent once, at its last row)."""
    changed: dict[int, tuple[str, Entry]] = {}
    added: list[tuple[str, int]] = []
    removed: list[tuple[str, int]] = []
    for row_id, fields in rows:
        kind = fields.get(b"k")
        if kind == b"n" and notifications:
            entry = Entry.from_json(fields[b"e"])
            changed.pop(entry.notification_id, None)
            changed[entry.notification_id] = (row_id, entry)
        elif kind in (b"f", b"o") and posts:  # a post in the home feed, own ones too
            added.append((row_id, int(fields[b"p"])))
        elif kind == b"d" and posts:
            removed.append((row_id, int(fields[b"p"])))
    events = [(row_id, _event("delete", str(photo_id).encode(), row_id))
              for row_id, photo_id in removed]
    if added:
        statuses = await render.statuses([photo_id for _, photo_id in added])
        events += [(row_id, _event("update", orjson.dumps(statuses[photo_id]), row_id))
                   for row_id, photo_id in added if photo_id in statuses]
    if changed:
        svc = render.svc
        keep = Filter(dismissals=await dismissals.load(svc.session, render.viewer))
        wanted = [entry for _, entry in changed.values() if keep.admits(entry)]
        shown = pair(wanted, await svc.live.hydrate(render.viewer, wanted, marker))
        for note in await render.notifications(shown):
            row_id = changed[int(note["id"])][0]
            events.append((row_id, _event("notification", orjson.dumps(note), row_id)))
    events.sort(key=lambda event: _order(event[0]))
    return [chunk for _, chunk in events]
