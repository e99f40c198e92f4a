"""What every Mastodon route reads off its request: the read side's service and the write
paths the ingest app opened in its lifespan, this server's base URL, and a path's record
id. One place, so the routers (accounts, statuses, notifications, ...) share them."""

from __future__ import annotations

from fastapi import Request

from api.deps import MAX_ID
from api.service import ReadService
from producers.ingest.deps import get_writes
from producers.mastodon.errors import NOT_FOUND, MastodonError

#: The write paths the ingest app opened: the ingest's own accessor, under the name the
#: Mastodon routers use.
writes_of = get_writes


def read_service(request: Request) -> ReadService:
    service: ReadService = request.app.state.read
    return service


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def record_id(value: str) -> int:
    """A path's status or account id; 404 (Mastodon's "Record not found") for anything
    that cannot be one."""
    if not value.isdigit() or int(value) > MAX_ID:
        raise MastodonError(404, NOT_FOUND)
    return int(value)
