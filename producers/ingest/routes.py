"""HTTP routes of the ingest service: thin translations between HTTP and :mod:`uploads`.

Ids leave the service as JSON *strings*: they are 64-bit and JavaScript numbers lose
precision above 2**53.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict

from infra.http.problems import PROBLEM_JSON, Problem
from producers.ingest.backlog import Backlog, Queue
from producers.ingest.deps import Admission, CurrentUser, IdempotencyKey, Service
from producers.ingest.limits import per_user
from producers.ingest.multipart import form_flag, read_upload_form
from producers.ingest.uploads import Details

health = APIRouter(tags=["health"])
media = APIRouter(prefix="/v1/media", tags=["media"])

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (400, 401, 404, 409, 413, 415, 422, 429, 503)
}


class Accepted(BaseModel):
    """The upload is durable and queued for processing."""

    photo_id: str
    status: Literal["processing"] = "processing"
    queued_ahead: int | None = None
    """Uploads accepted before this one and not yet processed (None: not measured)."""
    estimated_wait_seconds: float | None = None
    """``queued_ahead`` at the processors' current rate (None: rate not measured yet)."""

    @classmethod
    def joined(cls, photo_id: int, queue: Queue | None) -> Accepted:
        if queue is None:
            return cls(photo_id=str(photo_id))
        wait = queue.wait_seconds
        return cls(photo_id=str(photo_id), queued_ahead=queue.ahead,
                   estimated_wait_seconds=None if wait is None else round(wait, 1))


def _joined(backlog: Backlog) -> Queue | None:
    return backlog.accepted() if backlog.enabled and backlog.lag is not None else None


class DirectUploadOut(BaseModel):
    photo_id: str
    upload_url: str
    method: Literal["PUT"] = "PUT"
    expires_at: datetime
    max_bytes: int
    commit_url: str


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caption: str = ""
    title: str = ""
    location: str | None = None


PhotoId = Annotated[int, Path(ge=0, le=2**63 - 1, description="the photo id (decimal)")]


@health.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness: the process answers (no backend is checked, so no restart storms).

    ``detail`` is the upload backlog as this process sees it (``photostream status``)."""
    backlog: Backlog | None = getattr(request.app.state, "backlog", None)
    return {"status": "ok", "detail": backlog.describe() if backlog else "starting"}


@health.get("/readyz", responses={503: _PROBLEM})
async def readyz(service: Service) -> Any:
    """Readiness: Kafka, MinIO and Cassandra all answer, so uploads can be accepted."""
    checks = await service.readiness()
    if all(state == "ok" for state in checks.values()):
        return {"status": "ready", "checks": checks}
    failing = ", ".join(name for name, state in checks.items() if state != "ok")
    return Problem(503, "not-ready", f"unavailable: {failing}", extra={"checks": checks}).response()


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "caption": {"type": "string", "maxLength": 2200},
                "title": {"type": "string", "maxLength": 200},
                "location": {"type": "string", "maxLength": 200},
                "alt_text": {"type": "string", "maxLength": 1500},
                "sensitive": {"type": "boolean"},
                "content_warning": {"type": "string", "maxLength": 500},
                "detached": {"type": "boolean", "description":
                             "an album item: shown once POST /v1/posts lists it"},
            },
        }}},
    }
}


# The body is read by read_upload_form (streaming), so it is described by hand here.
@media.post("", status_code=202, response_model=Accepted, responses=_ERRORS,
            openapi_extra=_UPLOAD_BODY, dependencies=[per_user("uploads")])
async def upload_media(
    request: Request, user: CurrentUser, service: Service, key: IdempotencyKey,
    backlog: Admission,
) -> Accepted:
    """Upload a photo or video as ``multipart/form-data``: ``file`` plus optional
    ``caption``, ``title``, ``location``, ``alt_text``, ``sensitive``, ``content_warning``
    and ``detached`` (an album item, posted later with ``POST /v1/posts``). Send
    ``Idempotency-Key`` to retry safely."""
    form = await read_upload_form(request, max_file_bytes=service.max_bytes)
    try:
        details = Details(
            caption=form.fields.get("caption", ""),
            title=form.fields.get("title", ""),
            location=form.fields.get("location") or None,
            alt_text=form.fields.get("alt_text", ""),
            sensitive=form_flag(form.fields.get("sensitive"), "sensitive"),
            content_warning=form.fields.get("content_warning", ""),
            detached=form_flag(form.fields.get("detached"), "detached"),
        )
        photo_id = await service.upload(user, form, details, key)
    finally:
        form.close()
    return Accepted.joined(photo_id, _joined(backlog))


@media.post("/uploads", status_code=201, response_model=DirectUploadOut, responses=_ERRORS,
            dependencies=[per_user("uploads")])
async def begin_direct_upload(user: CurrentUser, service: Service) -> DirectUploadOut:
    """Reserve a photo id and get a presigned URL to PUT a large original straight to
    object storage; then call ``commit_url``."""
    upload = await service.begin_direct_upload(user)
    return DirectUploadOut(
        photo_id=str(upload.photo_id),
        upload_url=upload.upload_url,
        expires_at=upload.expires_at,
        max_bytes=upload.max_bytes,
        commit_url=f"/v1/media/uploads/{upload.photo_id}/commit",
    )


@media.post("/uploads/{photo_id}/commit", status_code=202, response_model=Accepted,
            responses=_ERRORS)
async def commit_direct_upload(
    photo_id: PhotoId, user: CurrentUser, service: Service, backlog: Admission,
    body: CommitIn | None = None,
) -> Accepted:
    """Validate the directly uploaded original and queue it for processing."""
    body = body or CommitIn()
    details = Details(caption=body.caption, title=body.title, location=body.location or None)
    await service.commit_direct_upload(user, photo_id, details)
    return Accepted.joined(photo_id, _joined(backlog))
