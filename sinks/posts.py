"""Album posts: their assembly state (``posts``), media claims and the pending list.

A post of several media is made from events that Kafka does not order against each
other: ingest claims the media, then publishes ``album.posted``, from which the albums
processor writes the post (``pending``); the items' ``photo.processed`` /
``photo.failed`` arrive on another topic under their own ids. So the processor decides
from these rows, not from event order, and every step is a compare-and-set that exactly
one writer wins:

- ``pending`` -> ``publishing`` (:func:`settle`) fixes which items made it and which
  failed, once; whoever wins publishes, and a redelivery publishes the same thing again.
- ``publishing`` -> ``published`` (:func:`mark_published`) once the post's event is on
  Kafka; ``failed`` when no item made it; ``deleted`` is a tombstone nothing leaves.

``media_posts`` is the claim that keeps a media id in one post only (``INSERT ... IF NOT
EXISTS``); ``pending_posts`` is the one small partition the processor's sweep reads to
find posts whose ``ready_by`` bound has passed, so the bound survives restarts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from schemas.media import AlbumPosted
from sinks.statements import QUORUM, SERIAL, applied, as_utc, micros, prepared

PENDING = "pending"
PUBLISHING = "publishing"
PUBLISHED = "published"
FAILED = "failed"
DELETED = "deleted"

_SHARD = 0

_CREATE = (
    "INSERT INTO posts (post_id, owner_id, media_ids, status, caption, title, location, "
    "sensitive, content_warning, ready_by, posted_at, updated_at) "
    "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
_PENDING_ADD = "INSERT INTO pending_posts (shard, post_id, ready_by) VALUES (?, ?, ?)"
_PENDING_DEL = "DELETE FROM pending_posts WHERE shard = ? AND post_id = ?"
_PENDING_ALL = "SELECT post_id, ready_by FROM pending_posts WHERE shard = ?"
_GET = "SELECT * FROM posts WHERE post_id = ?"
_CLAIM = "INSERT INTO media_posts (media_id, post_id, owner_id) VALUES (?, ?, ?) IF NOT EXISTS"
_UNCLAIM = "DELETE FROM media_posts WHERE media_id = ? IF post_id = ?"
_POST_OF = "SELECT post_id FROM media_posts WHERE media_id = ?"
_SETTLE = (
    "UPDATE posts SET status = 'publishing', ready_items = ?, failed_items = ?, updated_at = ? "
    "WHERE post_id = ? IF status = 'pending'"
)
_PUBLISHED = ("UPDATE posts SET status = 'published', updated_at = ? "
              "WHERE post_id = ? IF status = 'publishing'")
_FAILED = ("UPDATE posts SET status = 'failed', failed_items = ?, updated_at = ? "
           "WHERE post_id = ? IF status = 'pending'")
_DELETED = ("UPDATE posts SET status = 'deleted', updated_at = ? "
            "WHERE post_id = ? IF status != 'deleted'")


@dataclass(frozen=True)
class Post:
    """One ``posts`` row: what was asked for and, once settled, what made it."""

    post_id: int
    owner_id: int
    media_ids: list[int]
    status: str
    caption: str
    title: str
    location: str | None
    sensitive: bool
    content_warning: str
    ready_by: datetime | None
    ready_items: list[int] = field(default_factory=list)
    failed_items: dict[int, str] = field(default_factory=dict)


async def create(session: Session, post: AlbumPosted) -> None:
    """Write the pending post and list it for the sweep; safe to repeat.

    Written ``USING TIMESTAMP`` of the post time, so a redelivered ``album.posted`` can
    never roll a settled post back to ``pending`` (every later write is an LWT, "now").
    """
    statement = await prepared(session, _CREATE)
    await execute(session, statement, (
        post.post_id, post.owner_id, list(post.media_ids), post.caption, post.title,
        post.location, post.sensitive, post.content_warning, post.ready_by, post.posted_at,
        post.posted_at, micros(post.posted_at)))
    statement = await prepared(session, _PENDING_ADD)
    await execute(session, statement, (_SHARD, post.post_id, post.ready_by))


async def claim_media(session: Session, media_id: int, post_id: int, owner_id: int) -> int:
    """Claim ``media_id`` for ``post_id``; returns the post that holds it (ours if won)."""
    statement = await prepared(session, _CLAIM)
    rows = await execute(session, statement, (media_id, post_id, owner_id))
    if applied(rows):
        return post_id
    holder = rows[0].get("post_id") if rows else None
    return int(holder) if holder is not None else post_id


async def release_media(session: Session, media_ids: Sequence[int], post_id: int) -> None:
    """Give back the claims ``post_id`` holds on ``media_ids`` (a post that was refused)."""
    statement = await prepared(session, _UNCLAIM)
    for media_id in media_ids:
        await execute(session, statement, (media_id, post_id))


async def post_of(session: Session, media_id: int) -> int | None:
    """The post ``media_id`` was claimed for, if any."""
    statement = await prepared(session, _POST_OF)
    rows = await execute(session, statement, (media_id,))
    return int(rows[0]["post_id"]) if rows and rows[0]["post_id"] is not None else None


async def get(session: Session, post_id: int, *, serial: bool = False) -> Post | None:
    """The post's row (``serial``: linearizable with the compare-and-sets)."""
    statement = await prepared(session, _GET, consistency=SERIAL if serial else QUORUM)
    rows = await execute(session, statement, (post_id,))
    if not rows or rows[0]["owner_id"] is None:
        return None
    row = rows[0]
    return Post(
        post_id=row["post_id"], owner_id=row["owner_id"], media_ids=list(row["media_ids"] or ()),
        status=row["status"] or PENDING, caption=row["caption"] or "",
        title=row["title"] or "", location=row["location"],
        sensitive=bool(row["sensitive"]), content_warning=row["content_warning"] or "",
        ready_by=as_utc(row["ready_by"]), ready_items=list(row["ready_items"] or ()),
        failed_items=dict(row["failed_items"] or {}),
    )


