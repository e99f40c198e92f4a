"""Likes, comments (counted edges) and stories (expiring, in Cassandra and Redis).

Likes and comments are counted edges (one row per liker, per comment, and a static
count in the photo's partition) written by the photo's single owner through
:mod:`sinks.owned_edges`: a run of events per photo costs one read and one batch, no
Paxos, and a duplicate like never counts twice (``apply_likes``, ``apply_comments``).

Stories live 24 hours from ``posted_at`` (not from when we happen to process them):
the Cassandra row gets ``USING TTL`` of the time left, and the author's Redis sorted
set ``stories:{<user_id>}`` (score: posted_at in ms, member: story id) drops expired
members and expires as a whole when its newest story does. An already-expired story
(a replay) writes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.redis import RedisClient
from sinks import owned_edges
from sinks.counted import CountedTable, edge_count, has_edge
from sinks.owned_edges import Applied, EdgeChange
from sinks.statements import as_utc, micros, prepared

LIKES = CountedTable("likes", "photo_id", "user_id", "like_count", ("liked_at",))
COMMENTS = CountedTable("comments", "photo_id", "comment_id", "comment_count",
                        ("user_id", "text", "created_at"))

STORY_SECONDS = 24 * 3600
_STORY_MS = STORY_SECONDS * 1000

_STORY_INSERT = (
    "INSERT INTO stories (user_id, story_id, media_key, posted_at) VALUES (?, ?, ?, ?) "
    "USING TTL ?"
)
_STORIES = "SELECT story_id, media_key, posted_at FROM stories WHERE user_id = ?"
_COMMENTS = (
    "SELECT comment_id, user_id, text, created_at FROM comments WHERE photo_id = ? LIMIT ?"
)
_COMMENT = (
    "SELECT comment_id, user_id, text, created_at FROM comments WHERE photo_id = ? "
    "AND comment_id = ?"
)
_COMMENTS_BEFORE = (
    "SELECT comment_id, user_id, text, created_at FROM comments WHERE photo_id = ? "
    "AND comment_id < ? LIMIT ?"
)
_LIKERS = "SELECT user_id FROM likes WHERE photo_id = ? AND user_id > ? LIMIT ?"
_LIKE_COUNTS = "SELECT photo_id, like_count FROM likes WHERE photo_id IN ? PER PARTITION LIMIT 1"
_COMMENT_COUNTS = (
    "SELECT photo_id, comment_count FROM comments WHERE photo_id IN ? PER PARTITION LIMIT 1"
)
_LIKED_ADD_AT = "INSERT INTO likes_by_user (user_id, photo_id) VALUES (?, ?) USING TIMESTAMP ?"
_LIKED_DEL_AT = "DELETE FROM likes_by_user USING TIMESTAMP ? WHERE user_id = ? AND photo_id = ?"
_AUTHORED_ADD_AT = ("INSERT INTO comments_by_user (user_id, comment_id, photo_id) "
                    "VALUES (?, ?, ?) USING TIMESTAMP ?")
_AUTHORED_DEL_AT = ("DELETE FROM comments_by_user USING TIMESTAMP ? WHERE user_id = ? "
                    "AND comment_id = ?")
_LIKED = "SELECT photo_id FROM likes_by_user WHERE user_id = ? LIMIT ?"
_LIKED_BEFORE = "SELECT photo_id FROM likes_by_user WHERE user_id = ? AND photo_id < ? LIMIT ?"
_AUTHORED = (
    "SELECT comment_id, photo_id FROM comments_by_user WHERE user_id = ? AND comment_id < ? "
    "LIMIT ?"
)
#: Ids per multi-partition ``IN`` read.
IN_GROUP = 16
MAX_ID = 2**63 - 1

# Atomic per author (one key, so one cluster slot): add, drop expired, re-arm expiry.
_STORY_LUA = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #newest == 0 then return 0 end
redis.call('PEXPIREAT', KEYS[1], tonumber(newest[2]) + tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True)
class Comment:
    comment_id: int
    user_id: int
    text: str
    created_at: datetime | None


@dataclass(frozen=True)
class Story:
    story_id: int
    media_key: str
    posted_at: datetime


def stories_key(user_id: int) -> str:
    """Redis key of an author's live stories (hash tag: one slot per author)."""
    return f"stories:{{{user_id}}}"


def like_change(user_id: int, liked: bool, at: datetime | None = None) -> EdgeChange:
    """The state a like event asks for (``at``: when it was liked)."""
    return EdgeChange(user_id, liked, (at,) if liked else (None,))


def comment_change(comment_id: int, user_id: int, text: str | None = None,
                   at: datetime | None = None, *, present: bool = True) -> EdgeChange:
    """The state a comment event asks for (its author rides along for the side table)."""
    return EdgeChange(comment_id, present, (user_id, text, at))


