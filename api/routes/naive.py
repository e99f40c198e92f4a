"""The benchmark's baseline: a *naive* fan-out-on-read feed, mounted only on request.

``GET /v1/bench/naive-feed`` does what a feed costs without materialized views or
caches: read whom the caller follows, read every followee's newest photos (one
Cassandra query each), merge, then read the photo rows, profiles and counts from
Cassandra and presign each URL with the SDK. ``bench.read_api`` drives it with the same
load as ``/v1/feed`` (``PHOTOSTREAM_API_NAIVE_FEED=true``); it is never mounted otherwise.
"""

from __future__ import annotations

import asyncio
import heapq
from datetime import timedelta

from fastapi import APIRouter

from api.cards import created_at
from api.deps import Limit, Service, Viewer
from api.routes.common import JSON, ok
from sinks import engagement, graph, photos, users

router = APIRouter(prefix="/v1/bench", tags=["benchmark"], include_in_schema=False)


@router.get("/naive-feed")
async def naive_feed(viewer: Viewer, svc: Service, limit: Limit = 20) -> JSON:
    session = svc.session
    followees = await graph.following(session, viewer)
    recent = await asyncio.gather(*(photos.recent_photos(session, f, limit=limit)
                                    for f in followees))
    ids = heapq.nlargest(limit, {pid for ids in recent for pid in ids})
    rows = await photos.get_photos(session, ids)
    owners = await users.get_users(session, list({r.owner_id for r in rows.values()
                                                  if r.owner_id is not None}))
    counts = await engagement.engagement_counts(session, ids)
    s3 = svc.naive_s3
    bucket = svc.settings.s3.media_bucket
    ttl = timedelta(seconds=svc.settings.api.media_url_ttl_seconds)
    items = []
    for pid in ids:
        row = rows.get(pid)
        owner = owners.get(row.owner_id) if row and row.owner_id is not None else None
        if row is None or owner is None or not row.ready:
            continue
        items.append({
            "photo_id": str(pid), "caption": row.caption, "created_at": created_at(pid),
            "author": {"user_id": str(owner.user_id), "username": owner.username,
                       "display_name": owner.display_name},
            "images": {d["name"]: {"url": s3.presigned_get_object(bucket, d["key"], ttl),
                                   "width": d["width"], "height": d["height"]}
                       for d in row.derivatives},
            "like_count": counts[pid][0], "comment_count": counts[pid][1],
        })
    return ok({"items": items, "next_cursor": None})
