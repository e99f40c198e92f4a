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

import orjson

from api.views import Json, Views
from api.visibility import can_view_photo
from schemas.ids import id_time
from sinks.media_urls import MediaUrls


@lru_cache(maxsize=65_536)
def created_at(photo_id: int) -> str:
    """RFC 3339 creation time of an id (ids are time-ordered: no column needed)."""
    return id_time(photo_id).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_ref(profile: Mapping[str, Any]) -> Json:
    return {"user_id": str(profile["id"]), "username": profile["username"],
            "display_name": profile["display_name"]}


#: Serialised card prefixes kept per process (a few kB each, with the cached values
#: they were made from as the key).
PREFIXES = 20_000


class Cards:
    """Builds visible, hydrated photo cards for a viewer."""

    def __init__(self, views: Views, urls: MediaUrls) -> None:
        self.views = views
        self.urls = urls
        self._prefixes: dict[tuple[bytes, bytes, bool, int], bytes] = {}

    async def cards(self, viewer: int, ids: Sequence[int], *,
                    following: frozenset[int] | None = None,
                    photos: Mapping[int, Json] | None = None,
                    limit: int | None = None) -> list[Json]:
        """Cards of the ``ids`` ``viewer`` may see, in the order given (the first ``limit``
        of them: search reads three times more hits than it shows, and building a card,
        its four signed URLs, is most of hydration's CPU).

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
                if limit is not None and len(out) >= limit:
                    break
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
            "images": {name: {"url": self.urls.url(key, now=now), "width": w, "height": h}
                       for name, key, w, h in row["d"]},
            "like_count": counts[0], "comment_count": counts[1], "liked_by_me": liked,
        }


    def card_bytes(self, row_raw: bytes, row: Json, profile_raw: bytes, profile: Json,
                   counts: tuple[int, int], liked: bool, viewer: int, now: float) -> bytes:
        """:meth:`card` serialised, without serialising it again per request.

        Everything but the counts and ``liked_by_me`` is a function of the cached photo
        row and profile (their raw bytes: a changed entry is a new key), whether the
        viewer owns the photo, and the URL signing window; that part is serialised once
        and kept, and the per-viewer tail appended as bytes. The card is the same JSON
        object :meth:`card` gives (a unit test compares them).
        """
        owner = row["owner"] == viewer
        key = (row_raw, profile_raw, owner, self.urls.window(now))
        prefix = self._prefixes.get(key)
        if prefix is None:
            body = self.card(row, profile, (0, 0), False, viewer, now)
            del body["like_count"], body["comment_count"], body["liked_by_me"]
            prefix = orjson.dumps(body)[:-1] + b","
            if len(self._prefixes) >= PREFIXES:  # oldest first: insertion order
                del self._prefixes[next(iter(self._prefixes))]
            self._prefixes[key] = prefix
        return prefix + b'"like_count":%d,"comment_count":%d,"liked_by_me":%s}' % (
            counts[0], counts[1], b"true" if liked else b"false")
