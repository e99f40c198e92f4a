"""Photo rows (processing state, derivatives, caption) and each user's photo list.

Every read of a ``photos`` row's state lives here, whoever needs it (the metadata
processor, the fan-out worker's re-check, the ingest service's abort).

No write here is a lightweight transaction; each cell is written ``USING TIMESTAMP``
chosen so that the right write wins whatever order the events arrive in
(docs/consistency.md, "A deleted photo never comes back as ready"):

- a **deletion** writes ``status = 'deleted'`` at :data:`~sinks.statements.STICKY_US`,
  a fixed instant in 2100, and unlists the photo at that instant too: a sticky
  tombstone nothing written at a real time can overwrite, so a late or replayed
  ``photo.processed`` can never make a deleted photo ready or list it again;
- the **ready or failed** state is written at its event's time (never before the
  upload): a replay rewrites the same cells, and of a ready and a failed event the
  later wins, in the row and in the listing alike;
- **caption, title and alt text** are last-writer-wins by event time: an edit is
  written at its event's time, the text carried by ``photo.processed`` at the upload's
  (the photo id's time), so it never overwrites a later edit, even one stored before
  the processing; the ingest service's upload row is written at that same instant.

A ready photo is written as one single-partition batch (state at the event's time,
upload text at the upload's), so no reader sees one half. Readers read at the normal
consistency: with quorum writes and reads, a read that starts after a write finished
sees it, and no decision needs more (the listing tombstone wins on its timestamp).

``photos_by_user`` lists ready photos only; its count is counted from the listing
when read (:func:`photo_count`), so no writer needs to read or compare a count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from infra.connect.cassandra import execute
from schemas.ids import id_time
from schemas.media import PhotoProcessed
from sinks.statements import QUORUM, STICKY_US, as_utc, micros, prepared

STATUS_PROCESSING = "processing"
STATUS_READY = "ready"
STATUS_FAILED = "failed"
STATUS_DELETED = "deleted"

#: Ids per multi-partition ``IN`` read (small: the coordinator fans each out).
IN_GROUP = 16

_READY = (
    "UPDATE photos USING TIMESTAMP ? SET owner_id = ?, media_kind = ?, status = 'ready', "
    "failure_reason = null, width = ?, height = ?, duration_ms = ?, derivatives = ?, "
    "dominant_color = ?, blurhash = ?, location = ?, album_items = ?, detached = ?, "
    "sensitive = ?, content_warning = ?, updated_at = ? WHERE photo_id = ?"
)
_FAILED = (
    "UPDATE photos USING TIMESTAMP ? SET owner_id = ?, status = 'failed', failure_reason = ?, "
    "updated_at = ? WHERE photo_id = ?"
)
_TOMBSTONE = (
    "UPDATE photos USING TIMESTAMP ? SET owner_id = ?, status = 'deleted', updated_at = ? "
    "WHERE photo_id = ?"
)
_TOMBSTONE_WHY = (
    "UPDATE photos USING TIMESTAMP ? SET owner_id = ?, status = 'deleted', failure_reason = ?, "
    "updated_at = ? WHERE photo_id = ?"
)
_CAPTION = "UPDATE photos USING TIMESTAMP ? SET caption = ?, title = ? WHERE photo_id = ?"
_ALT = "UPDATE photos USING TIMESTAMP ? SET alt_text = ? WHERE photo_id = ?"
_STATUS = "SELECT status FROM photos WHERE photo_id = ?"
_TEXT = "SELECT owner_id, status, caption, title FROM photos WHERE photo_id = ?"
_STATUS_REASON = "SELECT status, failure_reason FROM photos WHERE photo_id = ?"
_GET = "SELECT * FROM photos WHERE photo_id = ?"
_GET_MANY = "SELECT * FROM photos WHERE photo_id IN ?"
_LIST = "INSERT INTO photos_by_user (owner_id, photo_id) VALUES (?, ?) USING TIMESTAMP ?"
_UNLIST = "DELETE FROM photos_by_user USING TIMESTAMP ? WHERE owner_id = ? AND photo_id = ?"
_COUNT = "SELECT COUNT(photo_id) AS listed FROM photos_by_user WHERE owner_id = ?"
_DETACHED_ADD = ("INSERT INTO detached_by_owner (owner_id, media_id) VALUES (?, ?) "
                 "USING TIMESTAMP ?")
_DETACHED_DEL = ("DELETE FROM detached_by_owner USING TIMESTAMP ? "
                 "WHERE owner_id = ? AND media_id = ?")
_DETACHED = "SELECT media_id FROM detached_by_owner WHERE owner_id = ? LIMIT ?"
_DETACHED_BEFORE = ("SELECT media_id FROM detached_by_owner WHERE owner_id = ? AND media_id < ? "
                    "LIMIT ?")
_RECENT = "SELECT photo_id FROM photos_by_user WHERE owner_id = ? LIMIT ?"
_RECENT_BEFORE = "SELECT photo_id FROM photos_by_user WHERE owner_id = ? AND photo_id < ? LIMIT ?"


class _Status:
    """``ready`` / ``deleted`` of anything read from a ``photos`` row's status."""

    status: str | None

    @property
    def ready(self) -> bool:
        return self.status == STATUS_READY

    @property
    def deleted(self) -> bool:
        return self.status == STATUS_DELETED


