"""Photo rows (processing state, derivatives, caption) and each user's photo list.

Every read of a ``photos`` row's state lives here, whoever needs it (the fan-out's
tombstone check, the search index, the ingest service's abort), so the serial reads
that make a deletion win every race sit next to the LWTs they linearize with.

Ordering across topics is not guaranteed (a ``photo.deleted`` may be handled before a
redelivered or late ``photo.processed``), so every write to a ``photos`` row is an LWT
guarded by ``IF status != 'deleted'``: deletion is a tombstone nothing resurrects.
The ingest service's plain insert of a new upload (``USING TIMESTAMP`` of the upload
time) is older than any LWT here, so it cannot resurrect a row either.

Caption and title are last-writer-wins by event time: a compare-and-set on
``caption_at`` (Cassandra refuses ``USING TIMESTAMP`` on conditional writes). The
caption carried by ``photo.processed`` counts as written at the upload (the photo id's
time), so it never overwrites a later edit.

``photos_by_user`` (with its ``photo_count``) lists ready photos only; it is changed
through :mod:`sinks.counted`. Making a photo ready adds it there and then re-checks
the tombstone with a serial read, so a deletion racing the processing cannot leave a
deleted photo listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from cassandra.cluster import Session

from infra.connect.cassandra import execute
from schemas.ids import id_time
from schemas.media import PhotoProcessed
from sinks.counted import CountedTable, add_edge, edge_count, remove_edge
from sinks.statements import QUORUM, SERIAL, applied, as_utc, prepared

STATUS_PROCESSING = "processing"
STATUS_READY = "ready"
STATUS_FAILED = "failed"
STATUS_DELETED = "deleted"

#: Ids per multi-partition ``IN`` read (small: the coordinator fans each out).
IN_GROUP = 16

PHOTOS_BY_USER = CountedTable("photos_by_user", "owner_id", "photo_id", "photo_count")

_READY_SET = (
    "UPDATE photos SET owner_id = ?, media_kind = ?, status = 'ready', failure_reason = null, "
    "width = ?, height = ?, duration_ms = ?, derivatives = ?, dominant_color = ?, "
    "blurhash = ?, location = ?, album_items = ?, detached = ?, sensitive = ?, "
    "content_warning = ?, updated_at = ?"
)
_READY = f"{_READY_SET} WHERE photo_id = ? IF status != 'deleted'"
#: The common case in one Paxos round: no caption stored yet (``caption_at`` null), so
#: the one carried by ``photo.processed`` goes in with the ready state.
_READY_CAPTIONED = (
    f"{_READY_SET}, caption = ?, title = ?, caption_at = ? "
    "WHERE photo_id = ? IF status != 'deleted' AND caption_at = null"
)
_FAILED = (
    "UPDATE photos SET owner_id = ?, status = 'failed', failure_reason = ?, updated_at = ? "
    "WHERE photo_id = ? IF status != 'deleted'"
)
_DELETED = (
    "UPDATE photos SET owner_id = ?, status = 'deleted', updated_at = ? "
    "WHERE photo_id = ? IF status != 'deleted'"
)
_CAPTION = (
    "UPDATE photos SET caption = ?, title = ?, caption_at = ? "
    "WHERE photo_id = ? IF status != 'deleted' AND caption_at = ?"
)
_CAPTION_STATE = "SELECT status, caption_at FROM photos WHERE photo_id = ?"
_ALT = (
    "UPDATE photos SET alt_text = ?, alt_at = ? "
    "WHERE photo_id = ? IF status != 'deleted' AND alt_at = ?"
)
_ALT_STATE = "SELECT status, alt_at FROM photos WHERE photo_id = ?"
_STATUS = "SELECT status FROM photos WHERE photo_id = ?"
_OWNER_STATUS = "SELECT owner_id, status FROM photos WHERE photo_id = ?"
_TEXT = "SELECT owner_id, status, caption, title FROM photos WHERE photo_id = ?"
_STATUS_REASON = "SELECT status, failure_reason FROM photos WHERE photo_id = ?"
_GET = "SELECT * FROM photos WHERE photo_id = ?"
_GET_MANY = "SELECT * FROM photos WHERE photo_id IN ?"
_DETACHED_ADD = "INSERT INTO detached_by_owner (owner_id, media_id) VALUES (?, ?)"
_DETACHED_DEL = "DELETE FROM detached_by_owner WHERE owner_id = ? AND media_id = ?"
_DETACHED = "SELECT media_id FROM detached_by_owner WHERE owner_id = ? LIMIT ?"
_DETACHED_BEFORE = ("SELECT media_id FROM detached_by_owner WHERE owner_id = ? AND media_id < ? "
                    "LIMIT ?")
_RECENT = "SELECT photo_id FROM photos_by_user WHERE owner_id = ? LIMIT ?"
_RECENT_BEFORE = "SELECT photo_id FROM photos_by_user WHERE owner_id = ? AND photo_id < ? LIMIT ?"


@dataclass(frozen=True)
class Photo:
    """One ``photos`` row as the read side and the fan-out need it."""

    photo_id: int
    owner_id: int | None
    status: str | None
    media_kind: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    derivatives: list[dict[str, Any]]
    dominant_color: str | None
    blurhash: str | None
    caption: str
    title: str
    location: str | None
    failure_reason: str | None
    uploaded_at: datetime | None
    updated_at: datetime | None
    items: list[int] = field(default_factory=list)
    """An album post's media ids in the author's order (empty: a single photo)."""
    detached: bool = False
    """An album item: shown through its post only."""
    alt_text: str = ""
    sensitive: bool = False
    content_warning: str = ""

    @property
    def ready(self) -> bool:
        return self.status == STATUS_READY

    @property
    def deleted(self) -> bool:
        return self.status == STATUS_DELETED


@dataclass(frozen=True)
class PhotoText:
    """What the search index is built from: the owner, the status and the words."""

    owner_id: int | None
    status: str | None
    caption: str
    title: str


async def mark_processed(session: Session, photo: PhotoProcessed, at: datetime) -> bool:
    """Make the photo ready and list it under its owner; False if it is deleted.

    ``at`` is the event's ``occurred_at``. Safe to repeat and to race a deletion.
    Every photo comes through here twice (metadata and the fan-out planner), and each
    Paxos round is a large share of Cassandra's CPU per photo (docs/capacity.md), so the
    first pass writes the ready state and the upload caption in one LWT; only a row that
    already has a caption takes the separate ready + caption compare-and-set path.
    """
    derivatives = orjson.dumps([
        {"name": d.name, "key": d.key, "width": d.width, "height": d.height,
         "bytes": d.bytes, "content_type": d.content_type}
        for d in photo.derivatives
    ]).decode()
    ready = (photo.owner_id, photo.media_kind, photo.original_width, photo.original_height,
             photo.duration_ms, derivatives, photo.placeholder.dominant_color,
             photo.placeholder.blurhash, photo.location, list(photo.items) or None,
             photo.detached, photo.sensitive, photo.content_warning, at)
    captioned_at = id_time(photo.photo_id)
    statement = await prepared(session, _READY_CAPTIONED)
    rows = await execute(session, statement,
                         (*ready, photo.caption, photo.title, captioned_at, photo.photo_id))
    if not applied(rows):
        # Deleted, or a caption is stored already (a redelivery, the other processor
        # group, or an edit): the failed LWT returned both, read serially.
        current = rows[0] if rows else {}
        if current.get("status") == STATUS_DELETED:
            return False
        statement = await prepared(session, _READY)
        if not applied(await execute(session, statement, (*ready, photo.photo_id))):
            return False
        stored = as_utc(current.get("caption_at"))
        if stored is None or stored < _ms(captioned_at):
            await set_caption(session, photo.photo_id, photo.caption, photo.title,
                              captioned_at)
    if photo.alt_text:
        await set_alt_text(session, photo.photo_id, photo.alt_text, captioned_at)
    if photo.detached:
        # An album item is no post: never in its owner's grid, count or timelines; it is
        # listed apart, for the account-deletion sweep.
        statement = await prepared(session, _DETACHED_ADD)
        await execute(session, statement, (photo.owner_id, photo.photo_id))
        return True
    await add_edge(session, PHOTOS_BY_USER, photo.owner_id, photo.photo_id)
    if await _serial_status(session, photo.photo_id) != STATUS_READY:
        # Deleted (or failed) while we listed it: the deleter may have run its removal
        # before our insert, so undo it here.
        await remove_edge(session, PHOTOS_BY_USER, photo.owner_id, photo.photo_id)
        return False
    return True


async def mark_failed(session: Session, photo_id: int, owner_id: int, reason: str,
                      at: datetime) -> bool:
    """Record a final processing failure (not on a deleted photo); unlists the photo."""
    statement = await prepared(session, _FAILED)
    rows = await execute(session, statement, (owner_id, reason, at, photo_id))
    await remove_edge(session, PHOTOS_BY_USER, owner_id, photo_id)
    return applied(rows)


async def mark_deleted(session: Session, photo_id: int, owner_id: int, at: datetime) -> bool:
    """Tombstone the photo and unlist it; False if it already was deleted."""
    statement = await prepared(session, _DELETED)
    rows = await execute(session, statement, (owner_id, at, photo_id))
    await remove_edge(session, PHOTOS_BY_USER, owner_id, photo_id)
    statement = await prepared(session, _DETACHED_DEL)
    await execute(session, statement, (owner_id, photo_id))
    return applied(rows)


async def set_caption(session: Session, photo_id: int, caption: str, title: str,
                      at: datetime) -> bool:
    """Store caption and title written at ``at`` unless a newer one (or a tombstone) is there.

    Returns True when this call changed them. Compare-and-set on ``caption_at``: the
    loop only repeats while other writers keep changing it.
    """
    state = await prepared(session, _CAPTION_STATE, consistency=SERIAL)
    write = await prepared(session, _CAPTION)
    while True:
        rows = await execute(session, state, (photo_id,))
        status = rows[0]["status"] if rows else None
        stored = as_utc(rows[0]["caption_at"]) if rows else None
        if status == STATUS_DELETED or (stored is not None and stored >= _ms(at)):
            return False
        result = await execute(session, write, (caption, title, at, photo_id,
                                                rows[0]["caption_at"] if rows else None))
        if applied(result):
            return True


async def set_alt_text(session: Session, photo_id: int, alt_text: str, at: datetime) -> bool:
    """Store one media item's alt text written at ``at`` unless a newer one is there.

    Last writer wins by event time, as for captions (:func:`set_caption`): the alt text
    given at upload counts as written at the upload, so it never undoes a later edit.
    """
    state = await prepared(session, _ALT_STATE, consistency=SERIAL)
    write = await prepared(session, _ALT)
    while True:
        rows = await execute(session, state, (photo_id,))
        if not rows:
            return False  # no row: no write has made the media known yet
        status = rows[0]["status"]
        stored = as_utc(rows[0]["alt_at"])
        if status == STATUS_DELETED or (stored is not None and stored >= _ms(at)):
            return False
        result = await execute(session, write, (alt_text, at, photo_id, rows[0]["alt_at"]))
        if applied(result):
            return True


async def get_photo(session: Session, photo_id: int) -> Photo | None:
    """The photo row, or None if no event about it has been stored yet."""
    statement = await prepared(session, _GET)
    rows = await execute(session, statement, (photo_id,))
    return _photo(rows[0]) if rows else None


async def get_photos(session: Session, photo_ids: Sequence[int]) -> dict[int, Photo]:
    """The stored rows of ``photo_ids`` (unknown ids are absent): one ``IN`` read per
    :data:`IN_GROUP` ids, in parallel, so a page of photos costs a request or two."""
    statement = await prepared(session, _GET_MANY)
    ids = list(dict.fromkeys(photo_ids))
    parts = [ids[i:i + IN_GROUP] for i in range(0, len(ids), IN_GROUP)]
    found = await asyncio.gather(*(execute(session, statement, (part,)) for part in parts))
    return {row["photo_id"]: _photo(row) for rows in found for row in rows}


async def photo_status(session: Session, photo_id: int, *, serial: bool = True) -> str | None:
    """The photo row's status; ``serial`` makes it linearizable with the tombstone LWT.

    The fan-out worker checks it before and after an add chunk (see
    :mod:`processors.fanout`) so a deletion racing the delivery always wins.
    """
    statement = await prepared(session, _OWNER_STATUS,
                               consistency=SERIAL if serial else QUORUM)
    rows = await execute(session, statement, (photo_id,))
    return rows[0]["status"] if rows else None


async def photo_text(session: Session, photo_id: int) -> PhotoText | None:
    """Owner, status, caption and title, read serially (None: no row).

    Serial so that the search index, which re-reads after writing, converges on what a
    racing deletion or caption edit (both LWTs) left, never on a stale replica.
    """
    statement = await prepared(session, _TEXT, consistency=SERIAL)
    rows = await execute(session, statement, (photo_id,))
    if not rows:
        return None
    row = rows[0]
    return PhotoText(row["owner_id"], row["status"], row["caption"] or "", row["title"] or "")


async def status_and_reason(session: Session, photo_id: int) -> tuple[str | None, str | None]:
    """(status, failure_reason) read serially, (None, None) when there is no row.

    Linearizable with every LWT on the row: the ingest service's abort decides from it
    whether a publish that failed had landed after all (:mod:`producers.ingest.photos`).
    """
    statement = await prepared(session, _STATUS_REASON, consistency=SERIAL)
    rows = await execute(session, statement, (photo_id,))
    if not rows:
        return None, None
    return rows[0]["status"], rows[0]["failure_reason"]


def _photo(row: dict[str, Any]) -> Photo:
    return Photo(
        photo_id=row["photo_id"], owner_id=row["owner_id"], status=row["status"],
        media_kind=row["media_kind"], width=row["width"], height=row["height"],
        duration_ms=row["duration_ms"],
        derivatives=orjson.loads(row["derivatives"]) if row["derivatives"] else [],
        dominant_color=row["dominant_color"], blurhash=row["blurhash"],
        caption=row["caption"] or "", title=row["title"] or "", location=row["location"],
        failure_reason=row["failure_reason"], uploaded_at=as_utc(row["uploaded_at"]),
        updated_at=as_utc(row["updated_at"]),
        items=list(row.get("album_items") or ()), detached=bool(row.get("detached")),
        alt_text=row.get("alt_text") or "", sensitive=bool(row.get("sensitive")),
        content_warning=row.get("content_warning") or "",
    )


async def recent_photos(session: Session, owner_id: int, limit: int = 50,
                        before: int | None = None) -> list[int]:
    """Ids of ``owner_id``'s ready photos, newest first (``before``: older than this id).

    What the fan-out backfills a new follower's timeline from, and what a rebuild
    pulls for celebrities.
    """
    if before is None:
        statement = await prepared(session, _RECENT)
        rows = await execute(session, statement, (owner_id, limit))
    else:
        statement = await prepared(session, _RECENT_BEFORE)
        rows = await execute(session, statement, (owner_id, before, limit))
    return [row["photo_id"] for row in rows if row["photo_id"] is not None]


async def detached_media(session: Session, owner_id: int, limit: int = 50,
                         before: int | None = None) -> list[int]:
    """Ids of ``owner_id``'s processed album media (detached uploads), newest first."""
    if before is None:
        statement = await prepared(session, _DETACHED)
        rows = await execute(session, statement, (owner_id, limit))
    else:
        statement = await prepared(session, _DETACHED_BEFORE)
        rows = await execute(session, statement, (owner_id, before, limit))
    return [row["media_id"] for row in rows]


async def photo_count(session: Session, owner_id: int) -> int:
    """How many ready photos ``owner_id`` has."""
    return await edge_count(session, PHOTOS_BY_USER, owner_id)


async def _serial_status(session: Session, photo_id: int) -> str | None:
    statement = await prepared(session, _STATUS, consistency=SERIAL)
    rows = await execute(session, statement, (photo_id,))
    return rows[0]["status"] if rows else None


def _ms(moment: datetime) -> datetime:
    """``moment`` truncated to milliseconds, the precision Cassandra keeps."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
