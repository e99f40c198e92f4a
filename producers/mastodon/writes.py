"""Mastodon write routes for posting photos: ``POST /api/v2/media``, ``GET
/api/v1/media/:id`` and ``POST /api/v1/statuses``, through ingest's own write paths.

A Mastodon client uploads each file first and then posts a status listing the media
ids; photostream's album flow has the same shape (detached uploads, then
``POST /v1/posts``), so an upload here is a detached upload (``media.uploaded`` on
Kafka, processed by the media processor like any other) and a status is an album post
(``album.posted``). A status without media is refused: a post here is a photo or video.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.service import ReadService
from infra.http.problems import Problem
from producers.ingest.albums import Albums
from producers.ingest.backlog import Backlog
from producers.ingest.deps import MAX_IDEMPOTENCY_KEY
from producers.ingest.multipart import read_upload_form
from producers.ingest.uploads import Details, IngestService
from producers.mastodon import entities, replies, statuses
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.routes import MAX_ID, account_of

router = APIRouter(tags=["mastodon"], include_in_schema=False)

WriteMedia = Annotated[Caller, needs("write:media")]
WriteStatuses = Annotated[Caller, needs("write:statuses")]


def _refused(problem: Problem) -> MastodonError:
    """Ingest's refusal in Mastodon's terms: a file too large or of the wrong type is a
    422 with the reason there, as Mastodon answers it."""
    if problem.status in (413, 415):
        return MastodonError(422, f"Validation failed: {problem}")
    return from_problem(problem)


def _pending(media_id: int, description: str) -> entities.Json:
    return {"id": str(media_id), "type": "image", "url": None, "preview_url": None,
            "remote_url": None, "preview_remote_url": None, "text_url": None,
            "meta": None, "description": description or None, "blurhash": None}


@router.post("/api/v2/media")
async def upload_media(request: Request, who: WriteMedia) -> JSONResponse:
    """Store the file and queue it for processing: 202 with ``url: null``."""
    user = signed_in(who)
    backlog: Backlog = request.app.state.backlog
    service: IngestService = request.app.state.ingest
    await count(request, "uploads", user)
    try:
        backlog.admit()
        form = await read_upload_form(request, max_file_bytes=service.max_bytes)
    except Problem as problem:
        raise _refused(problem) from None
    try:
        description = form.fields.get("description", "")
        media_id = await service.upload(user, form, Details(alt_text=description,
                                                            detached=True), None)
    except Problem as problem:
        raise _refused(problem) from None
    finally:
        form.close()
    return JSONResponse(_pending(media_id, description), status_code=202)


@router.get("/api/v1/media/{media_id}")
async def get_media(media_id: str, request: Request, who: WriteMedia) -> JSONResponse:
    """The caller's own upload: 206 while it is processed, 200 with its URLs once ready."""
    user = signed_in(who)
    if not media_id.isdigit() or int(media_id) > MAX_ID:
        raise MastodonError(404, NOT_FOUND)
    read: ReadService = request.app.state.read
    row = (await read.views.photos([int(media_id)])).get(int(media_id))
    if row is None or row["owner"] != user or row["status"] == "deleted":
        raise MastodonError(404, NOT_FOUND)
    if row["status"] == "failed":
        raise MastodonError(422, f"Validation failed: {row.get('failure') or 'unreadable'}")
    if row["status"] != "ready":
        return JSONResponse(_pending(int(media_id), row.get("alt") or ""), status_code=206)
    item = read.cards.item(row, time.time())
    return JSONResponse(entities.media_attachment(
        item["media_id"], item["images"], item["video"], item["alt_text"],
        item["placeholder"]["blurhash"], item["width"], item["height"]))


@router.post("/api/v1/statuses")
async def post_status(request: Request, who: WriteStatuses) -> JSONResponse:
    """Post the listed media as one post (its caption the status text)."""
    user = signed_in(who)
    found = await params(request)
    replied = replies.replied_photo(found)
    if replied is not None:  # a reply is a comment (producers/mastodon/replies.py)
        return JSONResponse(await statuses.post_reply(request, user, replied, found))
    await count(request, "uploads", user)
    raw_ids = found.get("media_ids") or []
    if not isinstance(raw_ids, list):
        raw_ids = [raw_ids]
    ids = [str(value) for value in raw_ids]
    if not ids:
        raise MastodonError(422, "Validation failed: a post here needs at least one "
                                 "photo or video (media_ids)")
    if any(not value.isdigit() or int(value) > MAX_ID for value in ids):
        raise MastodonError(422, "Validation failed: media_ids are not ids")
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise MastodonError(422, "Validation failed: Idempotency-Key is too long")
    sensitive = str(found.get("sensitive", "")).lower() in ("1", "true", "on")
    caption = text(found, "status", limit=2200)
    details = Details(caption=caption, sensitive=sensitive,
                      content_warning=text(found, "spoiler_text", limit=500))
    albums: Albums = request.app.state.albums
    try:
        post_id = await albums.create(user, [int(value) for value in ids], details, key)
    except Problem as problem:
        raise _refused(problem) from None
    author = await account_of(request, user)
    url = f"{str(request.base_url).rstrip('/')}/@{author['username']}/{post_id}"
    base = str(request.base_url).rstrip("/")
    return JSONResponse({
        "id": str(post_id), "uri": url, "url": url,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "account": author, "content": entities.content_html(caption, base),
        "visibility": "private" if author["locked"] else "public", "sensitive": sensitive,
        "spoiler_text": details.content_warning,
        "media_attachments": [_pending(int(value), "") for value in ids],
        "application": None, "mentions": [], "tags": entities.tags(caption, base),
        "emojis": [], "reblogs_count": 0, "favourites_count": 0, "replies_count": 0,
        "in_reply_to_id": None, "in_reply_to_account_id": None, "reblog": None,
        "poll": None, "card": None, "language": None, "text": caption, "edited_at": None,
        "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
        "pinned": False, "filtered": []})
