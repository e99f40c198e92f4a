"""Mastodon follow routes and account statuses: ``relationships``, ``:id/follow``,
``:id/unfollow`` and ``:id/statuses``.

Follows go through ingest's own write path (``follow.requested`` on Kafka; a private,
``locked``, account answers ``requested: true`` until it approves). Relationships are read
from the same cached views as ``/v1/users/:id`` (:mod:`api.profiles`). Mounted before
:mod:`.routes`, so ``/accounts/relationships`` is not taken for an account id.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.service import ReadService
from api.views import Json
from api.visibility import can_view_account
from infra.http.problems import Problem
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import read_service, record_id
from producers.mastodon.routes import (
    MAX_ID,
    ReadStatuses,
    limit_of,
    page_response,
    statuses_of,
)
from sinks import graph, photos

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    from producers.ingest.writes import Writes

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadFollows = Annotated[Caller, needs("read:follows")]
WriteFollows = Annotated[Caller, needs("write:follows")]


async def _relationship(svc: ReadService, viewer: int, target: int) -> Json:
    (following, relations), target_follows, requested = await asyncio.gather(
        svc.views.social(viewer), svc.views.following(target),
        graph.has_request(svc.session, viewer, target))
    return {
        "id": str(target), "following": target in following, "showing_reblogs": True,
        "notifying": False, "languages": None, "followed_by": viewer in target_follows,
        "blocking": target in relations.blocked, "blocked_by": target in relations.blocked_by,
        "muting": target in relations.muted, "muting_notifications": target in relations.muted,
        "requested": requested and target not in following, "requested_by": False,
        "domain_blocking": False, "endorsed": False, "note": ""}


@router.get("/api/v1/accounts/relationships")
async def relationships(request: Request, who: ReadFollows) -> JSONResponse:
    viewer = signed_in(who)
    found = await params(request)
    raw = found.get("id") or []
    ids = [raw] if isinstance(raw, str) else list(raw)
    targets = [int(value) for value in ids[:40] if str(value).isdigit()
               and int(value) <= MAX_ID]
    svc = read_service(request)
    return JSONResponse(list(await asyncio.gather(
        *(_relationship(svc, viewer, target) for target in targets))))


async def _profile(svc: ReadService, user_id: int) -> Json:
    profile = (await svc.views.profiles([user_id])).get(user_id)
    if profile is None:
        raise MastodonError(404, NOT_FOUND)
    return profile


@router.post("/api/v1/accounts/{account_id}/follow")
async def follow(account_id: str, request: Request, who: WriteFollows) -> JSONResponse:
    """Follow (or ask to follow a locked account); the answer shows the new state at once,
    as Mastodon's does, while the graph processor applies the event."""
    viewer, target = signed_in(who), record_id(account_id)
    svc = read_service(request)
    profile = await _profile(svc, target)
    writes: Writes = request.app.state.writes
    await count(request, "follows", viewer)
    try:
        await writes.accounts.follow(viewer, target)
    except Problem as problem:
        raise from_problem(problem) from None
    state = await _relationship(svc, viewer, target)
    if not state["following"]:
        locked = bool(profile["private"])
        state.update(following=not locked, requested=locked)
    return JSONResponse(state)


@router.post("/api/v1/accounts/{account_id}/unfollow")
async def unfollow(account_id: str, request: Request, who: WriteFollows) -> JSONResponse:
    viewer, target = signed_in(who), record_id(account_id)
    svc = read_service(request)
    await _profile(svc, target)
    writes: Writes = request.app.state.writes
    await count(request, "follows", viewer)
    try:
        await writes.accounts.unfollow(viewer, target)
    except Problem as problem:
        raise from_problem(problem) from None
    state = await _relationship(svc, viewer, target)
    state.update(following=False, requested=False)
    return JSONResponse(state)


@router.get("/api/v1/accounts/{account_id}/statuses")
async def account_statuses(account_id: str, request: Request,
                           who: ReadStatuses) -> Response:
    """The account's posts, newest first (``max_id``, ``limit``); empty to a viewer who may
    not see them (a private account not followed, a block), and for ``pinned``
    (photostream has no pinned posts); ``only_media`` changes nothing: every post has media."""
    viewer, target = signed_in(who), record_id(account_id)
    found = await params(request)
    svc = read_service(request)
    profile = await _profile(svc, target)
    following, relations = await svc.views.social(viewer)
    if text(found, "pinned").lower() in ("1", "true") or not can_view_account(
            viewer, profile, following, relations):
        return JSONResponse([])
    max_id = text(found, "max_id", limit=30)
    before = int(max_id) if max_id.isdigit() and int(max_id) <= MAX_ID else None
    limit = limit_of(found)
    ids = await photos.recent_photos(svc.session, target, limit=limit, before=before)
    cards = await svc.cards.cards(viewer, ids, social=(following, relations), with_items=True)
    return page_response(request, await statuses_of(request, viewer, cards))
