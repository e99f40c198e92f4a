"""photostream-fanout (planner) and photostream-fanout-worker: home timelines.

Two consumer groups, so one huge fan-out never stalls anything else:

* The **planner** consumes media.processed, photos and follows. For a ready photo it
  decides push or pull and, for a push, pages through the author's followers and
  publishes :class:`~schemas.fanout.FanoutChunk` tasks of at most
  ``timelines.fanout_chunk`` followers (deterministic chunk ids, published ``acks=all``
  before its offsets are committed). Follow changes touch one timeline, so the planner
  applies them itself (backfill on follow, removal on unfollow).
* The **worker** consumes fanout.tasks, keyed by chunk id (a hash), so the chunks of
  one post spread over every partition and every worker instance; it writes each
  chunk to Cassandra (all followers) and Redis (active followers).

Push or pull (the hybrid), and why every feed stays correct
    A post is *pushed* when its author has at most ``celebrity_threshold`` followers
    at the moment the planner handles it; otherwise it is *pulled*: only the author's
    own timeline gets it, and the author is recorded in ``pull_authors`` (before the
    planner commits). Readers (:mod:`api.feed`) merge the recent photos of every
    followed pull author into the feed, deduplicated. The marker is sticky, so:

    - crossing *up*: older posts were pushed (in the timelines), newer ones are pulled;
      the merge shows both;
    - crossing *down*: newer posts are pushed again, and the posts made while above
      the threshold are still pulled because the marker stays: nothing is lost.

    Pulling costs one ``recent_photos`` read per followed pull author per feed read,
    which is why it is reserved for the few accounts that once had a celebrity's
    audience.

Visibility is decided at read time as well: the reader shows a timeline entry only
if the photo is ready and its author is the reader or someone they follow now. The
fan-out is what makes feeds fast; that check is what keeps them right under races
between the separately consumed topics (a deletion overtaking its post, an unfollow
handled before the graph processor caught up).

Ordering against deletion: the planner itself writes the photo's ready state (or its
tombstone) through :mod:`sinks.photos` before fanning out (the same plain writes as the
metadata processor, timestamped so that a deletion's sticky tombstone wins), and the
photo is listed under its author before the follower list is read: a follower whose
edge appears after that read is backfilled from a listing that already holds the
photo. Neither the planner nor the workers read the photo's row: a deletion is
mirrored into Redis (:mod:`sinks.withdrawn`) before its removal chunks are planned, and
a worker checks that key after writing an add chunk and undoes the add if a deletion
won the race (a photo deleted before it was planned is pushed and undone by that check,
which is rare and costs one ``EXISTS`` per chunk either way). Durable rows are written
``USING TIMESTAMP`` of the causing event, so a late add never resurrects a removal made
by a later event.

Inactive followers (no feed read for ``inactive_after_days``, per the Redis mirror of
``user_activity``) still get the durable Cassandra row, so their timeline rebuilds
complete, but their Redis timeline is dropped instead of edited; reading the feed
again rebuilds it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar, Literal

from infra import metrics
from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.envelope import Event, make
from schemas.fanout import MAX_CHUNK, FanoutChunk, chunk_id
from schemas.graph import FollowApproved, FollowRemoved, FollowRequested
from schemas.media import PhotoDeleted, PhotoProcessed
from schemas.payload import Payload
from schemas.topics import FANOUT_GROUP, FANOUT_WORKER_GROUP
from sinks import graph, photos, users, withdrawn
from sinks.durable_timelines import Entry
from sinks.pull_authors import mark_pulled
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines

log = logging.getLogger(__name__)

Action = Literal["add", "remove"]
#: Chunks published per ``publish_many`` while streaming a large follower list.
PUBLISH_BATCH = 16


class _FanoutBase(StoreProcessor):
    uses_redis: ClassVar[bool] = True

    async def start(self) -> None:
        await super().start()
        t = self.settings.timelines
        self.hot = RedisTimelines(self.redis, t.redis_cap)
        self.timelines = Timelines(self.session, self.redis, self.hot,
                                   inactive_after_days=t.inactive_after_days)


class FanoutPlanner(_FanoutBase):
    """Decides who gets a post and publishes the chunks; applies follow changes."""

    name: ClassVar[str] = FANOUT_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = FANOUT_GROUP.topic_names
    publishes: ClassVar[bool] = True
    #: How long a follow event waits for the graph processor to create its edge.
    edge_wait_seconds: ClassVar[float] = 2.0

    async def start(self) -> None:
        await super().start()
        self._pulled: set[int] = set()

    async def handle(self, message: Message) -> None:
        event = message.event
        p = event.payload
        if isinstance(p, PhotoProcessed) and not p.detached:  # album items are no posts
            async with self.lock(p.photo_id):
                await self._posted(p, event.occurred_at)
        elif isinstance(p, PhotoDeleted):
            async with self.lock(p.photo_id):
                await photos.mark_deleted(self.session, p.photo_id, p.owner_id,
                                          event.occurred_at)
                await withdrawn.mark(self.redis, p.photo_id)  # before the removal chunks
                await self._plan(event.occurred_at, "remove", p.photo_id, p.owner_id,
                                 everyone=True)
        elif isinstance(p, FollowApproved | FollowRequested):
            async with self.lock(p.follower_id):
                await self._followed(p, event.occurred_at)
        elif isinstance(p, FollowRemoved):
            async with self.lock(p.follower_id):
                recent = await photos.recent_photos(self.session, p.followee_id,
                                                    limit=self.hot.cap)
                await self.timelines.forget(p.follower_id, recent, event.occurred_at)
        # photo.failed, caption edits and rejected requests change no timeline.

    async def _posted(self, p: PhotoProcessed, at: datetime) -> None:
        if await users.is_deleted(self.session, p.owner_id):
            return  # an upload that outlived its account: metadata deletes it
        # Ready + listed under the author before the followers are read (module doc);
        # blind writes: a deleted photo stays deleted and unlisted, the worker drops it.
        await photos.write_ready(self.session, p, at)
        await photos.list_photo(self.session, p, at)
        count = await graph.follower_count(self.session, p.owner_id)
        push = count <= self.settings.timelines.celebrity_threshold
        metrics.FANOUT_DECISIONS.labels("push" if push else "pull").inc()
        if not push and p.owner_id not in self._pulled:
            await mark_pulled(self.session, p.owner_id, p.photo_id)
            self._pulled.add(p.owner_id)
        await self._plan(at, "add", p.photo_id, p.owner_id, everyone=push,
                         estimate=count)

    async def _followed(self, p: FollowApproved | FollowRequested, at: datetime) -> None:
        """Backfill the followee's recent photos if the edge is (or is about to be) active.

        An approval, or a request to a public account, makes the edge; the graph
        processor (another group) may not have written it yet, so wait briefly for it:
        backfilling after the edge exists closes the race with a concurrent post.
        A request to a private (or unknown) account backfills nothing.
        """
        s = self.session
        active = await graph.is_following(s, p.follower_id, p.followee_id)
        if not active:
            implied = isinstance(p, FollowApproved) or not await users.is_private(
                s, p.followee_id)
            if not implied:
                return
            await self._wait_for_edge(p.follower_id, p.followee_id)
        recent = await photos.recent_photos(s, p.followee_id, limit=self.hot.cap)
        await self.timelines.backfill(p.follower_id,
                                      [Entry(pid, p.followee_id) for pid in recent], at)

    async def _wait_for_edge(self, follower_id: int, followee_id: int) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.edge_wait_seconds
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            if await graph.is_following(self.session, follower_id, followee_id):
                return True
        log.info("%s: edge %d -> %d not seen after %.1fs; backfilling anyway",
                 self.name, follower_id, followee_id, self.edge_wait_seconds)
        return False

    async def _audience(self, owner_id: int, everyone: bool,
                        page: int) -> AsyncIterator[list[int]]:
        """The author first (their own timeline shows their post), then followers."""
        yield [owner_id]
        if everyone:
            async for ids in graph.iter_followers(self.session, owner_id, fetch_size=page):
                yield [f for f in ids if f != owner_id]

    async def _plan(self, at: datetime, action: Action, photo_id: int,
                    owner_id: int, *, everyone: bool, estimate: int | None = None) -> None:
        """Publish the chunks of one fan-out; returns once the broker has all of them.

        Followers stream in clustering order (ascending id), so a re-run after a crash
        cuts the same chunks with the same ids. ``chunk_count`` is informational (logs,
        progress): exact on the last chunk, an estimate from the follower count before.
        """
        size = max(1, min(self.settings.timelines.fanout_chunk, MAX_CHUNK))
        if estimate is None and everyone:
            estimate = await graph.follower_count(self.session, owner_id)
        expected = math.ceil(((estimate or 0) + 1) / size) if everyone else 1
        buffer: list[int] = []
        pending: list[Event[Payload]] = []
        index = 0

        def cut(ids: list[int], last: bool) -> None:
            nonlocal index
            count = index + 1 if last else max(expected, index + 2)
            cid = chunk_id(photo_id, action, index)
            chunk = FanoutChunk(chunk_id=cid, action=action, photo_id=photo_id,
                                owner_id=owner_id, chunk_index=index, chunk_count=count,
                                follower_ids=tuple(ids))
            pending.append(make(chunk, producer=self.name, event_id=f"fanout-{cid}",
                                occurred_at=at))
            index += 1

        async for ids in self._audience(owner_id, everyone, size):
            buffer.extend(ids)
            while len(buffer) > size:  # keep the tail: only the end knows "last"
                cut(buffer[:size], last=False)
                del buffer[:size]
            if len(pending) >= PUBLISH_BATCH:
                await self.publisher.publish_many(pending)
                pending.clear()
        cut(buffer, last=True)
        await self.publisher.publish_many(pending)
        metrics.FANOUT_CHUNKS.labels(action).inc(index)
        if index > 1:
            log.info("%s: %s photo %d of %d: %d chunks", self.name, action, photo_id,
                     owner_id, index)


class FanoutWorker(_FanoutBase):
    """Applies fan-out chunks to Cassandra (every follower) and Redis (active ones)."""

    name: ClassVar[str] = FANOUT_WORKER_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = FANOUT_WORKER_GROUP.topic_names
    #: Few chunks per batch: each can be thousands of writes, and commits stay frequent.
    max_records: ClassVar[int] = 16
    partition_concurrency: ClassVar[int] = 4

    async def handle(self, message: Message) -> None:
        p = message.event.payload
        if not isinstance(p, FanoutChunk):
            return
        at = message.event.occurred_at
        ids = list(p.follower_ids)
        if p.action == "remove":
            await self.timelines.unpush(ids, p.photo_id, at)
            metrics.FANOUT_DELIVERIES.labels("remove").inc(len(ids))
            return
        await self.timelines.push(ids, p.photo_id, p.owner_id, at)
        metrics.FANOUT_DELIVERIES.labels("add").inc(len(ids))
        if await withdrawn.is_withdrawn(self.redis, p.photo_id):
            # Deleted before or while we wrote: the removal chunks may have run before
            # our writes landed, so undo them (a tombstone newer than our rows). Checked
            # after the push only (sinks.withdrawn says why that order suffices).
            await self.timelines.unpush(ids, p.photo_id, datetime.now(UTC))
