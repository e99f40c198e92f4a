"""Reading the inbox: grouped pages (hot copy first, then Cassandra), unread count, read mark.

The first pages come from the Redis hot copy (:mod:`sinks.notification_hot`): one script
call returns the page and the read mark. A hot copy that was lost (Redis restarted,
keys idle-expired) is refilled from Cassandra by the first read; pages past it, and
every read while Redis is unreachable (noted as degraded), come from Cassandra.

Hydration applies the rules every reader relies on: an entry about a photo the reader
may not see now (deleted, or a private account they no longer follow) is left out, as
is an actor the reader should not hear from (:func:`sinks.notification_audience.
audible_given`, the blocks/mutes hook, on relations read for all readers at once) or
whose account is gone. So a deleted photo never makes a page fail and is never shown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from api.cards import Cards, user_ref
from api.views import Views
from api.visibility import can_view_photo
from infra import degraded
from infra.connect.outages import REDIS
from infra.settings import Settings
from schemas.ids import max_id_for_time
from sinks import notifications as inbox
from sinks.notification_audience import audible_given
from sinks.notification_hot import HotInbox
from sinks.notifications import Entry

Json = dict[str, Any]
#: Entries read from Cassandra per round while filtering a page (by type, visibility).
_SCAN = 100
#: Rounds a page may scan before answering short (with a cursor to go on).
_ROUNDS = 5


def _rfc3339(entry: Entry) -> tuple[str, str | None]:
    created = entry.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    updated = (entry.updated_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
               if entry.updated_at else None)
    return created, updated


class NotificationReader:
    """The read API's view of notifications for one process."""

    def __init__(self, settings: Settings, views: Views, cards: Cards) -> None:
        self.views = views
        self.urls = cards.urls
        self.session = views.session
        self.cap = settings.notify.hot_entries
        self.shown = settings.notify.latest_actors
        self.hot = HotInbox(views.redis, cap=self.cap, maxlen=settings.notify.stream_maxlen)

    async def page(self, viewer: int, limit: int, before: int | None,
                   kind: str | None) -> tuple[list[Json], int | None]:
        """Up to ``limit`` visible entries older than ``before`` (None: the newest), and
        the id the next page starts below (None: no more)."""
        marker, found, last, ran_out = await self._hot(viewer, before, limit, kind)
        out = await self.hydrate(viewer, found, marker)
        if len(out) >= limit:
            return out[:limit], int(out[limit - 1]["id"])
        if not ran_out:
            return out, last  # short only because entries were hidden: go on from here
        for _round in range(_ROUNDS):
            rows = await inbox.newest(self.session, viewer, _SCAN, last)
            if rows:
                last = rows[-1].notification_id
                wanted = [e for e in rows if kind is None or e.type == kind]
                out += await self.hydrate(viewer, wanted, marker)
            if len(out) >= limit:
                return out[:limit], int(out[limit - 1]["id"])
            if len(rows) < _SCAN:
                return out, None
        return out, last

    async def _hot(self, viewer: int, before: int | None, limit: int,
                   kind: str | None) -> tuple[int, list[Entry], int | None, bool]:
        """(read mark, hot entries for the page, last id looked at, whether the hot copy
        ran out so Cassandra must continue)."""
        want = self.cap if kind is not None else limit + 5  # a few spare for hidden ones
        try:
            filled, marker, entries = await self.hot.page(viewer, want, before)
            if not filled:
                await self.refill(viewer)
                filled, marker, entries = await self.hot.page(viewer, want, before)
        except Exception as exc:
            if not degraded.survived(exc, REDIS):
                raise
            marker = await inbox.read_marker(self.session, viewer)
            return marker, [], before, True
        last = entries[-1].notification_id if entries else before
        ran_out = len(entries) < want
        wanted = [e for e in entries if kind is None or e.type == kind]
        return marker, wanted, last, ran_out

    async def refill(self, viewer: int) -> None:
        """Rebuild the hot copy from Cassandra (after Redis lost or expired it)."""
        newest = await inbox.newest(self.session, viewer, self.cap)
        marker = await inbox.read_marker(self.session, viewer)
        await self.hot.fill(viewer, newest, marker)

    async def unread(self, viewer: int) -> tuple[int, bool]:
        """(unread entries, whether that is only a lower bound: more than the hot copy)."""
        async def cold() -> int | None:
            return None
        count = await degraded.or_else(self.hot.unread(viewer), REDIS, cold)
        if count is None:
            try:
                await self.refill(viewer)
                count = await self.hot.unread(viewer)
            except Exception as exc:
                if not degraded.survived(exc, REDIS):
                    raise
        if count is None:  # Redis unreachable: count the newest page of Cassandra
            marker = await inbox.read_marker(self.session, viewer)
            rows = await inbox.newest(self.session, viewer, self.cap)
            count = sum(1 for e in rows if e.notification_id > marker)
        return count, count >= self.cap

    async def mark_read(self, viewer: int, up_to: int) -> int:
        """Move the read mark (never past now: a future id would swallow what is to come)."""
        up_to = min(up_to, max_id_for_time_now())
        await inbox.mark_read(self.session, viewer, up_to)
        await degraded.or_else(self.hot.mark_read(viewer, up_to), REDIS, _nothing)
        return up_to

    async def hydrate(self, viewer: int, entries: Sequence[Entry], marker: int) -> list[Json]:
        """The JSON a client renders, for the entries ``viewer`` may see, in order."""
        return (await self.hydrate_many([(viewer, entries, marker)]))[0]

    async def hydrate_many(self, pages: Sequence[tuple[int, Sequence[Entry], int]]
                           ) -> list[list[Json]]:
        """:meth:`hydrate` for many readers at once (the live streams woken together):
        one batched read of the photos and one of the profiles for all of them."""
        if not any(entries for _viewer, entries, _marker in pages):
            return [[] for _ in pages]
        photo_ids = list({e.photo_id for _v, entries, _m in pages for e in entries
                          if e.photo_id})
        rows = await self.views.photos(photo_ids) if photo_ids else {}
        people = ({a for _v, entries, _m in pages for e in entries for a in e.actor_ids}
                  | {row["owner"] for row in rows.values()})
        profiles = await self.views.profiles(list(people))
        social = await self.views.social_many(
            list({viewer for viewer, _e, _m in pages}),
            following_of=list({viewer for viewer, entries, _m in pages
                               if any(e.photo_id for e in entries)}))
        now = time.time()
        out = []
        for viewer, entries, marker in pages:
            following, relations = social[viewer]
            audible = audible_given(relations, {a for e in entries for a in e.actor_ids})
            items = []
            for entry in entries:
                photo = None
                if entry.photo_id:
                    row = rows.get(entry.photo_id)
                    owner = profiles.get(row["owner"]) if row else None
                    if row is None or owner is None or not can_view_photo(
                            viewer, row, owner, following, relations):
                        continue  # deleted, or no longer visible to this reader
                    photo = self._photo_ref(row, owner, now)
                item = self._render(entry, marker, profiles, audible, photo)
                if item is not None:
                    items.append(item)
            out.append(items)
        return out

    def _render(self, entry: Entry, marker: int, profiles: dict[int, Json],
                audible: frozenset[int], photo: Json | None) -> Json | None:
        shown = [a for a in entry.actor_ids if a in profiles and a in audible]
        actors = [user_ref(profiles[a]) for a in shown][:self.shown]
        if not actors:
            return None
        hidden = len(entry.actor_ids) - len(shown)  # accounts gone, or not to be heard
        created, updated = _rfc3339(entry)
        return {
            "id": str(entry.notification_id), "type": entry.type,
            "created_at": created, "updated_at": updated,
            "unread": entry.notification_id > marker,
            "actors": actors, "actor_count": max(len(actors), entry.actor_count - hidden),
            "photo": photo,
            "comment": ({"comment_id": str(entry.comment_id), "text": entry.excerpt}
                        if entry.comment_id else None),
            "excerpt": entry.excerpt or None,
            "state": entry.state or None,
        }

    def _photo_ref(self, row: Json, owner: Json, now: float) -> Json:
        sizes = {name: key for name, key, _w, _h in row["d"]}
        key = sizes.get("thumb") or sizes.get("small") or next(iter(sizes.values()), None)
        return {"photo_id": str(row["id"]),
                "thumb_url": self.urls.url(key, now=now) if key else None,
                "author": user_ref(owner)}


def max_id_for_time_now() -> int:
    return max_id_for_time(datetime.fromtimestamp(time.time() + 1, UTC))


async def _nothing() -> None:
    return None
