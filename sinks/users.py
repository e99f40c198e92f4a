"""User profiles and the username -> user_id lookup.

The USERS topic carries the whole profile in every record, so a write is a plain upsert
``USING TIMESTAMP`` of the event time: an older profile (a redelivery, a replay of the
compacted topic) can never overwrite a newer one, whatever order writes land in.

Avatars and headers are their own cells (:func:`set_profile_image`), stamped with their
upload's time: a profile edit never touches them, and they never touch the profile.

A rename also deletes the old ``users_by_username`` row, at the same event timestamp:
if someone else claims the freed name later, their (later) insert wins over our delete.
The ``users`` row is written last, so a crash part-way leaves the old username in it and
the redelivered event redoes the cleanup.

Deletion (:func:`erase`) is the same idea: the username is released and every profile
column tombstoned ``USING TIMESTAMP`` of the ``user.deleted`` event, so no profile record
stamped before it (a redelivery, a replay) can bring the account back, and ``deleted_at``
marks the row for the identity check. The username is free again from then on: a new
account may claim it (its later claim wins over our release), which is what people who
delete an account expect of their own name; nothing of the old account is linked to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import as_utc, micros, prepared

_GET = "SELECT * FROM users WHERE user_id = ?"
_GET_MANY = "SELECT * FROM users WHERE user_id IN ?"
_UPSERT = (
    "UPDATE users USING TIMESTAMP ? SET username = ?, display_name = ?, bio = ?, private = ?, "
    "updated_at = ? WHERE user_id = ?"
)
#: Ids per multi-partition ``IN`` read.
IN_GROUP = 16

_CREATED = "UPDATE users USING TIMESTAMP ? SET created_at = ? WHERE user_id = ?"
_CLAIM = "INSERT INTO users_by_username (username, user_id) VALUES (?, ?) USING TIMESTAMP ?"
_RELEASE = "DELETE FROM users_by_username USING TIMESTAMP ? WHERE username = ?"
_LOOKUP = "SELECT user_id FROM users_by_username WHERE username = ?"
_MARK_DELETED = "UPDATE users USING TIMESTAMP ? SET deleted_at = ? WHERE user_id = ?"
_ERASE = (
    "UPDATE users USING TIMESTAMP ? SET username = null, display_name = null, bio = null, "
    "private = null, created_at = null, avatar_id = null, header_id = null, updated_at = ?, "
    "deleted_at = ? WHERE user_id = ?"
)
#: The profile image columns, by kind (migration 0027).
_IMAGE_COLUMNS = {"avatar": "avatar_id", "header": "header_id"}
_DELETED_AT = "SELECT deleted_at FROM users WHERE user_id = ?"
_DELETED_AMONG = "SELECT user_id, deleted_at FROM users WHERE user_id IN ?"


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    display_name: str
    bio: str
    private: bool
    created_at: datetime | None
    updated_at: datetime | None
    avatar_id: int | None = None
    header_id: int | None = None


async def get_user(session: Session, user_id: int) -> User | None:
    """The stored profile, or None before the user's registration is processed."""
    statement = await prepared(session, _GET)
    rows = await execute(session, statement, (user_id,))
    return _user(rows[0]) if rows else None


async def get_users(session: Session, user_ids: Sequence[int]) -> dict[int, User]:
    """The stored profiles of ``user_ids`` (unregistered ids are absent), in ``IN`` reads
    of :data:`IN_GROUP` ids run in parallel."""
    statement = await prepared(session, _GET_MANY)
    ids = list(dict.fromkeys(user_ids))
    parts = [ids[i:i + IN_GROUP] for i in range(0, len(ids), IN_GROUP)]
    found = await asyncio.gather(*(execute(session, statement, (part,)) for part in parts))
    users = (_user(row) for rows in found for row in rows)
    return {user.user_id: user for user in users if user is not None}


def _user(row: dict[str, Any]) -> User | None:
    if row["username"] is None:
        return None
    return User(
        user_id=row["user_id"], username=row["username"],
        display_name=row["display_name"] or "", bio=row["bio"] or "",
        private=bool(row["private"]), created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]), avatar_id=row.get("avatar_id"),
        header_id=row.get("header_id"),
    )


