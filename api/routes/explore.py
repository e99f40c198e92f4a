"""``GET /v1/explore``: trending hashtags and popular recent public photos.

Both lists are materialized by the trending processor (:mod:`processors.trending`) in
Redis; this route only reads them (both empty, flagged ``X-Photostream-Degraded``,
while Redis is unreachable). Photos still go through the card hydration and its
visibility rule, so an author who just went private (or a deleted photo) never shows,
even before the trending view catches up.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api.deps import Service, Viewer
from api.models import Explore
from api.routes.common import ERRORS, JSON, ok

router = APIRouter(prefix="/v1", tags=["explore"])

TAGS = 15
PHOTOS = 30


@router.get("/explore", response_model=Explore, responses=ERRORS)
async def explore(viewer: Viewer, svc: Service) -> JSON:
    """Hashtags on the most photos in the last 24 h; the most engaged public photos of
    the last 48 h (their authors must still be public)."""
    tags, ids = await asyncio.gather(svc.views.trending_tags(hours=24, limit=TAGS),
                                     svc.views.popular(hours=48, limit=PHOTOS * 2))
    cards = await svc.cards.cards(viewer, ids)
    authors = await svc.views.profiles([int(c["author"]["user_id"]) for c in cards])
    public = [c for c in cards if c["status"] == "ready"
              and not authors[int(c["author"]["user_id"])]["private"]]
    return ok({"hashtags": [{"tag": t, "count": n} for t, n in tags],
               "photos": public[:PHOTOS]})
