"""Profiles as a viewer sees them: counts, the viewer's follow state, whether the viewer
blocked or muted the account, and whether the viewer may see the account's content
(:func:`api.visibility.can_view_account`), and the URLs of its avatar and header."""

from __future__ import annotations

import asyncio
import time

from api.views import Json, Views
from api.visibility import can_view_account
from sinks import graph
from sinks.blocks import Relations
from sinks.media_keys import profile_image_key
from sinks.media_urls import MediaUrls

#: The renditions of each profile image a reader is given (schemas.profile_images).
_RENDITIONS = {"avatar": ("avatar", "avatar_small"), "header": ("header",)}


def image_urls(profile: Json, urls: MediaUrls, now: float) -> dict[str, str | None]:
    """Signed URLs of the profile's ``avatar``, ``avatar_small`` and ``header``, signed as
    photo derivatives are (:mod:`sinks.media_urls`); None where none is set yet.

    The cached profile holds the image ids (a profile cached before avatars existed
    holds none: ``get``); the keys follow from them (:mod:`sinks.media_keys`).
    """
    found: dict[str, str | None] = {}
    uid = int(profile["id"])
    for kind, names in _RENDITIONS.items():
        image_id = profile.get(kind)
        for name in names:
            found[name] = None if image_id is None else urls.url(
                profile_image_key(uid, int(image_id), name), now=now)
    return found


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
                     following: frozenset[int], relations: Relations,
                     images: dict[str, str | None]) -> Json:
    """The Profile document (one shape for the general route and the fast one);
    ``images`` from :func:`image_urls`."""
    uid = int(profile["id"])
    return {
        "user_id": str(uid), "username": profile["username"],
        "display_name": profile["display_name"], "bio": profile["bio"],
        "private": bool(profile["private"]), "counts": counts, "follow_state": state,
        "can_view": can_view_account(viewer, profile, following, relations),
        "blocking": uid in relations.blocked, "muting": uid in relations.muted,
        "avatar_url": images["avatar"], "avatar_small_url": images["avatar_small"],
        "header_url": images["header"],
    }


async def profile_view(views: Views, urls: MediaUrls, viewer: int, profile: Json) -> Json:
    """The Profile document of ``profile`` for ``viewer``."""
    uid = int(profile["id"])
    following, relations = await views.social(viewer)
    counts, state = await asyncio.gather(views.user_counts(uid),
                                         follow_state(views, viewer, uid, profile, following))
    return profile_document(viewer, profile, counts, state, following, relations,
                            image_urls(profile, urls, time.time()))
