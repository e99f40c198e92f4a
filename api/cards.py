"""Hydration: photo ids in, the JSON cards a client renders out, visibility applied.

One call per page, whatever its size: the photo rows, the authors' profiles, the
like/comment counts and the reader's likes are each one batched (cached) read of
:class:`~api.views.Views`, run concurrently; media URLs are signed locally
(:mod:`sinks.media_urls`). Every card is checked with :mod:`api.visibility` here, so
no endpoint can forget the rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from api.views import Json, Views
from api.visibility import can_view_photo
from schemas.ids import id_time
from sinks.media_keys import AVIF_DERIVATIVES, VIDEO_DERIVATIVES
from sinks.media_urls import MediaUrls


@lru_cache(maxsize=65_536)
def created_at(photo_id: int) -> str:
    """RFC 3339 creation time of an id (ids are time-ordered: no column needed)."""
    return id_time(photo_id).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_ref(profile: Mapping[str, Any]) -> Json:
    return {"user_id": str(profile["id"]), "username": profile["username"],
            "display_name": profile["display_name"]}


class Cards:
    """Builds visible, hydrated photo cards for a viewer."""

    def __init__(self, views: Views, urls: MediaUrls) -> None:
        self.views = views
        self.urls = urls

    async def cards(self, viewer: int, ids: Sequence[int], *,
                    following: frozenset[int] | None = None,
                    photos: Mapping[int, Json] | None = None) -> list[Json]:
        """Cards of the ``ids`` ``viewer`` may see, in the order given.

        ``following`` / ``photos``: what the caller already read (the feed has both).
        """
        rows = dict(photos or {})
        missing = [pid for pid in ids if pid not in rows]
        if missing:
            rows.update(await self.views.photos(missing))
        present = [pid for pid in ids if pid in rows and rows[pid]["status"] != "deleted"]
        owners = list({rows[pid]["owner"] for pid in present})
        parts = self.views.card_parts(viewer, owners, present)
        if following is None:
            (profiles, counts, liked), followees = await asyncio.gather(
                parts, self.views.following(viewer))
        else:
            (profiles, counts, liked), followees = await parts, following
        now = time.time()
        out = []
        for pid in present:
            row = rows[pid]
            profile = profiles.get(row["owner"])
            if can_view_photo(viewer, row, profile, followees) and profile is not None:
                out.append(self.card(row, profile, counts.get(pid, (0, 0)), pid in liked,
                                     viewer, now))
        return out

    def card(self, row: Json, profile: Json, counts: tuple[int, int], liked: bool,
             viewer: int, now: float) -> Json:
        """One card; ``row``/``profile`` as cached by :class:`~api.views.Views`."""
        pid = row["id"]
        owner = row["owner"] == viewer
        return {
            "photo_id": str(pid),
            "author": user_ref(profile),
            "status": row["status"],
            "failure_reason": row["failure"] if owner else None,
            "media_kind": row["kind"] or "photo",
            "caption": row["caption"], "title": row["title"], "location": row["location"],
            "created_at": created_at(pid),
            "width": row["w"], "height": row["h"],
            "placeholder": {"color": row["color"], "blurhash": row["blurhash"]},
            "images": self.images(row, now),
            "video": self.video(row, now),
            "like_count": counts[0], "comment_count": counts[1], "liked_by_me": liked,
        }

    def images(self, row: Json, now: float) -> Json:
        """The JPEG derivatives by name; the large and medium ones with the URL of their
        AVIF twin (``avif``) when it exists, for clients that decode AVIF (the web app
        offers both in a ``<picture>``, so the browser picks by what it accepts)."""
        images: Json = {}
        twins: list[tuple[str, str]] = []
        for name, key, width, height in row["d"]:
            if name in AVIF_DERIVATIVES:
                twins.append((name.removesuffix("_avif"), key))
            elif name not in VIDEO_DERIVATIVES:
                images[name] = {"url": self.urls.url(key, now=now), "width": width,
                                "height": height}
        for name, key in twins:
            if name in images:
                images[name]["avif"] = self.urls.url(key, now=now)
        return images

    def video(self, row: Json, now: float) -> Json | None:
        """The MP4 renditions of a video or animated GIF (None for a photo): the main one,
        the small one for slow connections when there is one, and whether it loops (an
        animated GIF does, muted, like the GIF it was; a video plays once)."""
        found = {name: (key, w, h) for name, key, w, h in row["d"] if name in VIDEO_DERIVATIVES}
        if "video" not in found:
            return None
        key, width, height = found["video"]
        small = found.get("video_small")
        return {
            "url": self.urls.url(key, now=now), "width": width, "height": height,
            "small": None if small is None else {
                "url": self.urls.url(small[0], now=now), "width": small[1], "height": small[2]},
            "duration_ms": row.get("dur"),
            "loop": row["kind"] != "video",
        }