async def is_private(session: Session, user_id: int) -> bool:
    """Whether following ``user_id`` needs approval.

    An account we do not know yet counts as private: granting a follow to an account
    whose registration is still in flight could expose a private account's posts.
    """
    user = await get_user(session, user_id)
    return True if user is None else user.private


async def user_id_for(session: Session, username: str) -> int | None:
    """Who holds ``username`` now (None if nobody)."""
    statement = await prepared(session, _LOOKUP)
    rows = await execute(session, statement, (username,))
    return rows[0]["user_id"] if rows else None


async def upsert_profile(session: Session, user_id: int, username: str, display_name: str,
                         bio: str, private: bool, at: datetime, *,
                         registered: bool = False) -> User | None:
    """Store the full profile as of ``at``; returns the profile stored before (or None).

    The caller uses the previous profile to re-index a renamed user and to react to a
    private -> public switch.
    """
    previous = await get_user(session, user_id)
    stamp = micros(at)
    if previous is not None and previous.username != username:
        release = await prepared(session, _RELEASE)
        await execute(session, release, (stamp, previous.username))
    claim = await prepared(session, _CLAIM)
    await execute(session, claim, (username, user_id, stamp))
    if registered:
        created = await prepared(session, _CREATED)
        await execute(session, created, (stamp, at, user_id))
    upsert = await prepared(session, _UPSERT)
    await execute(session, upsert, (stamp, username, display_name, bio, private, at, user_id))
    return previous


async def set_profile_image(session: Session, user_id: int, kind: str, image_id: int,
                            uploaded_at: datetime) -> None:
    """Show profile image ``image_id`` as the ``kind`` ("avatar" / "header") of ``user_id``.

    Written ``USING TIMESTAMP`` of the upload, so the image uploaded last wins whatever
    order the renders finish in, a redelivery rewrites the same cell, and an account's
    erasure (stamped at its later deletion) wins over any of them.
    """
    column = _IMAGE_COLUMNS[kind]
    statement = await prepared(
        session, f"UPDATE users USING TIMESTAMP ? SET {column} = ? WHERE user_id = ?")
    await execute(session, statement, (micros(uploaded_at), image_id, user_id))


async def mark_deleted(session: Session, user_id: int, at: datetime) -> None:
    """Record that ``user_id`` was deleted at ``at`` (the identity check refuses it now).

    Only the marker: ingest writes it before answering a deletion, so the account stops
    working at once; the profile itself is erased by :func:`erase` in the processor.
    """
    statement = await prepared(session, _MARK_DELETED)
    await execute(session, statement, (micros(at), at, user_id))


async def is_deleted(session: Session, user_id: int) -> bool:
    """Whether ``user_id``'s account was deleted (guards events still in flight)."""
    statement = await prepared(session, _DELETED_AT)
    rows = await execute(session, statement, (user_id,))
    return bool(rows) and rows[0]["deleted_at"] is not None


async def deleted_among(session: Session, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` belong to deleted accounts (one ``IN`` read per 100 ids:
    a batched processor checks a whole run's actors at once)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    statement = await prepared(session, _DELETED_AMONG)
    found = await asyncio.gather(*(execute(session, statement, (ids[i:i + 100],))
                                   for i in range(0, len(ids), 100)))
    return {row["user_id"] for rows in found for row in rows if row["deleted_at"] is not None}


async def erase(session: Session, user_id: int, at: datetime) -> User | None:
    """Erase the profile of a user deleted at ``at``; returns the profile it had (or None).

    The username is released first and the row erased last (module doc), so a crash
    part-way leaves the username in the row for the redelivery to release. Repeating it
    changes nothing: the second call finds no profile and writes the same tombstones.
    """
    previous = await get_user(session, user_id)
    stamp = micros(at)
    if previous is not None:
        release = await prepared(session, _RELEASE)
        await execute(session, release, (stamp, previous.username))
    statement = await prepared(session, _ERASE)
    await execute(session, statement, (stamp, at, at, user_id))
    return previous
