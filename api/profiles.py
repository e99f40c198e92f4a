"""Profiles as a viewer sees them: counts, the viewer's follow state, whether the viewer
blocked or muted the account, and whether the viewer may see the account's content
(:func:`api.visibility.can_view_account`)."""

from __future__ import annotations

import asyncio

from api.views import Json, Views
from api.visibility import can_view_account
from sinks import graph


async def follow_state(views: Views, viewer: int, user_id: int,
                       following: frozenset[int]) -> str:
    if viewer == user_id:
        return "self"
    if user_id in following:
        return "following"
    if await graph.has_request(views.session, viewer, user_id):
        return "requested"
    return "none"


async def profile_view(views: Views, viewer: int, profile: Json) -> Json:
    """The Profile document of ``profile`` for ``viewer``."""
    uid = int(profile["id"])
    following, relations = await views.social(viewer)
    counts, state = await asyncio.gather(views.user_counts(uid),
                                         follow_state(views, viewer, uid, following))
    return {
        "user_id": str(uid), "username": profile["username"],
        "display_name": profile["display_name"], "bio": profile["bio"],
        "private": bool(profile["private"]), "counts": counts, "follow_state": state,
        "can_view": can_view_account(viewer, profile, following, relations),
        "blocking": uid in relations.blocked, "muting": uid in relations.muted,
    }