@dataclass(frozen=True)
class Photo(_Status):
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


@dataclass(frozen=True)
class PhotoText(_Status):
    """What the search index is built from: the owner, the status and the words."""

    owner_id: int | None
    status: str | None
    caption: str
    title: str


def upload_stamp(photo_id: int) -> int:
    """The write timestamp of what the upload said (caption, title, alt text): the
    photo id's time, the instant the ingest service writes its row at."""
    return micros(id_time(photo_id))


def event_stamp(photo_id: int, at: datetime) -> int:
    """The write timestamp of a processing outcome at ``at``: the event's time, but
    never at or before the upload's (a clock behind the ingest's must not lose to it)."""
    return max(micros(at), upload_stamp(photo_id) + 1)


async def write_ready(session: Session, photo: PhotoProcessed, at: datetime) -> None:
    """Write the ready state (at the event's time) and the upload's text (at the
    upload's) as one single-partition batch; no read, safe to repeat and to race.

    A deleted photo stays deleted (its status is sticky, module doc); a caption edited
    before or after keeps its edit (written at a later time than the upload's).
    """
    derivatives = orjson.dumps([
        {"name": d.name, "key": d.key, "width": d.width, "height": d.height,
         "bytes": d.bytes, "content_type": d.content_type}
        for d in photo.derivatives
    ]).decode()
    uploaded = upload_stamp(photo.photo_id)
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
    batch.add(await prepared(session, _READY), (
        event_stamp(photo.photo_id, at), photo.owner_id, photo.media_kind,
        photo.original_width, photo.original_height, photo.duration_ms, derivatives,
        photo.placeholder.dominant_color, photo.placeholder.blurhash, photo.location,
        list(photo.items) or None, photo.detached, photo.sensitive, photo.content_warning,
        at, photo.photo_id))
    batch.add(await prepared(session, _CAPTION),
              (uploaded, photo.caption, photo.title, photo.photo_id))
    if photo.alt_text:
        batch.add(await prepared(session, _ALT), (uploaded, photo.alt_text, photo.photo_id))
    await execute(session, batch)


async def list_photo(session: Session, photo: PhotoProcessed, at: datetime) -> None:
    """List the photo under its owner (an album item: apart, for the account sweep).

    Written at the event's time, so a deletion's unlisting (sticky) or a later failure
    wins whatever the order; no read. Album items are no posts: never in the grid.
    """
    stamp = event_stamp(photo.photo_id, at)
    if photo.detached:
        statement = await prepared(session, _DETACHED_ADD)
        await execute(session, statement, (photo.owner_id, photo.photo_id, stamp))
        return
    statement = await prepared(session, _LIST)
    await execute(session, statement, (photo.owner_id, photo.photo_id, stamp))


async def mark_processed(session: Session, photo: PhotoProcessed, at: datetime) -> PhotoText:
    """Make the photo ready and list it under its owner; returns the row as stored then.

    ``at`` is the event's ``occurred_at``. Safe to repeat and to race a deletion. The
    one read of the row (after the write) says whether the photo is ready (deleted, or
    failed by a later event, it is not listed) and what the search index wants.
    """
    await write_ready(session, photo, at)
    stored = await photo_text(session, photo.photo_id)
    if stored is None:  # unreachable after our write, but say what it means
        stored = PhotoText(photo.owner_id, None, photo.caption, photo.title)
    if stored.deleted:
        # The sticky unlisting again: a replay may come after its tombstone was purged.
        await _unlist(session, photo.photo_id, photo.owner_id, STICKY_US)
    elif stored.ready:
        await list_photo(session, photo, at)
    return stored


