"""photostream-engagement: likes, comments (counted once each) and 24-hour stories.

Likes and comments are keyed by photo, so this process is the single writer of a
photo's counts (the topic catalogue's promise, :mod:`schemas.topics`). It uses that:
a partition's run of events is reduced per photo to the state each like or comment
should end in (the last event wins, in log order), and each photo then costs one
read and one atomic batch with absolute counts, no lightweight transaction
(:mod:`sinks.owned_edges`; why that is exact is in ``docs/consistency.md``). A viral
photo is therefore no slower than a quiet one: its thousand likes in a batch are one
read and a few batches, not a thousand Paxos rounds queued on one partition.

An account deletion arrives here as one ``like.removed`` / ``comment.deleted`` per like
and comment of the person (published by the sweep, :mod:`processors.erasure`), so the
counts of other people's photos come down through the same path as an unlike. A like or
comment of a deleted account that was still in flight when the sweep listed theirs is
not applied (ingest marks the account deleted before the sweep starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved, StoryPosted
from schemas.topics import ENGAGEMENT_GROUP
from sinks import cache, engagement, users
from sinks.owned_edges import EdgeChange
from sinks.statements import micros

Counted = LikeAdded | LikeRemoved | CommentAdded | CommentDeleted


class EngagementProcessor(StoreProcessor):
    name: ClassVar[str] = ENGAGEMENT_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = ENGAGEMENT_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    batched: ClassVar[bool] = True
    max_records: ClassVar[int] = 2000

    async def handle(self, message: Message) -> None:
        await self.handle_run([message])

    async def handle_run(self, messages: Sequence[Message]) -> None:
        """Apply a partition's run: stories one by one, likes and comments per photo."""
        counted: list[Message] = []
        for message in messages:
            p = message.event.payload
            if isinstance(p, StoryPosted):
                await engagement.post_story(self.session, self.redis, p.story_id, p.user_id,
                                            p.media_key, p.posted_at)
            elif isinstance(p, Counted):
                counted.append(message)
        if not counted:
            return
        gone = await users.deleted_among(
            self.session, {m.event.payload.user_id for m in counted
                           if isinstance(m.event.payload, LikeAdded | CommentAdded)})
        likes, comments, newest = _reduce(counted, gone)
        if likes:
            await engagement.apply_likes(self.session, likes, newest)
        if comments:
            await engagement.apply_comments(self.session, comments, newest)
        # The read API's cached counts (and the likers' liked lists) are stale now.
        # Always, even for duplicates: a redelivery may follow a crash before this line.
        await cache.invalidate(self.redis, cache.ENGAGEMENT, [*likes, *comments])
        await cache.invalidate(self.redis, cache.LIKED,
                               [u for wanted in likes.values() for u in wanted])


def _reduce(messages: Sequence[Message], gone: set[int]
            ) -> tuple[dict[int, dict[int, EdgeChange]], dict[int, dict[int, EdgeChange]],
                       dict[int, int]]:
    """Per photo, the state each like / comment ends in (last event wins, log order),
    and the newest event time (us) per photo. Adds by deleted accounts are dropped."""
    likes: dict[int, dict[int, EdgeChange]] = {}
    comments: dict[int, dict[int, EdgeChange]] = {}
    newest: dict[int, int] = {}
    for message in messages:
        event = message.event
        p = event.payload
        if isinstance(p, LikeAdded | CommentAdded) and p.user_id in gone:
            continue
        newest[p.photo_id] = max(newest.get(p.photo_id, 0), micros(event.occurred_at))
        if isinstance(p, LikeAdded | LikeRemoved):
            liked = isinstance(p, LikeAdded)
            likes.setdefault(p.photo_id, {})[p.user_id] = engagement.like_change(
                p.user_id, liked, event.occurred_at)
        elif isinstance(p, CommentAdded):
            comments.setdefault(p.photo_id, {})[p.comment_id] = engagement.comment_change(
                p.comment_id, p.user_id, p.text, event.occurred_at)
        else:
            comments.setdefault(p.photo_id, {})[p.comment_id] = engagement.comment_change(
                p.comment_id, p.user_id, present=False)
    return likes, comments, newest
