"""What every Mastodon route reads off its request: the read side's service and the write
paths the ingest app opened in its lifespan, this server's base URL, and a path's record
id. One place, so the routers (accounts, statuses, notifications, ...) share them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from api.deps import MAX_ID
from api.service import ReadService
from producers.mastodon.errors import NOT_FOUND, MastodonError

if TYPE_CHECKING:
    from producers.ingest.writes import Writes


def read_service(request: Request) -> ReadService:
    service: ReadService = request.app.state.read
    return service


def writes_of(request: Request) -> Writes:
    writes: Writes = request.app.state.writes
    return writes


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def record_id(value: str) -> int:
    """A path's status or account id; 404 (Mastodon's "Record not found") for anything
    that cannot be one."""
    if not value.isdigit() or int(value) > MAX_ID:
        raise MastodonError(404, NOT_FOUND)
    return int(value)
