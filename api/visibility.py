"""Who may see what: the one rule every read endpoint applies, as pure functions.

A private account's photos, grid, stories, follower lists, search hits and media URLs
are visible only to the account itself and its *approved* followers (a pending request
is not enough). A photo that is not ready is visible to its owner only (so the uploader
can watch it process); a deleted one to nobody. An album's media item (``detached``) is
never a photo of its own to anyone but its owner: others see it inside its post, which
this same rule admits or hides. Endpoints answer anything invisible
exactly like something that does not exist (404, or absent from a list), so neither
the existence of a private photo nor that of a deleted one leaks.

Blocks: two accounts of which either blocked the other see nothing of each other
(``Relations.hidden``): no photos, grid, stories, comments or likes, and they are left
out of each other's user lists (followers, likers, search); a profile still answers,
with ``can_view: false``, so the blocker can find it to unblock. Mutes hide an
account's posts from the muter's home feed only (:func:`feed_authors`).

The inputs are the cached views of :mod:`api.views`; the processors invalidate those
entries on the very events that change them (deletion, unfollow, going private, block).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sinks.blocks import Relations

READY = "ready"
DELETED = "deleted"


def can_view_account(viewer: int, profile: Mapping[str, Any] | None,
                     following: frozenset[int], relations: Relations) -> bool:
    """Whether ``viewer`` (whose blocks and mutes are ``relations``) may see the content
    (photos, stories, lists) of ``profile``.

    An account whose profile we do not know yet counts as private: showing its posts
    before its registration is processed could expose a private account.
    """
    if profile is None:
        return False
    owner = int(profile["id"])
    if owner == viewer:
        return True
    if owner in relations.hidden:
        return False
    return not profile["private"] or owner in following


def can_view_photo(viewer: int, photo: Mapping[str, Any] | None,
                   profile: Mapping[str, Any] | None, following: frozenset[int],
                   relations: Relations) -> bool:
    """Whether ``viewer`` may see ``photo`` (owned by ``profile``'s account)."""
    if photo is None or photo["status"] == DELETED:
        return False
    if photo["owner"] == viewer:
        return True
    if photo.get("detached"):
        return False  # an album item: seen through its post (api.cards), never alone
    return photo["status"] == READY and can_view_account(viewer, profile, following,
                                                         relations)


def can_see_user(viewer: int, user_id: int, relations: Relations) -> bool:
    """Whether ``user_id`` may appear to ``viewer`` in a list (commenters, likers,
    followers, search hits, story tray): not across a block."""
    return user_id == viewer or user_id not in relations.hidden


def visible_users(viewer: int, user_ids: Iterable[int], relations: Relations) -> list[int]:
    """``user_ids`` without those :func:`can_see_user` refuses, in order."""
    return [uid for uid in user_ids if can_see_user(viewer, uid, relations)]


def feed_authors(viewer: int, following: frozenset[int], relations: Relations
                 ) -> frozenset[int]:
    """Whose ready posts belong in ``viewer``'s home feed: the viewer and the accounts it
    follows now, minus any blocked either way or muted by the viewer.

    A set computed once per page, so the per-candidate check is one membership test.
    Applied at read, it also hides entries already materialized in the timelines before
    a block's unfollows reach them, and every muted author's (mutes remove nothing).
    """
    return (following | {viewer}) - relations.hidden - relations.muted
