"""``GET /v1/search?q=``: users by username prefix, photos by caption words, #hashtag or
@mention (photos whose caption or comments mention the user, as parsed by the
notifications processor).

Photo hits go through the same card hydration as every other list, so a private
account's photos are found only by the account and its approved followers, and a
deleted photo is never a hit (the index may lag a deletion by a moment; the card
check does not). Accounts blocked either way with the caller are neither user hits nor
authors of photo hits.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from cassandra.cluster import Session
from fastapi import APIRouter, Query

from api.cards import user_ref
from api.deps import Service, Viewer
from api.models import SearchResult
from api.routes.common import ERRORS, JSON, ok
from api.visibility import visible_users
from sinks import notifications, search, users
from sinks.search_terms import normalize

router = APIRouter(prefix="/v1", tags=["search"])

#: Hits read per word before visibility filtering and intersection.
POOL = 200
PHOTOS = 30
USERS = 10

Q = Annotated[str, Query(min_length=1, max_length=100,
                         description="words, #tag, @username (mentions) or a username prefix")]


async def _photo_hits(session: Session, q: str) -> list[int]:
    if q.startswith("@"):
        name = q[1:].strip().lower()  # "@" alone: an empty key Cassandra refuses
        mentioned = await users.user_id_for(session, name) if name else None
        return ([] if mentioned is None else
                await notifications.photos_mentioning(session, mentioned, POOL))
    if q.startswith("#"):
        tag = q[1:].strip()
        return await search.photos_with_hashtag(session, tag, limit=POOL) if tag else []
    words = normalize(q).split()[:5]
    if not words:
        return []
    found = await asyncio.gather(*(search.photos_with_term(session, w, limit=POOL)
                                   for w in words))
    common = set(found[0]).intersection(*found[1:])
    return [pid for pid in found[0] if pid in common]


@router.get("/search", response_model=SearchResult, responses=ERRORS)
async def search_all(q: Q, viewer: Viewer, svc: Service) -> JSON:
    """Every word must match (AND); ``#tag`` searches hashtags; users match by prefix."""
    q = q.strip()
    session = svc.session
    people: list[tuple[str, int]] = []
    if q.startswith("#"):
        ids = await _photo_hits(session, q)
    else:
        ids, people = await asyncio.gather(
            _photo_hits(session, q),
            search.users_with_prefix(session, q.lstrip("@"), limit=USERS))
    cards, profiles, relations = await asyncio.gather(
        svc.cards.cards(viewer, ids[:PHOTOS * 3], limit=PHOTOS),
        svc.views.profiles([uid for _, uid in people]), svc.views.relations(viewer))
    shown = visible_users(viewer, [uid for _, uid in people], relations)
    return ok({"users": [user_ref(profiles[uid]) for uid in shown if uid in profiles],
               "photos": cards[:PHOTOS]})
