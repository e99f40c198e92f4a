"""``GET /v1/stream``: the caller's live events as server-sent events.

Fed from the pipeline, not by polling Cassandra: the notifications processor appends to
the user's Redis Stream (:mod:`sinks.notification_hot`) and wakes this process
(:mod:`api.live`). Events:

* ``unread`` ``{"count", "more"}`` - first on every connection, then after each batch
  that changed it (the bell's badge);
* ``notification`` - an entry created or changed, hydrated like ``GET /v1/notifications``
  (a grouped entry whose count moves is sent again, with the same ``id`` in its data);
* ``removed`` ``{"id"}`` - an entry withdrawn before it was seen;
* ``feed`` ``{"new_posts": n}`` - n posts reached the home feed ("N new posts");
* ``resync`` - the ``Last-Event-ID`` is older than what is kept: refetch the lists.

Every event carries ``id:`` = the stream position, so a reconnecting client (browsers do
it themselves with ``Last-Event-ID``) resumes exactly after the last event it got.
Coalesced: a stream sends at most one batch per ``notify.coalesce_ms``, and a batch
holds one event per entry (its newest state), so a photo liked 10 000 times a minute
reaches its owner as a few events a second. A comment line every
``notify.heartbeat_seconds`` keeps idle connections alive through proxies. At most
``notify.max_streams`` per process: beyond, 503 + ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from api.deps import Service, Viewer
from api.live import StreamsFull
from api.routes.common import ERRORS
from api.service import ReadService
from infra.http.problems import Problem
from sinks.notification_hot import StreamRow, keys
from sinks.notifications import Entry

router = APIRouter(prefix="/v1", tags=["stream"])
#: The stream's path (long-lived: the admission bound does not count it, see api.app).
PATH = "/v1/stream"

_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)]


def _event(name: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _stream_id(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _newer(a: str, b: str) -> bool:
    """Whether stream id ``a`` is after ``b``."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq)) > (int(bms), int(bseq))


@router.get("/stream", responses={**ERRORS, 503: ERRORS[401]},
            response_description="text/event-stream")
async def stream(viewer: Viewer, svc: Service,
                 last_event_id: LastEventId = None) -> StreamingResponse:
    """The caller's live events (see the module doc), resumable with ``Last-Event-ID``."""
    if last_event_id is not None and not _STREAM_ID.match(last_event_id):
        raise Problem(422, "validation-error", "header.Last-Event-ID: not an event id",
                      extra={"errors": [{"location": "header.Last-Event-ID",
                                         "message": "not an event id"}]})
    try:
        svc.live.reserve()
    except StreamsFull as exc:
        retry = str(svc.settings.api.retry_after_seconds)
        raise Problem(503, "overloaded", f"too many live streams: {exc}",
                      headers={"Retry-After": retry}) from None
    # Everything that can fail on a backend before the first byte happens here, so it
    # is answered as such (503 + Retry-After by api.failsafe), not as a broken stream.
    wake = None
    try:
        wake = await svc.live.subscribe(viewer)
        first, position = await _opening(svc, viewer, last_event_id, wake)
    except BaseException:
        svc.live.release()
        if wake is not None:
            svc.live.unsubscribe(viewer, wake)
        raise
    async def translate(rows: list[StreamRow], unread: int | None, marker: int
                        ) -> list[bytes]:
        return await _batch(svc, viewer, rows, unread, marker)

    return StreamingResponse(svc.live.serve(viewer, wake, position, translate, opening=first),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _opening(svc: ReadService, viewer: int, last_event_id: str | None,
                   wake: asyncio.Event) -> tuple[list[bytes], str]:
    """The first events (a resync if the resumed id is gone, the unread count) and the
    stream position to read on from."""
    key = keys(viewer)["s"]
    newest = await svc.redis.xrevrange(key, count=1)
    position = _stream_id(newest[0][0]) if newest else "0-0"
    first = []
    if last_event_id is not None:
        oldest = await svc.redis.xrange(key, count=1)
        if oldest and last_event_id != "0-0" and _newer(_stream_id(oldest[0][0]),
                                                        last_event_id):
            first.append(_event("resync", {}, position))
        else:
            position = last_event_id
            wake.set()  # send what came after it at once
    # The viewer's follow edges and blocks are read now, while the stream opens: every
    # batch this stream will send is filtered by them, and a notification written for
    # a thousand freshly opened streams must not find them all missing from the cache.
    (count, more), _social = await asyncio.gather(svc.notifications.unread(viewer),
                                                  svc.views.social(viewer))
    first.append(_event("unread", {"count": count, "more": more}, position))
    return first, position


async def _batch(svc: ReadService, viewer: int, rows: list[StreamRow], unread: int | None,
                 marker: int) -> list[bytes]:
    """One coalesced batch: the newest state per entry, removals, the feed hint, the count."""
    position = rows[-1][0]
    changed: dict[int, Entry] = {}
    removed: list[str] = []
    new_posts = 0
    counted = False
    for _id, fields in rows:
        kind = fields.get(b"k")
        if kind == b"n":
            entry = Entry.from_json(fields[b"e"])
            changed[entry.notification_id] = entry
            counted = True
        elif kind == b"x":
            nid = int(fields[b"i"])
            changed.pop(nid, None)
            removed.append(str(nid))
            counted = True
        elif kind == b"f":
            new_posts += 1
        elif kind == b"r":
            counted = True
    out: list[bytes] = []
    if changed:
        ordered = sorted(changed.values(), key=lambda e: e.notification_id)
        for item in await svc.live.hydrate(viewer, ordered, marker):
            out.append(_event("notification", item, position))
    out += [_event("removed", {"id": nid}, position) for nid in removed]
    if new_posts:
        out.append(_event("feed", {"new_posts": new_posts}, position))
    if counted:
        more = False
        if unread is None:  # the hot copy was lost: the reader refills it
            unread, more = await svc.notifications.unread(viewer)
        else:
            more = unread >= svc.settings.notify.hot_entries
        out.append(_event("unread", {"count": unread, "more": more}, position))
    return out
