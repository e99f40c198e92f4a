"""The reads a write needs before it may publish: does the target exist, may I touch it.

Events carry facts the writer must look up (a like carries the photo's ``owner_id``),
and a write to something the caller cannot see must fail exactly like a write to
something that does not exist (404), following the read API's visibility rule
(:mod:`api.visibility`): a deleted photo is gone for everyone, an unready one is the
owner's alone, a private account's photos are for its approved followers. Across a
block (either way) following, liking and commenting are refused with 403
(:class:`BlockGuard`), after those checks, so a block never reveals a hidden photo.
"""

from __future__ import annotations

from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from infra.http.problems import Problem
from sinks import blocks, graph, photos, users
from sinks.photos import Photo
from sinks.users import User


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"{what} not found")


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


async def visible_photo(session: Session, photo_id: int, viewer: int) -> Photo:
    """The photo if ``viewer`` may see it; 404 otherwise (missing, deleted or hidden)."""
    photo = await photos.get_photo(session, photo_id)
    if photo is None or photo.deleted or photo.owner_id is None:
        raise not_found("photo")
    if photo.owner_id == viewer:
        return photo
    if not photo.ready or not await can_view_account(session, viewer, photo.owner_id):
        raise not_found("photo")
    return photo


async def owned_photo(session: Session, photo_id: int, user: int) -> Photo:
    """The caller's own photo; 404 if they cannot see it, 403 if it is someone else's."""
    photo = await visible_photo(session, photo_id, user)
    if photo.owner_id != user:
        raise forbidden("only the photo's owner may do this")
    return photo


async def can_view_account(session: Session, viewer: int, owner: int) -> bool:
    """Public accounts, and private ones ``viewer`` follows (approved)."""
    if viewer == owner or not await users.is_private(session, owner):
        return True
    return await graph.is_following(session, viewer, owner)


async def existing_user(session: Session, user_id: int) -> User:
    """The stored profile of ``user_id``; 404 before its registration is processed."""
    user = await users.get_user(session, user_id)
    if user is None:
        raise not_found("user")
    return user


class BlockGuard:
    """Refuses an interaction across a block (403), from the Redis-hot relations.

    Redis-hot because it runs on every like and comment; the relations entry is
    invalidated by the blocks processor, and with Redis unreachable the read goes to
    Cassandra (:mod:`sinks.blocks`). A write racing a block past this check is
    stopped downstream for follows (the graph processor refuses the edge); a like or
    comment that slips through is hidden from both accounts by the read side.
    """

    def __init__(self, session: Session, redis: RedisClient) -> None:
        self.session = session
        self.redis = redis

    async def check(self, user: int, other: int, action: str) -> None:
        """403 if ``user`` and ``other`` blocked one another (either way)."""
        if user != other and await blocks.between(self.redis, self.session, user, other):
            raise forbidden(f"you cannot {action} across a block")