async def apply_likes(session: Session, wanted: Mapping[int, Mapping[int, EdgeChange]],
                      newest_event_us: Mapping[int, int]) -> dict[int, Applied]:
    """Apply a run of like changes (per photo, per liker) as the photos' single writer.

    No LWT (:mod:`sinks.owned_edges`). The likers' ``likes_by_user`` rows go first, at
    each photo's stamp, so the counted batch that follows is the commit point.
    """
    plans = await owned_edges.plan(session, LIKES, wanted, newest_event_us)
    await owned_edges.write_rows(session, [
        (_LIKED_ADD_AT, (c.member, photo_id, plan.stamp)) if c.present
        else (_LIKED_DEL_AT, (plan.stamp, c.member, photo_id))
        for photo_id, plan in plans.items() for c in plan.changes])
    await owned_edges.commit(session, LIKES, plans)
    return plans


async def apply_comments(session: Session, wanted: Mapping[int, Mapping[int, EdgeChange]],
                         newest_event_us: Mapping[int, int]) -> dict[int, Applied]:
    """Apply a run of comment changes as the photos' single writer (no LWT); the
    authors' ``comments_by_user`` rows first, as for likes."""
    plans = await owned_edges.plan(session, COMMENTS, wanted, newest_event_us)
    await owned_edges.write_rows(session, [
        (_AUTHORED_ADD_AT, (c.values[0], c.member, photo_id, plan.stamp)) if c.present
        else (_AUTHORED_DEL_AT, (plan.stamp, c.values[0], c.member))
        for photo_id, plan in plans.items() for c in plan.changes])
    await owned_edges.commit(session, COMMENTS, plans)
    return plans


async def add_like(session: Session, photo_id: int, user_id: int, at: datetime) -> bool:
    """Count ``user_id``'s like of ``photo_id`` once; False if it was already counted.

    A run of one (the processor applies whole runs with :func:`apply_likes`); only the
    photo's owning processor may call it (module doc of :mod:`sinks.owned_edges`).
    """
    plans = await apply_likes(session, {photo_id: {user_id: like_change(user_id, True, at)}},
                              {photo_id: micros(at)})
    return bool(plans[photo_id].changes)


async def remove_like(session: Session, photo_id: int, user_id: int,
                      at: datetime | None = None) -> bool:
    """Uncount ``user_id``'s like of ``photo_id``; False if it was not counted."""
    at = at or datetime.now(UTC)
    plans = await apply_likes(session, {photo_id: {user_id: like_change(user_id, False)}},
                              {photo_id: micros(at)})
    return bool(plans[photo_id].changes)


async def liked_photos(session: Session, user_id: int, limit: int,
                       before: int | None = None) -> list[int]:
    """The ``limit`` newest photos (by photo id) ``user_id`` likes, newest first
    (``before``: older than this photo id, for keyset paging)."""
    if before is None:
        rows = await execute(session, await prepared(session, _LIKED), (user_id, limit))
    else:
        rows = await execute(session, await prepared(session, _LIKED_BEFORE),
                             (user_id, before, limit))
    return [row["photo_id"] for row in rows]


async def likers(session: Session, photo_id: int, after: int = -1, limit: int = 50) -> list[int]:
    """Who likes ``photo_id``, by ascending user id after ``after`` (keyset paging)."""
    rows = await execute(session, await prepared(session, _LIKERS), (photo_id, after, limit))
    return [row["user_id"] for row in rows if row["user_id"] is not None]