async def mark_failed(session: Session, photo_id: int, owner_id: int, reason: str,
                      at: datetime) -> None:
    """Record a final processing failure (at the event's time) and unlist the photo.

    A deleted photo stays deleted; of a ready and a failed event the later wins.
    """
    stamp = event_stamp(photo_id, at)
    statement = await prepared(session, _FAILED)
    await execute(session, statement, (stamp, owner_id, reason, at, photo_id))
    statement = await prepared(session, _UNLIST)
    await execute(session, statement, (stamp, owner_id, photo_id))


async def mark_deleted(session: Session, photo_id: int, owner_id: int, at: datetime,
                       reason: str | None = None) -> None:
    """Tombstone the photo and unlist it, for good (sticky, module doc); idempotent.

    ``reason`` is kept as the ``failure_reason`` (the ingest service's abort names
    itself there). Row first: a crash before the unlisting is finished by the
    redelivery, and a listing that outlives it is never shown (not ready).
    """
    if reason is None:
        statement = await prepared(session, _TOMBSTONE)
        await execute(session, statement, (STICKY_US, owner_id, at, photo_id))
    else:
        statement = await prepared(session, _TOMBSTONE_WHY)
        await execute(session, statement, (STICKY_US, owner_id, reason, at, photo_id))
    await _unlist(session, photo_id, owner_id, STICKY_US)


async def _unlist(session: Session, photo_id: int, owner_id: int, stamp: int) -> None:
    statement = await prepared(session, _UNLIST)
    await execute(session, statement, (stamp, owner_id, photo_id))
    statement = await prepared(session, _DETACHED_DEL)
    await execute(session, statement, (stamp, owner_id, photo_id))


async def set_caption(session: Session, photo_id: int, caption: str, title: str,
                      at: datetime) -> None:
    """Store caption and title written at ``at``: the newest edit wins, in any order.

    A plain write at the edit's time; on a deleted photo it changes nothing anyone sees.
    """
    statement = await prepared(session, _CAPTION)
    await execute(session, statement, (micros(at), caption, title, photo_id))


async def set_alt_text(session: Session, photo_id: int, alt_text: str, at: datetime) -> None:
    """Store one media item's alt text written at ``at``; the newest edit wins.

    Last writer wins by event time, as for captions (:func:`set_caption`): the alt text
    given at upload counts as written at the upload, so it never undoes a later edit.
    """
    statement = await prepared(session, _ALT)
    await execute(session, statement, (micros(at), alt_text, photo_id))


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


async def photo_status(session: Session, photo_id: int) -> str | None:
    """The photo row's status (None: no row).

    The fan-out worker checks it after writing an add chunk (see
    :mod:`processors.fanout`): a deletion that finished before this read is seen.
    """
    statement = await prepared(session, _STATUS)
    rows = await execute(session, statement, (photo_id,))
    return rows[0]["status"] if rows else None


async def photo_text(session: Session, photo_id: int) -> PhotoText | None:
    """Owner, status, caption and title (None: no row): what the search index wants."""
    statement = await prepared(session, _TEXT)
    rows = await execute(session, statement, (photo_id,))
    if not rows:
        return None
    row = rows[0]
    return PhotoText(row["owner_id"], row["status"], row["caption"] or "", row["title"] or "")


async def status_and_reason(session: Session, photo_id: int) -> tuple[str | None, str | None]:
    """(status, failure_reason), (None, None) when there is no row.

    The ingest service's abort decides from it whether a publish that failed had
    landed and been processed after all (:mod:`producers.ingest.photos`).
    """
    statement = await prepared(session, _STATUS_REASON)
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
    """How many ready photos ``owner_id`` has: counted from the listing.

    Counted on read instead of kept in a static column: the listing has a writer per
    photo (photos are keyed by photo, not owner), and a kept count would need a
    compare-and-set per change. The read API caches it (``cache.USER_COUNTS``).
    """
    statement = await prepared(session, _COUNT)
    rows = await execute(session, statement, (owner_id,))
    return int(rows[0]["listed"] or 0) if rows else 0
