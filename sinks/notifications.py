"""The durable notification inbox in Cassandra: grouped entries, their actors, read marks.

One writer per entry: likes, comments and photo events are keyed by photo, follows by
the followee, so one consumer of the notifications group owns every event that can
touch a given entry, in order (the processor also holds a per-recipient lock). That is
why the actor count can be a plain single-partition batch (``insert actor; count = n +
1``, atomic, no Paxos) read-then-written, instead of the LWTs of :mod:`sinks.counted`:
a redelivered event finds its actor present and counts nothing. Two owners during a
rebalance overlap could miscount by one; the entry is a notification, not a ledger.

Every write carries the retention TTL (``notify.retention_days``); ids are
:func:`entry_id`: deterministic (a redelivery lands on the same row), time-ordered
(clustering on them lists newest first).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from infra.connect.cassandra import execute
from schemas.ids import id_time, min_id_for_time
from sinks.statements import QUORUM, as_utc, prepared

#: Entry types, as the API names them (``GET /v1/notifications?type=``).
LIKE = "like"
COMMENT = "comment"
FOLLOW = "follow"
FOLLOW_REQUEST = "follow_request"
FOLLOW_ACCEPTED = "follow_accepted"
MENTION = "mention"
TYPES = (LIKE, COMMENT, FOLLOW, FOLLOW_REQUEST, FOLLOW_ACCEPTED, MENTION)

#: States of a follow request entry.
PENDING = "pending"
ACCEPTED = "accepted"
DECLINED = "declined"

_HASH_BITS = 23  # below the millisecond: the shard and sequence bits of schemas.ids
_HASH_MASK = (1 << _HASH_BITS) - 1

_ENTRY = ("SELECT notification_id, type, photo_id, comment_id, excerpt, actor_ids, "
          "actor_count, state, updated_at FROM notifications")
_GET = _ENTRY + " WHERE user_id = ? AND notification_id = ?"
_FIRST = _ENTRY + " WHERE user_id = ? LIMIT ?"
_BEFORE = _ENTRY + " WHERE user_id = ? AND notification_id < ? LIMIT ?"
_PUT = (
    "INSERT INTO notifications (user_id, notification_id, type, photo_id, comment_id, "
    "excerpt, actor_ids, actor_count, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "USING TTL ?"
)
_DELETE = "DELETE FROM notifications WHERE user_id = ? AND notification_id = ?"
_KEY = "SELECT notification_id FROM notification_keys WHERE user_id = ? AND key = ?"
_BIND = "INSERT INTO notification_keys (user_id, key, notification_id) VALUES (?, ?, ?) USING TTL ?"
_UNBIND = "DELETE FROM notification_keys WHERE user_id = ? AND key = ?"
_ACTOR = ("SELECT actor_id FROM notification_actors WHERE user_id = ? AND notification_id = ? "
          "AND actor_id = ?")
_COUNT = ("SELECT actor_count FROM notification_actors WHERE user_id = ? AND "
          "notification_id = ? LIMIT 1")
_ACTORS = ("SELECT actor_id FROM notification_actors WHERE user_id = ? AND "
           "notification_id = ? LIMIT ?")
_ADD_ACTOR = ("INSERT INTO notification_actors (user_id, notification_id, actor_id, at) "
              "VALUES (?, ?, ?, ?) USING TTL ?")
_DROP_ACTOR = ("DELETE FROM notification_actors WHERE user_id = ? AND notification_id = ? "
               "AND actor_id = ?")
_SET_COUNT = ("UPDATE notification_actors USING TTL ? SET actor_count = ? WHERE user_id = ? "
              "AND notification_id = ?")
_MARK = "UPDATE notification_reads USING TIMESTAMP ? SET read_up_to = ? WHERE user_id = ?"
_MARKER = "SELECT read_up_to FROM notification_reads WHERE user_id = ?"
_MENTION = ("INSERT INTO mentions_by_user (user_id, photo_id, comment_id, author_id) "
            "VALUES (?, ?, ?, ?) USING TTL ?")
_MENTIONS = "SELECT photo_id FROM mentions_by_user WHERE user_id = ? LIMIT ?"


def entry_id(at: datetime, key: str) -> int:
    """The id of the entry opened by an event at ``at`` for group/source ``key``.

    The millisecond of the event in the high bits (ids sort like the events), a hash of
    the key below it (two entries of one user in the same millisecond differ). Same
    event, same key: same id, so a redelivery lands on the same row.
    """
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return min_id_for_time(at) | (int.from_bytes(digest, "big") & _HASH_MASK)


@dataclass
class Entry:
    """One grouped inbox entry (``actor_ids``: the newest first)."""

    notification_id: int
    type: str
    photo_id: int | None = None
    comment_id: int | None = None
    excerpt: str = ""
    actor_ids: list[int] = field(default_factory=list)
    actor_count: int = 0
    state: str = ""
    updated_at: datetime | None = None

    def to_json(self) -> bytes:
        """The hot copy's (and the live stream's) encoding of this entry."""
        return orjson.dumps({
            "id": self.notification_id, "type": self.type, "photo_id": self.photo_id,
            "comment_id": self.comment_id, "excerpt": self.excerpt,
            "actors": self.actor_ids, "count": self.actor_count, "state": self.state,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        })

    @classmethod
    def from_json(cls, raw: bytes | str) -> Entry:
        data = orjson.loads(raw)
        updated = data.get("updated_at")
        return cls(notification_id=int(data["id"]), type=data["type"],
                   photo_id=data.get("photo_id"), comment_id=data.get("comment_id"),
                   excerpt=data.get("excerpt") or "", actor_ids=list(data.get("actors") or []),
                   actor_count=int(data.get("count") or 0), state=data.get("state") or "",
                   updated_at=datetime.fromisoformat(updated) if updated else None)

    @property
    def created_at(self) -> datetime:
        return id_time(self.notification_id)


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(notification_id=row["notification_id"], type=row["type"],
                 photo_id=row["photo_id"], comment_id=row["comment_id"],
                 excerpt=row["excerpt"] or "", actor_ids=list(row["actor_ids"] or []),
                 actor_count=int(row["actor_count"] or 0), state=row["state"] or "",
                 updated_at=as_utc(row["updated_at"]))


async def entry_for_key(session: Session, user_id: int, key: str) -> int | None:
    """The entry a group or source key points at (None: not opened yet)."""
    rows = await execute(session, await prepared(session, _KEY), (user_id, key))
    return int(rows[0]["notification_id"]) if rows else None


async def bind_key(session: Session, user_id: int, key: str, notification_id: int,
                   ttl: int) -> None:
    await execute(session, await prepared(session, _BIND), (user_id, key, notification_id, ttl))


async def unbind_key(session: Session, user_id: int, key: str) -> None:
    await execute(session, await prepared(session, _UNBIND), (user_id, key))


async def get_entry(session: Session, user_id: int, notification_id: int) -> Entry | None:
    rows = await execute(session, await prepared(session, _GET), (user_id, notification_id))
    return _entry(rows[0]) if rows else None


async def put_entry(session: Session, user_id: int, entry: Entry, ttl: int) -> None:
    """Write the whole entry (an upsert of its cells: no tombstones as it changes)."""
    await execute(session, await prepared(session, _PUT), (
        user_id, entry.notification_id, entry.type, entry.photo_id, entry.comment_id,
        entry.excerpt, entry.actor_ids, entry.actor_count, entry.state, entry.updated_at, ttl))


async def delete_entry(session: Session, user_id: int, notification_id: int) -> None:
    await execute(session, await prepared(session, _DELETE), (user_id, notification_id))


async def actor_state(session: Session, user_id: int, notification_id: int,
                      actor_id: int) -> tuple[bool, int]:
    """(whether ``actor_id`` is counted in the entry, the entry's actor count)."""
    key = (user_id, notification_id)
    actor, counted = await asyncio.gather(
        execute(session, await prepared(session, _ACTOR), (*key, actor_id)),
        execute(session, await prepared(session, _COUNT), key))
    count = int(counted[0]["actor_count"] or 0) if counted else 0
    return bool(actor), count


async def has_actor(session: Session, user_id: int, notification_id: int,
                    actor_id: int) -> bool:
    rows = await execute(session, await prepared(session, _ACTOR),
                         (user_id, notification_id, actor_id))
    return bool(rows)


async def count_actor(session: Session, user_id: int, notification_id: int, actor_id: int,
                      at: datetime, new_count: int, ttl: int) -> None:
    """Add the actor row and set the count, atomically (one partition, one batch)."""
    key = (user_id, notification_id)
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
    batch.add(await prepared(session, _ADD_ACTOR), (*key, actor_id, at, ttl))
    batch.add(await prepared(session, _SET_COUNT), (ttl, new_count, *key))
    await execute(session, batch)


async def uncount_actor(session: Session, user_id: int, notification_id: int, actor_id: int,
                        new_count: int, ttl: int) -> None:
    """Drop the actor row and set the count, atomically."""
    key = (user_id, notification_id)
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
    batch.add(await prepared(session, _DROP_ACTOR), (*key, actor_id))
    batch.add(await prepared(session, _SET_COUNT), (ttl, new_count, *key))
    await execute(session, batch)


async def some_actors(session: Session, user_id: int, notification_id: int,
                      limit: int) -> list[int]:
    """Up to ``limit`` actors of an entry (any order): refills a shortened actor list."""
    rows = await execute(session, await prepared(session, _ACTORS),
                         (user_id, notification_id, limit))
    return [int(row["actor_id"]) for row in rows]


async def newest(session: Session, user_id: int, limit: int,
                 before: int | None = None) -> list[Entry]:
    """Up to ``limit`` entries older than ``before`` (None: the newest), newest first."""
    if before is None:
        rows = await execute(session, await prepared(session, _FIRST), (user_id, limit))
    else:
        rows = await execute(session, await prepared(session, _BEFORE),
                             (user_id, before, limit))
    return [_entry(row) for row in rows]


async def read_marker(session: Session, user_id: int) -> int:
    """The newest entry id ``user_id`` has read (0: none)."""
    rows = await execute(session, await prepared(session, _MARKER), (user_id,))
    return int(rows[0]["read_up_to"] or 0) if rows else 0


async def mark_read(session: Session, user_id: int, up_to: int) -> None:
    """Move the read mark to ``up_to``; an older mark than the stored one changes nothing
    (the write timestamp is the id itself, and ids grow with time)."""
    await execute(session, await prepared(session, _MARK), (up_to, up_to, user_id))


async def record_mention(session: Session, mentioned_id: int, photo_id: int,
                         comment_id: int, author_id: int, ttl: int) -> None:
    """Index one mention (``comment_id`` 0: in the caption) for "@username" searches."""
    await execute(session, await prepared(session, _MENTION),
                  (mentioned_id, photo_id, comment_id, author_id, ttl))


async def photos_mentioning(session: Session, user_id: int, limit: int) -> list[int]:
    """Photos whose caption or comments mention ``user_id``, newest first, distinct."""
    rows = await execute(session, await prepared(session, _MENTIONS), (user_id, limit * 4))
    return list(dict.fromkeys(int(row["photo_id"]) for row in rows))[:limit]


def excerpt(text: str, limit: int = 120) -> str:
    """The start of a comment as an entry shows it."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
