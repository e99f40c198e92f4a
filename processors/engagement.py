"""photostream-engagement: likes, comments (counted once each) and 24-hour stories.

Likes and comments are keyed by photo, so this process is the single writer of a
photo's counts; the counted-edge LWTs still make duplicates (redeliveries, a second
instance after a rebalance) count nothing.

An account deletion arrives here as one ``like.removed`` / ``comment.deleted`` per like
and comment of the person (published by the sweep, :mod:`processors.erasure`), so the
counts of other people's photos come down through the same path as an unlike. A like or
comment of a deleted account that was still in flight when the sweep listed theirs is
not applied (ingest marks the account deleted before the sweep starts).
"""

from __future__ import annotations

from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved, StoryPosted
from schemas.topics import ENGAGEMENT_GROUP
from sinks import cache, engagement, users


class EngagementProcessor(StoreProcessor):
    name: ClassVar[str] = ENGAGEMENT_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = ENGAGEMENT_GROUP.topic_names
    uses_redis: ClassVar[bool] = True

    async def handle(self, message: Message) -> None:
        event = message.event
        p = event.payload
        session = self.session
        if isinstance(p, StoryPosted):
            await engagement.post_story(session, self.redis, p.story_id, p.user_id,
                                        p.media_key, p.posted_at)
            return
        if isinstance(p, LikeAdded | CommentAdded) and await users.is_deleted(session,
                                                                           p.user_id):
            return  # its author's account is gone (module doc)
        if isinstance(p, LikeAdded):
            await engagement.add_like(session, p.photo_id, p.user_id, event.occurred_at)
        elif isinstance(p, LikeRemoved):
            await engagement.remove_like(session, p.photo_id, p.user_id)
        elif isinstance(p, CommentAdded):
            await engagement.add_comment(session, p.photo_id, p.comment_id, p.user_id, p.text,
                                         event.occurred_at)
        elif isinstance(p, CommentDeleted):
            await engagement.remove_comment(session, p.photo_id, p.comment_id, p.user_id)
        else:
            return
        # The read API's cached counts (and the liker's liked list) are stale now.
        # Always, even for a duplicate: a redelivery may follow a crash before this line.
        await cache.invalidate(self.redis, cache.ENGAGEMENT, [p.photo_id])
        if isinstance(p, LikeAdded | LikeRemoved):
            await cache.invalidate(self.redis, cache.LIKED, [p.user_id])
