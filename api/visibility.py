"""Who may see what: the one rule every read endpoint applies, as pure functions.

A private account's photos, grid, stories, follower lists, search hits and media URLs
are visible only to the account itself and its *approved* followers (a pending request
is not enough). A photo that is not ready is visible to its owner only (so the uploader
can watch it process); a deleted one to nobody. An album's media item (``detached``) is
never a photo of its own to anyone but its owner: others see it inside its post, which
this same rule admits or hides. Endpoints answer anything invisible
exactly like something that does not exist (404, or absent from a list), so neither
the existence of a private photo nor that of a deleted one leaks.

The inputs are the cached views of :mod:`api.views`; the processors invalidate those
entries on the very events that change them (deletion, unfollow, going private).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

READY = "ready"
DELETED = "deleted"


def can_view_account(viewer: int, profile: Mapping[str, Any] | None,
                     following: frozenset[int]) -> bool:
    """Whether ``viewer`` may see the content (photos, stories, lists) of ``profile``.

    An account whose profile we do not know yet counts as private: showing its posts
    before its registration is processed could expose a private account.
    """
    if profile is None:
        return False
    owner = int(profile["id"])
    return owner == viewer or not profile["private"] or owner in following


def can_view_photo(viewer: int, photo: Mapping[str, Any] | None,
                   profile: Mapping[str, Any] | None, following: frozenset[int]) -> bool:
    """Whether ``viewer`` may see ``photo`` (owned by ``profile``'s account)."""
    if photo is None or photo["status"] == DELETED:
        return False
    if photo["owner"] == viewer:
        return True
    if photo.get("detached"):
        return False  # an album item: seen through its post (api.cards), never alone
    return photo["status"] == READY and can_view_account(viewer, profile, following)
