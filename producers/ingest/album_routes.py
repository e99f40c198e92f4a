"""HTTP routes of album posts and per-media edits (see docs/http-api.md, "Albums").

``POST /v1/posts`` takes either JSON (the ids of media uploaded before with
``detached=true``) or ``multipart/form-data`` with several ``file`` parts (one-shot, for
simple clients); ``PATCH /v1/media/{id}`` edits one item's alt text. Both answer 202
once the event is acknowledged by Kafka.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.http.problems import PROBLEM_JSON, Problem
from producers.ingest.albums import Albums
from producers.ingest.deps import CurrentUser, IdempotencyKey, WriteService
from producers.ingest.limits import per_user
from producers.ingest.multipart import form_flag, read_album_form
from producers.ingest.uploads import Details

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
MAX_ID = 2**63 - 1
MediaId = Annotated[int, Path(ge=0, le=MAX_ID, description="the media (photo) id, decimal")]

posts = APIRouter(prefix="/v1/posts", tags=["posts"], responses=_ERRORS)
media_edits = APIRouter(prefix="/v1/media", tags=["media"], responses=_ERRORS)


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_ids: list[str] = Field(description="ids of detached uploads, in the author's order")
    caption: str = ""
    title: str = ""
    location: str | None = None
    sensitive: bool = False
    content_warning: str = ""


class PostAccepted(BaseModel):
    """The post is durable; it appears once its media are processed (or at the bound)."""

    post_id: str
    media_ids: list[str]
    status: Literal["processing"] = "processing"


class AltTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alt_text: str = Field(max_length=1500)


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values:
        if not value.isdecimal() or int(value) > MAX_ID:
            raise Problem(422, "invalid-field", f"media_ids: {value!r} is not an id",
                          extra={"field": "media_ids"})
        out.append(int(value))
    return out


_POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PostIn.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "alt_text": {"type": "array", "items": {"type": "string",
                                                            "maxLength": 1500}},
                    "caption": {"type": "string", "maxLength": 2200},
                    "title": {"type": "string", "maxLength": 200},
                    "location": {"type": "string", "maxLength": 200},
                    "sensitive": {"type": "boolean"},
                    "content_warning": {"type": "string", "maxLength": 500},
                },
            }},
        },
    }
}


def get_albums(request: Request) -> Albums:
    albums: Albums = request.app.state.albums
    return albums


# The body is JSON or multipart, read by hand, so it is described by hand here.
@posts.post("", status_code=202, response_model=PostAccepted, openapi_extra=_POST_BODY,
            dependencies=[per_user("uploads")])
async def create_post(request: Request, user: CurrentUser, key: IdempotencyKey) -> PostAccepted:
    """Make a post of 1..N media in this order: JSON ``media_ids`` of detached uploads,
    or ``multipart/form-data`` with several ``file`` parts (and one ``alt_text`` per
    file). Send ``Idempotency-Key`` to retry safely."""
    albums = get_albums(request)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        request.app.state.backlog.admit()
        form = await read_album_form(request, max_file_bytes=albums.ingest.max_bytes,
                                     max_files=albums.max_items)
        try:
            fields = form.fields
            details = Details(
                caption=fields.get("caption", ""), title=fields.get("title", ""),
                location=fields.get("location") or None,
                sensitive=form_flag(fields.get("sensitive"), "sensitive"),
                content_warning=fields.get("content_warning", ""))
            post_id, media_ids = await albums.upload(user, form, details, key)
        finally:
            form.close()
        return PostAccepted(post_id=str(post_id), media_ids=[str(m) for m in media_ids])
    if not ctype.startswith("application/json"):
        raise Problem(415, "unsupported-media-type",
                      "send the post as application/json or multipart/form-data")
    try:
        body = PostIn.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise Problem(422, "invalid-field", f"{field or 'body'}: {first['msg']}",
                      extra={"field": field}) from None
    media_ids = _ids(body.media_ids)
    details = Details(caption=body.caption, title=body.title, location=body.location,
                      sensitive=body.sensitive, content_warning=body.content_warning)
    post_id = await albums.create(user, media_ids, details, key)
    return PostAccepted(post_id=str(post_id), media_ids=[str(m) for m in media_ids])


@media_edits.patch("/{media_id}", status_code=202, response_model=Accepted,
                   dependencies=[per_user("edits")])
async def edit_media(media_id: MediaId, body: AltTextIn, user: CurrentUser,
                     writes: WriteService) -> Accepted:
    """Replace one media item's alt text (``photo.alt_text_edited``)."""
    await writes.posts.edit_alt_text(user, media_id, body.alt_text)
    return Accepted()
