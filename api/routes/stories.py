"""``GET /v1/stories``: the tray of accounts the caller follows with live stories.

Only the caller and accounts the caller follows (approved) appear, so a private
account's stories never reach a non-follower; an account blocked either way never
does, even in the moment before the block's unfollows are applied. Liveness comes
from Redis (one pipelined round trip over the followees); the media keys of the few
live authors from Cassandra.
Redis unreachable: an empty tray, flagged ``X-Photostream-Degraded``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from fastapi import APIRouter

from api.cards import user_ref
from api.deps import Service, Viewer
from api.models import StoryTray
from api.routes.common import ERRORS, JSON, ok
from api.visibility import visible_users
from sinks import engagement

router = APIRouter(prefix="/v1", tags=["stories"])

_DAY = timedelta(seconds=engagement.STORY_SECONDS)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@router.get("/stories", response_model=StoryTray, responses=ERRORS)
async def stories(viewer: Viewer, svc: Service) -> JSON:
    """Followees with unexpired stories (the caller first), newest story first."""
    following, relations = await svc.views.social(viewer)
    followees = visible_users(viewer, sorted(following), relations)
    authors = await svc.views.live_story_authors([viewer, *followees])
    reels, profiles = await asyncio.gather(
        asyncio.gather(*(engagement.stories(svc.session, uid) for uid in authors)),
        svc.views.profiles(authors))
    now = time.time()
    tray = []
    for uid, reel in zip(authors, reels, strict=True):
        if uid not in profiles or not reel:
            continue
        tray.append({"user": user_ref(profiles[uid]), "stories": [
            {"story_id": str(s.story_id), "posted_at": _iso(s.posted_at),
             "expires_at": _iso(s.posted_at + _DAY),
             "media_url": svc.urls.url(s.media_key, now=now)}
            for s in reel]})
    return ok({"tray": tray})
