"""``PUT /api/v1/media/:id``: a Mastodon client edits the alt text of its upload.

The edit is ``photo.alt_text_edited`` through ingest's own write path (as
``PATCH /v1/media/:id``), so the metadata processor applies it to the item wherever it
is shown. ``focus`` (a crop point) is accepted and not kept: photostream renders no
crops that a focus point would steer (docs/mastodon-api.md). ``thumbnail`` likewise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from infra.http.problems import Problem
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import signed_in
from producers.mastodon.writes import WriteMedia, get_media

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    from producers.ingest.writes import Writes

router = APIRouter(tags=["mastodon"], include_in_schema=False)

#: Mastodon's ``description_limit`` (announced by the instance entity).
MAX_DESCRIPTION = 1500


@router.put("/api/v1/media/{media_id}")
async def update_media(media_id: str, request: Request, who: WriteMedia) -> JSONResponse:
    """The caller's own upload (404 for anyone else's, as ``GET``), with its new
    ``description``; 206 while the file is still being processed, as ``GET`` answers."""
    current = await get_media(media_id, request, who)
    found = await params(request)
    body = orjson.loads(current.body)
    if "description" in found:
        description = text(found, "description", limit=MAX_DESCRIPTION)
        await count(request, "edits", signed_in(who))
        writes: Writes = request.app.state.writes
        try:
            await writes.posts.edit_alt_text(signed_in(who), int(media_id), description)
        except Problem as problem:
            if problem.status in (403, 404):
                raise MastodonError(404, NOT_FOUND) from None
            raise from_problem(problem) from None
        body["description"] = description or None
    return JSONResponse(body, status_code=current.status_code)
