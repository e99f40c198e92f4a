"""``/v1/me``, ``/v1/users/...`` and ``/v1/follow-requests``: profiles, grids, lists.

A private account's grid and follower/following lists are empty pages to anyone but
the account and its approved followers (the profile says ``can_view: false``), so the
client can show "this account is private" without a second error path. Across a block
(either way) the grid and lists are empty the same way, and accounts blocked either way
are left out of every user list the caller reads.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from api import cursors
from api.cards import user_ref
from api.deps import Cursor, Limit, Service, UserId, Viewer
from api.models import PhotoPage, Profile, UserPage
from api.profiles import profile_view
from api.routes.common import ERRORS, JSON, not_found, ok, read_cursor
from api.service import ReadService
from api.views import Json
from api.visibility import can_view_account, visible_users
from sinks import blocks, graph, photos, users

router = APIRouter(prefix="/v1", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[a-z0-9._]+$")]


async def _profile(svc: ReadService, user_id: int) -> Json:
    found = await svc.views.profiles([user_id])
    if user_id not in found:
        raise not_found("user")
    return found[user_id]


async def _viewable(svc: ReadService, viewer: int, user_id: int) -> bool:
    profile = await _profile(svc, user_id)
    following, relations = await svc.views.social(viewer)
    return can_view_account(viewer, profile, following, relations)


@router.get("/me", response_model=Profile, responses=ERRORS)
async def me(viewer: Viewer, svc: Service) -> JSON:
    """The caller's own profile (404 until their registration is processed)."""
    return ok(await profile_view(svc.views, svc.urls, viewer, await _profile(svc, viewer)))


@router.get("/users/by-username/{username}", response_model=Profile, responses=ERRORS)
async def by_username(username: Username, viewer: Viewer, svc: Service) -> JSON:
    user_id = await users.user_id_for(svc.session, username)
    if user_id is None:
        raise not_found("user")
    return ok(await profile_view(svc.views, svc.urls, viewer, await _profile(svc, user_id)))


@router.get("/users/{user_id}", response_model=Profile, responses=ERRORS)
async def profile(user_id: UserId, viewer: Viewer, svc: Service) -> JSON:
    return ok(await profile_view(svc.views, svc.urls, viewer, await _profile(svc, user_id)))


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


async def _user_page(svc: ReadService, viewer: int, ids: list[int], limit: int,
                     kind: str) -> Json:
    """A page of user refs, without accounts blocked either way (the cursor still moves
    past them)."""
    profiles, relations = await asyncio.gather(svc.views.profiles(ids),
                                               svc.views.relations(viewer))
    shown = visible_users(viewer, ids, relations)
    more = len(ids) == limit
    return {"items": [user_ref(profiles[u]) for u in shown if u in profiles],
            "next_cursor": cursors.encode(kind, a=ids[-1]) if more else None}


@router.get("/users/{user_id}/followers", response_model=UserPage, responses=ERRORS)
async def followers(user_id: UserId, viewer: Viewer, svc: Service, limit: Limit = 50,
                    cursor: Cursor = None) -> JSON:
    state = read_cursor(cursor, "followers", {"a": int})
    if not await _viewable(svc, viewer, user_id):
        return ok({"items": [], "next_cursor": None})
    ids = await graph.followers_page(svc.session, user_id, state["a"] if state else None,
                                     limit)
    return ok(await _user_page(svc, viewer, ids, limit, "followers"))


@router.get("/users/{user_id}/following", response_model=UserPage, responses=ERRORS)
async def following(user_id: UserId, viewer: Viewer, svc: Service, limit: Limit = 50,
                    cursor: Cursor = None) -> JSON:
    state = read_cursor(cursor, "following", {"a": int})
    if not await _viewable(svc, viewer, user_id):
        return ok({"items": [], "next_cursor": None})
    ids = await graph.following_page(svc.session, user_id, state["a"] if state else -1,
                                     limit)
    return ok(await _user_page(svc, viewer, ids, limit, "following"))


@router.get("/follow-requests", response_model=UserPage, responses=ERRORS)
async def follow_requests(viewer: Viewer, svc: Service) -> JSON:
    """People waiting for the caller's approval."""
    ids = await graph.pending_requests(svc.session, viewer)
    profiles, relations = await asyncio.gather(svc.views.profiles(ids),
                                               svc.views.relations(viewer))
    return ok({"items": [user_ref(profiles[u]) for u in visible_users(viewer, ids, relations)
                         if u in profiles],
               "next_cursor": None})


async def _relation_page(svc: ReadService, viewer: int, kind: Literal["blocks", "mutes"],
                         limit: int, cursor: str | None) -> Json:
    state = read_cursor(cursor, kind, {"a": int})
    ids = await blocks.listed(svc.session, viewer, kind, state["a"] if state else -1, limit)
    profiles = await svc.views.profiles(ids)  # blocked, yet listed: this is the list
    more = len(ids) == limit
    return {"items": [user_ref(profiles[u]) for u in ids if u in profiles],
            "next_cursor": cursors.encode(kind, a=ids[-1]) if more else None}


@router.get("/me/blocks", response_model=UserPage, responses=ERRORS)
async def my_blocks(viewer: Viewer, svc: Service, limit: Limit = 50,
                    cursor: Cursor = None) -> JSON:
    """The accounts the caller blocked, by user id (for the settings page)."""
    return ok(await _relation_page(svc, viewer, "blocks", limit, cursor))


@router.get("/me/mutes", response_model=UserPage, responses=ERRORS)
async def my_mutes(viewer: Viewer, svc: Service, limit: Limit = 50,
                   cursor: Cursor = None) -> JSON:
    """The accounts the caller muted, by user id."""
    return ok(await _relation_page(svc, viewer, "mutes", limit, cursor))
