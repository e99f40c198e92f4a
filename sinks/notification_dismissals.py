"""Inbox entries a user dismissed or cleared (Mastodon's ``dismiss`` and ``clear``), in Cassandra.

The inbox is written by the notifications processor alone (one writer per entry, see
:mod:`sinks.notifications`); deleting entries from the API would race with it. So a
dismissal is a note the readers apply: "hide entry N while it has not changed since T",
and clearing is "hide every entry not changed since T". A grouped entry that gains an
actor afterwards shows again, as Mastodon shows a new notification for a new like.
Notes carry the inbox's retention TTL: they never outlive what they hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.notifications import Entry
from sinks.statements import as_utc, prepared

#: Dismissal notes read per page (more than an inbox holds in its retention, in practice).
_MOST = 5_000

_LOAD = ("SELECT notification_id, seen_until, cleared_until FROM notification_dismissals "
         "WHERE user_id = ? LIMIT ?")
_DISMISS = ("INSERT INTO notification_dismissals (user_id, notification_id, seen_until) "
            "VALUES (?, ?, ?) USING TTL ?")
_CLEAR = "UPDATE notification_dismissals USING TTL ? SET cleared_until = ? WHERE user_id = ?"


def _ms(moment: datetime) -> datetime:
    """``moment`` at Cassandra's precision (milliseconds): the hot copy keeps
    microseconds, and a dismissal must match the entry it was made from either way."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def changed_at(entry: Entry) -> datetime:
    """When an entry last changed (its newest actor), at millisecond precision."""
    return _ms(entry.updated_at or entry.created_at)


@dataclass(frozen=True)
class Dismissals:
    cleared_until: datetime | None = None
    seen: Mapping[int, datetime] = field(default_factory=dict)

    def hides(self, entry: Entry) -> bool:
        changed = changed_at(entry)
        if self.cleared_until is not None and changed <= self.cleared_until:
            return True
        until = self.seen.get(entry.notification_id)
        return until is not None and changed <= until


async def load(session: Session, user_id: int) -> Dismissals:
    rows = await execute(session, await prepared(session, _LOAD), (user_id, _MOST))
    if not rows:
        return Dismissals()
    cleared = as_utc(rows[0]["cleared_until"])
    seen = {int(row["notification_id"]): as_utc(row["seen_until"]) for row in rows
            if row["notification_id"] is not None and row["seen_until"] is not None}
    return Dismissals(_ms(cleared) if cleared else None,
                      {nid: _ms(at) for nid, at in seen.items() if at is not None})


async def dismiss(session: Session, user_id: int, entry: Entry, ttl: int) -> None:
    """Hide ``entry`` as it is now (it shows again once it changes)."""
    await execute(session, await prepared(session, _DISMISS),
                  (user_id, entry.notification_id, changed_at(entry), ttl))


async def clear(session: Session, user_id: int, until: datetime, ttl: int) -> None:
    """Hide every entry that has not changed since ``until``."""
    await execute(session, await prepared(session, _CLEAR), (ttl, _ms(until), user_id))