async def engagement_counts(session: Session,
                            photo_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(like count, comment count) of each photo, zero when it has none: the static
    columns of both tables, read with ``IN`` in parallel."""
    ids = list(dict.fromkeys(photo_ids))
    parts = [ids[i:i + IN_GROUP] for i in range(0, len(ids), IN_GROUP)]
    likes_q = await prepared(session, _LIKE_COUNTS)
    comments_q = await prepared(session, _COMMENT_COUNTS)
    found = await asyncio.gather(*(execute(session, likes_q, (part,)) for part in parts),
                                 *(execute(session, comments_q, (part,)) for part in parts))
    likes = {r["photo_id"]: r["like_count"] or 0 for rows in found[:len(parts)] for r in rows}
    comments = {r["photo_id"]: r["comment_count"] or 0
                for rows in found[len(parts):] for r in rows}
    return {pid: (int(likes.get(pid, 0)), int(comments.get(pid, 0))) for pid in ids}


async def like_count(session: Session, photo_id: int) -> int:
    return await edge_count(session, LIKES, photo_id)


async def has_liked(session: Session, photo_id: int, user_id: int) -> bool:
    return await has_edge(session, LIKES, photo_id, user_id)


async def add_comment(session: Session, photo_id: int, comment_id: int, user_id: int,
                      text: str, at: datetime) -> bool:
    """Store and count a comment once; False if this comment id was already there.

    Also lists it under its author (``comments_by_user``, what an account deletion
    sweeps), before the counted batch that commits it (:func:`apply_comments`).
    """
    change = comment_change(comment_id, user_id, text, at)
    plans = await apply_comments(session, {photo_id: {comment_id: change}},
                                 {photo_id: micros(at)})
    return bool(plans[photo_id].changes)


async def remove_comment(session: Session, photo_id: int, comment_id: int,
                         user_id: int, at: datetime | None = None) -> bool:
    """Uncount and delete a comment, and unlist it under its author ``user_id``."""
    at = at or datetime.now(UTC)
    change = comment_change(comment_id, user_id, present=False)
    plans = await apply_comments(session, {photo_id: {comment_id: change}},
                                 {photo_id: micros(at)})
    return bool(plans[photo_id].changes)


async def authored_comments(session: Session, user_id: int, limit: int,
                            before: int | None = None) -> list[tuple[int, int]]:
    """(comment id, photo id) of ``user_id``'s comments, newest first, older than
    ``before`` (keyset paging; comments written before migration 0012 are not listed)."""
    rows = await execute(session, await prepared(session, _AUTHORED),
                         (user_id, MAX_ID if before is None else before, limit))
    return [(row["comment_id"], row["photo_id"]) for row in rows]


async def comment_count(session: Session, photo_id: int) -> int:
    return await edge_count(session, COMMENTS, photo_id)


async def recent_comments(session: Session, photo_id: int, limit: int = 50,
                          before: int | None = None) -> list[Comment]:
    """Newest comments first (comment ids are time-ordered); ``before``: older than it."""
    if before is None:
        rows = await execute(session, await prepared(session, _COMMENTS), (photo_id, limit))
    else:
        rows = await execute(session, await prepared(session, _COMMENTS_BEFORE),
                             (photo_id, before, limit))
    return [Comment(r["comment_id"], r["user_id"], r["text"], as_utc(r["created_at"]))
            for r in rows if r["comment_id"] is not None]


async def get_comment(session: Session, photo_id: int, comment_id: int) -> Comment | None:
    """One comment (ingest checks who may delete it: its author or the photo's owner)."""
    rows = await execute(session, await prepared(session, _COMMENT), (photo_id, comment_id))
    if not rows or rows[0]["comment_id"] is None:
        return None
    r = rows[0]
    return Comment(r["comment_id"], r["user_id"], r["text"], as_utc(r["created_at"]))


async def post_story(session: Session, redis: RedisClient, story_id: int, user_id: int,
                     media_key: str, posted_at: datetime, *, now: float | None = None) -> bool:
    """Store a story until ``posted_at`` + 24 h in both stores; False if already expired."""
    now = time.time() if now is None else now
    posted = posted_at.astimezone(UTC)
    left = int(posted.timestamp() + STORY_SECONDS - now)
    if left <= 0:
        return False
    statement = await prepared(session, _STORY_INSERT)
    await execute(session, statement, (user_id, story_id, media_key, posted, left))
    posted_ms = int(posted.timestamp() * 1000)
    cutoff_ms = int(now * 1000) - _STORY_MS
    script = redis.register_script(_STORY_LUA)
    await script(keys=[stories_key(user_id)],
                 args=[posted_ms, story_id, cutoff_ms, _STORY_MS])
    return True


async def stories(session: Session, user_id: int) -> list[Story]:
    """The author's live stories from Cassandra, newest first (the durable copy)."""
    statement = await prepared(session, _STORIES)
    rows = await execute(session, statement, (user_id,))
    return [Story(r["story_id"], r["media_key"], as_utc(r["posted_at"]) or datetime.now(UTC))
            for r in rows]


async def live_story_authors(redis: RedisClient, user_ids: Sequence[int], *,
                             now: float | None = None) -> list[int]:
    """Which of ``user_ids`` have a live story now (one pipelined round trip, from the
    hot copy; one key per author, so this is Cluster-safe)."""
    now = time.time() if now is None else now
    cutoff_ms = int(now * 1000) - _STORY_MS
    async with redis.pipeline(transaction=False) as pipe:
        for uid in user_ids:
            pipe.zcount(stories_key(uid), f"({cutoff_ms}", "+inf")
        counts = await pipe.execute()
    return [uid for uid, n in zip(user_ids, counts, strict=True) if n]


async def live_story_ids(redis: RedisClient, user_id: int, *, now: float | None = None
                         ) -> list[int]:
    """The author's live story ids from Redis, newest first (the hot copy)."""
    now = time.time() if now is None else now
    cutoff_ms = int(now * 1000) - _STORY_MS
    members = await redis.zrevrangebyscore(stories_key(user_id), "+inf", f"({cutoff_ms}")
    return [int(cast(bytes, m)) for m in members]
