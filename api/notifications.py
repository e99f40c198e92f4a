"""Reading the inbox: grouped pages (hot copy first, then Cassandra), unread count, read mark.

The first pages come from the Redis hot copy (:mod:`sinks.notification_hot`): one script
call returns the page and the read mark. A hot copy that was lost (Redis restarted,
keys idle-expired) is refilled from Cassandra by the first read; pages past it, and
every read while Redis is unreachable (noted as degraded), come from Cassandra.

Hydration applies the rules every reader relies on: an entry about a photo the reader
may not see now (deleted, or a private account they no longer follow) is left out, as
is an actor the reader should not hear from (:func:`sinks.notification_audience.
audible_actors`, the blocks/mutes hook) or whose account is gone. So a deleted photo
never makes a page fail and is never shown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from api.cards import Cards, user_ref
from api.views import Views
from infra import degraded
from infra.connect.outages import REDIS
from infra.settings import Settings
from schemas.ids import max_id_for_time
from sinks import notifications as inbox
from sinks.notification_audience import audible_actors
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
        self.cards = cards
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
        if not entries:
            return []
        actor_ids = {a for e in entries for a in e.actor_ids}
        audible = await audible_actors(self.session, self.views.redis, viewer, actor_ids)
        photo_ids = list(dict.fromkeys(e.photo_id for e in entries if e.photo_id))
        cards = {int(c["photo_id"]): c for c in await self.cards.cards(viewer, photo_ids)}
        profiles = await self.views.profiles([a for a in actor_ids if a in audible])
        out = []
        for entry in entries:
            if entry.photo_id and entry.photo_id not in cards:
                continue  # deleted, or no longer visible to this reader
            actors = [user_ref(profiles[a]) for a in entry.actor_ids
                      if a in profiles][:self.shown]
            if not actors:
                continue
            hidden = len([a for a in entry.actor_ids if a not in profiles])  # left, blocked
            created, updated = _rfc3339(entry)
            card = cards.get(entry.photo_id or 0)
            out.append({
                "id": str(entry.notification_id), "type": entry.type,
                "created_at": created, "updated_at": updated,
                "unread": entry.notification_id > marker,
                "actors": actors, "actor_count": max(len(actors), entry.actor_count - hidden),
                "photo": _photo_ref(card) if card else None,
                "comment": ({"comment_id": str(entry.comment_id), "text": entry.excerpt}
                            if entry.comment_id else None),
                "excerpt": entry.excerpt or None,
                "state": entry.state or None,
            })
        return out


def _photo_ref(card: Json) -> Json:
    images = card.get("images") or {}
    thumb = images.get("thumb") or images.get("small") or next(iter(images.values()), None)
    return {"photo_id": card["photo_id"], "thumb_url": thumb["url"] if thumb else None,
            "author": card["author"]}


def max_id_for_time_now() -> int:
    return max_id_for_time(datetime.fromtimestamp(time.time() + 1, UTC))


async def _nothing() -> None:
    return None
