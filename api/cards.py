"""Hydration: photo ids in, the JSON cards a client renders out, visibility applied.

One call per page, whatever its size: the photo rows, the authors' profiles, the
like/comment counts and the reader's likes are each one batched (cached) read of
:class:`~api.views.Views`, run concurrently; media URLs are signed locally
(:mod:`sinks.media_urls`). Every card is checked with :mod:`api.visibility` here, so
no endpoint can forget the rule.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from api.views import Json, Views
from api.visibility import can_view_photo
from schemas.ids import id_time
from sinks.blocks import Relations
from sinks.media_keys import AVIF_DERIVATIVES, VIDEO_DERIVATIVES
from sinks.media_urls import MediaUrls


@lru_cache(maxsize=65_536)
def created_at(photo_id: int) -> str:
    """RFC 3339 creation time of an id (ids are time-ordered: no column needed)."""
    return id_time(photo_id).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_ref(profile: Mapping[str, Any]) -> Json:
    return {"user_id": str(profile["id"]), "username": profile["username"],
            "display_name": profile["display_name"]}


@dataclass(frozen=True)
class Authors:
    """The authors of a page of cards, as read to build it (shared values: never mutate)."""

    #: Profiles by user id (the cards' authors, visible or not).
    profiles: Mapping[int, Json]
    #: ``Views.users_counts`` by user id; empty unless asked for (``author_counts``).
    counts: Mapping[int, dict[str, int]]


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
                    social: tuple[frozenset[int], Relations] | None = None,
                    photos: Mapping[int, Json] | None = None,
                    with_items: bool = False, limit: int | None = None) -> list[Json]:
        """Cards of the ``ids`` ``viewer`` may see, in the order given (the first ``limit``
        of them: search reads three times more hits than it shows, and building a card,
        its four signed URLs, is most of hydration's CPU).

        ``social`` (whom the viewer follows, its blocks and mutes) / ``photos``: what the
        caller already read (the feed has both). An album's card is its cover (first
        item) with ``item_count``; ``with_items`` (the photo page) adds every item. The
        items' rows are one more batched read, made only for pages that hold albums, and
        only for their covers unless ``with_items``.
        """
        found, _ = await self.cards_and_authors(viewer, ids, social=social, photos=photos,
                                                with_items=with_items, limit=limit)
        return found

    async def cards_and_authors(self, viewer: int, ids: Sequence[int], *,
                                social: tuple[frozenset[int], Relations] | None = None,
                                photos: Mapping[int, Json] | None = None,
                                with_items: bool = False, limit: int | None = None,
                                author_counts: bool = False) -> tuple[list[Json], Authors]:
        """:meth:`cards`, and the authors as it read them: the Mastodon API shows more of
        each author than a card does (its whole profile; with ``author_counts``, its
        counts too, read in the same round trip as the card parts), and reading them a
        second time cost it a round trip or two per page."""
        rows = dict(photos or {})
        missing = [pid for pid in ids if pid not in rows]
        if missing:
            rows.update(await self.views.photos(missing))
        present = [pid for pid in ids if pid in rows and rows[pid]["status"] != "deleted"]
        owners = list({rows[pid]["owner"] for pid in present})
        users: dict[int, dict[str, int]] = {}
        if social is None:
            profiles, counts, liked, followees, relations = \
                await self.views.card_parts_social(viewer, owners, present)
            if author_counts:
                users = await self.views.users_counts(owners)
        elif author_counts:
            (profiles, counts, liked, users), (followees, relations) = \
                await self.views.card_parts_counted(viewer, owners, present), social
        else:
            (profiles, counts, liked), (followees, relations) = \
                await self.views.card_parts(viewer, owners, present), social
        now = time.time()
        out = []
        for pid in present:
            row = rows[pid]
            profile = profiles.get(row["owner"])
            if can_view_photo(viewer, row, profile, followees, relations) \
                    and profile is not None:
                out.append(self.card(row, profile, counts.get(pid, (0, 0)), pid in liked,
                                     viewer, now))
                if limit is not None and len(out) >= limit:
                    break
        await self._albums(out, rows, with_items, now)
        return out, Authors(profiles, users)

    async def _albums(self, cards: list[Json], rows: Mapping[int, Json], with_items: bool,
                      now: float) -> None:
        """Fill the album parts of visible cards: the cover's alt text, and the items.

        The items are shown because their post is (the visibility rule was applied to
        the post); an item not ready (failed, deleted) is left out.
        """
        albums = [(card, rows[int(card["photo_id"])]["items"]) for card in cards
                  if rows[int(card["photo_id"])].get("items")]
        if not albums:
            return
        wanted = [mid for _, items in albums for mid in (items if with_items else items[:1])]
        found = await self.views.photos(wanted)
        for card, items in albums:
            shown = [found[mid] for mid in items
                     if mid in found and found[mid]["status"] == "ready"]
            if shown and int(shown[0]["id"]) == items[0]:
                card["alt_text"] = shown[0].get("alt") or ""
            if with_items:
                card["items"] = [self.item(row, now) for row in shown]

    def item(self, row: Json, now: float) -> Json:
        """One media item of an album (no author or counts: those are the post's)."""
        return {
            "media_id": str(row["id"]),
            "media_kind": row["kind"] or "photo",
            "width": row["w"], "height": row["h"],
            "placeholder": {"color": row["color"], "blurhash": row["blurhash"]},
            "images": self.images(row, now),
            "video": self.video(row, now),
            "alt_text": row.get("alt") or "",
        }

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
            "item_count": len(row.get("items") or ()) or 1,
            "alt_text": row.get("alt") or "",
            "sensitive": bool(row.get("sensitive")),
            "content_warning": row.get("cw") or "",
            "items": None,
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