async def settle(session: Session, post_id: int, ready: Sequence[int],
                 failed: Mapping[int, str], at: datetime) -> bool:
    """Fix which items made the post (``pending`` -> ``publishing``); True if we did."""
    statement = await prepared(session, _SETTLE)
    rows = await execute(session, statement, (list(ready), dict(failed), at, post_id))
    return applied(rows)


async def mark_published(session: Session, post_id: int, at: datetime) -> None:
    """The post's event is on Kafka: off the pending list."""
    statement = await prepared(session, _PUBLISHED)
    await execute(session, statement, (at, post_id))
    await unlist(session, post_id)


async def mark_failed(session: Session, post_id: int, failed: Mapping[int, str],
                      at: datetime) -> bool:
    """No item made it: the post failed for good (off the pending list)."""
    statement = await prepared(session, _FAILED)
    rows = await execute(session, statement, (dict(failed), at, post_id))
    await unlist(session, post_id)
    return applied(rows)


async def mark_deleted(session: Session, post_id: int, at: datetime) -> None:
    """Tombstone the post (off the pending list); nothing publishes it afterwards."""
    statement = await prepared(session, _DELETED)
    await execute(session, statement, (at, post_id))
    await unlist(session, post_id)


async def pending(session: Session) -> list[tuple[int, datetime | None]]:
    """Every post not yet published, with its ``ready_by`` bound."""
    statement = await prepared(session, _PENDING_ALL)
    rows = await execute(session, statement, (_SHARD,))
    return [(row["post_id"], as_utc(row["ready_by"])) for row in rows]


async def unlist(session: Session, post_id: int) -> None:
    statement = await prepared(session, _PENDING_DEL)
    await execute(session, statement, (_SHARD, post_id))
