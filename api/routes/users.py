"""``/v1/me``, ``/v1/users/...`` and ``/v1/follow-requests``: profiles, grids, lists.

A private account's grid and follower/following lists are empty pages to anyone but
the account and its approved followers (the profile says ``can_view: false``), so the
client can show "this account is private" without a second error path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api import cursors
from api.cards import user_ref
from api.deps import Cursor, Limit, Service, UserId, Viewer
from api.models import PhotoPage, Profile, UserPage
from api.profiles import profile_view
from api.routes.common import ERRORS, JSON, not_found, ok, read_cursor
from api.service import ReadService
from api.views import Json
from api.visibility import can_view_account
from sinks import graph, photos, users

router = APIRouter(prefix="/v1", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[a-z0-9._]+$")]


async def _profile(svc: ReadService, user_id: int) -> Json:
    found = await svc.views.profiles([user_id])
    if user_id not in found:
        raise not_found("user")
    return found[user_id]


async def _viewable(svc: ReadService, viewer: int, user_id: int) -> bool:
    profile = await _profile(svc, user_id)
    return can_view_account(viewer, profile, await svc.views.following(viewer))


@router.get("/me", response_model=Profile, responses=ERRORS)
async def me(viewer: Viewer, svc: Service) -> JSON:
    """The caller's own profile (404 until their registration is processed)."""
    return ok(await profile_view(svc.views, viewer, await _profile(svc, viewer)))


@router.get("/users/by-username/{username}", response_model=Profile, responses=ERRORS)
async def by_username(username: Username, viewer: Viewer, svc: Service) -> JSON:
    user_id = await users.user_id_for(svc.session, username)
    if user_id is None:
        raise not_found("user")
    return ok(await profile_view(svc.views, viewer, await _profile(svc, user_id)))


@router.get("/users/{user_id}", response_model=Profile, responses=ERRORS)
async def profile(user_id: UserId, viewer: Viewer, svc: Service) -> JSON:
    return ok(await profile_view(svc.views, viewer, await _profile(svc, user_id)))


@router.get("/users/{user_id}/photos", response_model=PhotoPage, responses=ERRORS)
async def grid(user_id: UserId, viewer: Viewer, svc: Service, limit: Limit = 24,
               cursor: Cursor = None) -> JSON:
    """The account's ready photos, newest first."""
    state = read_cursor(cursor, "grid", {"b": int})
    if not await _viewable(svc, viewer, user_id):
        return ok({"items": [], "next_cursor": None})
    ids = await photos.recent_photos(svc.session, user_id, limit=limit,
                                     before=state["b"] if state else None)
    items = await svc.cards.cards(viewer, ids)
    more = len(ids) == limit
    return ok({"items": items,
               "next_cursor": cursors.encode("grid", b=ids[-1]) if more else None})


async def _user_page(svc: ReadService, ids: list[int], limit: int, kind: str) -> Json:
    profiles = await svc.views.profiles(ids)
    more = len(ids) == limit
    return {"items": [user_ref(profiles[u]) for u in ids if u in profiles],
            "next_cursor": cursors.encode(kind, a=ids[-1]) if more else None}


@router.get("/users/{user_id}/followers", response_model=UserPage, responses=ERRORS)
async def followers(user_id: UserId, viewer: Viewer, svc: Service, limit: Limit = 50,
                    cursor: Cursor = None) -> JSON:
    state = read_cursor(cursor, "followers", {"a": int})
    if not await _viewable(svc, viewer, user_id):
        return ok({"items": [], "next_cursor": None})
    ids = await graph.followers_page(svc.session, user_id, state["a"] if state else None,
                                     limit)
    return ok(await _user_page(svc, ids, limit, "followers"))


@router.get("/users/{user_id}/following", response_model=UserPage, responses=ERRORS)
async def following(user_id: UserId, viewer: Viewer, svc: Service, limit: Limit = 50,
                    cursor: Cursor = None) -> JSON:
    state = read_cursor(cursor, "following", {"a": int})
    if not await _viewable(svc, viewer, user_id):
        return ok({"items": [], "next_cursor": None})
    ids = await graph.following_page(svc.session, user_id, state["a"] if state else -1,
                                     limit)
    return ok(await _user_page(svc, ids, limit, "following"))


@router.get("/follow-requests", response_model=UserPage, responses=ERRORS)
async def follow_requests(viewer: Viewer, svc: Service) -> JSON:
    """People waiting for the caller's approval."""
    ids = await graph.pending_requests(svc.session, viewer)
    profiles = await svc.views.profiles(ids)
    return ok({"items": [user_ref(profiles[u]) for u in ids if u in profiles],
               "next_cursor": None})
