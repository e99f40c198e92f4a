"""Which inbox entries a Mastodon notifications page shows: paging, type filters, dismissals.

The entries are photostream's own (:mod:`sinks.notifications`), read as ``GET
/v1/notifications`` reads them: the Redis hot copy first (refilled when it was lost),
Cassandra past it or while Redis is down. Each page goes through
:meth:`api.notifications.NotificationReader.hydrate`, the one place that drops an entry
whose photo the reader may not see (deleted, private, a block) and every actor the
reader should not hear from (blocks, mutes), so these pages and ``/v1``'s agree.

Mastodon pages by notification id (``max_id``, ``since_id``, ``min_id``, ``limit``), and
an entry id is one: entries are grouped ("alice and 12 others liked your photo") and
keep the id of their first event, so a Mastodon notification is one entry (see
:mod:`.notification_entities` for the shapes). ``follow_accepted`` entries have no
Mastodon type and are never shown; dismissed and cleared entries are hidden here
(:mod:`sinks.notification_dismissals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from api.notifications import Json, NotificationReader
from infra import degraded
from infra.connect.outages import REDIS
from sinks import notifications as inbox
from sinks.notification_dismissals import Dismissals
from sinks.notifications import Entry

#: photostream entry type -> Mastodon notification type. A comment on your post is a
#: ``mention`` whose status is the comment as a reply to the post (Mastodon's reply).
TYPE_OF: dict[str, str] = {
    inbox.LIKE: "favourite", inbox.FOLLOW: "follow", inbox.FOLLOW_REQUEST: "follow_request",
    inbox.MENTION: "mention", inbox.COMMENT: "mention"}
#: Types whose entries group several actors (Mastodon groups the same ones).
GROUPED = frozenset({"favourite", "follow"})
#: Entries read per round after the first, and rounds a page may take.
_SCAN, _ROUNDS = 100, 5
#: How many of the newest entries a ``min_id`` page is looked for in.
NEWER_WINDOW = 400


@dataclass(frozen=True)
class Filter:
    """What a request keeps: ``types[]``, ``exclude_types[]``, ``account_id``, dismissals."""

    types: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    account_id: int | None = None
    dismissals: Dismissals = field(default_factory=Dismissals)

    def admits(self, entry: Entry) -> bool:
        kind = TYPE_OF.get(entry.type)
        return (kind is not None and (self.types is None or kind in self.types)
                and kind not in self.exclude
                and (self.account_id is None or self.account_id in entry.actor_ids)
                and not self.dismissals.hides(entry))


@dataclass(frozen=True)
class Shown:
    """One entry a page shows, with its ``/v1`` hydration (visible actors, photo)."""

    entry: Entry
    item: Json

    @property
    def kind(self) -> str:
        return TYPE_OF[self.entry.type]

    @property
    def id(self) -> str:
        return str(self.entry.notification_id)


def pair(entries: Sequence[Entry], items: Sequence[Json]) -> list[Shown]:
    """The entries hydration kept (``items``, in order), each with its item."""
    by_id = {entry.notification_id: entry for entry in entries}
    return [Shown(by_id[int(item["id"])], item) for item in items]


async def raw(reader: NotificationReader, viewer: int, before: int | None,
              want: int) -> tuple[int, list[Entry]]:
    """(read mark, up to ``want`` entries older than ``before``, newest first)."""
    try:
        filled, marker, found = await reader.hot.page(viewer, want, before)
        if not filled:
            await reader.refill(viewer)
            filled, marker, found = await reader.hot.page(viewer, want, before)
    except Exception as exc:
        if not degraded.survived(exc, REDIS):
            raise
        marker, found = await inbox.read_marker(reader.session, viewer), []
    if len(found) < want:  # past the hot copy (or without it): Cassandra goes on
        last = found[-1].notification_id if found else before
        found += await inbox.newest(reader.session, viewer, want - len(found), last)
    return marker, found


async def page(reader: NotificationReader, viewer: int, keep: Filter, limit: int, *,
               max_id: int | None = None, since_id: int | None = None,
               min_id: int | None = None) -> list[Shown]:
    """The page Mastodon's paging parameters select, newest first."""
    if min_id is not None:
        return await _just_above(reader, viewer, keep, limit, max_id,
                                 max(min_id, since_id or 0))
    floor = since_id or 0
    shown: list[Shown] = []
    before, want = max_id, limit + 10  # a few spare for hidden ones
    for _round in range(_ROUNDS):
        marker, rows = await raw(reader, viewer, before, want)
        above = [entry for entry in rows if entry.notification_id > floor]
        wanted = [entry for entry in above if keep.admits(entry)]
        shown += pair(wanted, await reader.hydrate(viewer, wanted, marker))
        if len(shown) >= limit or len(above) < len(rows) or len(rows) < want:
            break
        before, want = rows[-1].notification_id, _SCAN
    return shown[:limit]


async def _just_above(reader: NotificationReader, viewer: int, keep: Filter, limit: int,
                      max_id: int | None, floor: int) -> list[Shown]:
    """The ``limit`` shown entries right above ``floor`` (among the newest
    :data:`NEWER_WINDOW`), newest first: the page before the one starting at ``floor``."""
    collected: list[Entry] = []
    marker, before, scanned = 0, max_id, 0
    while scanned < NEWER_WINDOW:
        marker, rows = await raw(reader, viewer, before, _SCAN)
        scanned += len(rows)
        above = [entry for entry in rows if entry.notification_id > floor]
        collected += [entry for entry in above if keep.admits(entry)]
        if len(above) < len(rows) or len(rows) < _SCAN:
            break
        before = rows[-1].notification_id
    oldest_first = collected[::-1]
    shown: list[Shown] = []
    for start in range(0, len(oldest_first), limit):
        chunk = oldest_first[start:start + limit]
        shown += pair(chunk, await reader.hydrate(viewer, chunk, marker))
        if len(shown) >= limit:
            break
    return shown[:limit][::-1]


async def one(reader: NotificationReader, viewer: int, notification_id: int,
              keep: Filter) -> Shown | None:
    """Entry ``notification_id`` if the reader may see it (None: as if absent)."""
    entry = await inbox.get_entry(reader.session, viewer, notification_id)
    if entry is None or not keep.admits(entry):
        return None
    marker = await inbox.read_marker(reader.session, viewer)
    found = pair([entry], await reader.hydrate(viewer, [entry], marker))
    return found[0] if found else None


async def unread(reader: NotificationReader, viewer: int, keep: Filter, limit: int) -> int:
    """Shown entries above the read mark, counting at most ``limit`` of the newest."""
    marker, rows = await raw(reader, viewer, None, limit)
    fresh = [entry for entry in rows if entry.notification_id > marker and keep.admits(entry)]
    return len(await reader.hydrate(viewer, fresh, marker))
