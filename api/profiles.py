"""Profiles as a viewer sees them: counts, the viewer's follow state, whether the viewer
blocked or muted the account, and whether the viewer may see the account's content
(:func:`api.visibility.can_view_account`)."""

from __future__ import annotations

import asyncio

from api.views import Json, Views
from api.visibility import can_view_account
from sinks import graph
from sinks.blocks import Relations


def known_follow_state(viewer: int, user_id: int, profile: Json,
                       following: frozenset[int]) -> str | None:
    """The viewer's follow state toward ``profile`` when the caches decide it; None when
    only a pending request can tell (a private account the viewer does not follow).

    A public account has no pending requests: a request to one is an edge at once, and
    turning public promotes the waiting ones (:mod:`processors.graph`)."""
    if viewer == user_id:
        return "self"
    if user_id in following:
        return "following"
    return None if profile["private"] else "none"


async def follow_state(views: Views, viewer: int, user_id: int, profile: Json,
                       following: frozenset[int]) -> str:
    known = known_follow_state(viewer, user_id, profile, following)
    if known is not None:
        return known
    return "requested" if await graph.has_request(views.session, viewer, user_id) else "none"


def profile_document(viewer: int, profile: Json, counts: Json, state: str,
                     following: frozenset[int], relations: Relations) -> Json:
    """The Profile document (one shape for the general route and the fast one)."""
    uid = int(profile["id"])
    return {
        "user_id": str(uid), "username": profile["username"],
        "display_name": profile["display_name"], "bio": profile["bio"],
        "private": bool(profile["private"]), "counts": counts, "follow_state": state,
        "can_view": can_view_account(viewer, profile, following, relations),
        "blocking": uid in relations.blocked, "muting": uid in relations.muted,
    }


async def profile_view(views: Views, viewer: int, profile: Json) -> Json:
    """The Profile document of ``profile`` for ``viewer``."""
    uid = int(profile["id"])
    following, relations = await views.social(viewer)
    counts, state = await asyncio.gather(views.user_counts(uid),
                                         follow_state(views, viewer, uid, profile, following))
    return profile_document(viewer, profile, counts, state, following, relations)
