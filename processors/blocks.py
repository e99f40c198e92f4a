"""photostream-blocks: applies blocks and mutes (the ``photostream.blocks`` topic).

A ``block.added`` is stored as two rows (:func:`sinks.blocks.block`: the blocker's
list and its mirror in the target's partition), both accounts' cached relations are
invalidated, and then the two ``follow.removed`` events (blocker -> target and
target -> blocker) are published onto the follows topic. Why publish instead of
unfollowing here: each follow edge has a single writer, the graph processor on the
followee's partition, which changes the edge and its count as their single writer
(and repartitions the follower side to its own single writer); going through it keeps
the counts exact, and the fan-out planner, which consumes the
same events, takes the other's photos out of each home timeline (Redis and Cassandra)
as for any unfollow. Pending follow requests either way go with them.

A follow racing the block cannot bring an edge back: the graph processor refuses a
``follow.requested`` / ``follow.approved`` across a stored block, and any follow
appended to the topic before our ``follow.removed`` is undone by it (same partition,
applied in order). Unblocking removes the rows only; the edges stay removed.

An account deletion (``user.deleted``, from the users topic, which this group also
reads) erases the account's rows and the other accounts' blocks of it
(:func:`sinks.blocks.erase`), as of the deletion's time.

Mutes are rows only: a muted account stays followed, its posts stay in the muter's
timeline, and the feed filters them at read (so unmuting restores them at once).

Idempotent: rows are written ``USING TIMESTAMP`` of the event, and the follow events
get ids fixed by the block's event id, so a redelivered block rewrites the same rows
and republishes the same (idempotent) unfollows.
"""

from __future__ import annotations

from typing import ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.blocks import BlockAdded, BlockRemoved, MuteAdded, MuteRemoved
from schemas.envelope import make
from schemas.graph import FollowRemoved
from schemas.topics import BLOCKS_GROUP
from schemas.users import UserDeleted
from sinks import blocks


class BlocksProcessor(StoreProcessor):
    name: ClassVar[str] = BLOCKS_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = BLOCKS_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    publishes: ClassVar[bool] = True

    async def handle(self, message: Message) -> None:
        event = message.event
        p = event.payload
        at = event.occurred_at
        if isinstance(p, UserDeleted):
            others = await blocks.erase(self.session, p.user_id, at)
            await blocks.invalidate(self.redis, [p.user_id, *others])
            return
        if not isinstance(p, BlockAdded | BlockRemoved | MuteAdded | MuteRemoved):
            return  # profile and other account events: nothing of ours
        if p.user_id == p.target_id:
            return  # ingest refuses it (422); a hand-published one changes nothing
        if isinstance(p, BlockAdded):
            await blocks.block(self.session, p.user_id, p.target_id, at)
        elif isinstance(p, BlockRemoved):
            await blocks.unblock(self.session, p.user_id, p.target_id, at)
        elif isinstance(p, MuteAdded):
            await blocks.mute(self.session, p.user_id, p.target_id, at)
        else:
            await blocks.unmute(self.session, p.user_id, p.target_id, at)
        await blocks.invalidate(self.redis, [p.user_id, p.target_id])
        if isinstance(p, BlockAdded):
            await self.publisher.publish_many([
                make(FollowRemoved(follower_id=a, followee_id=b), producer=self.name,
                     event_id=f"unfollow:{a}:{b}:{event.event_id}"[:128], occurred_at=at)
                for a, b in ((p.user_id, p.target_id), (p.target_id, p.user_id))])
