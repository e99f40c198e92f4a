"""The home feed read path: hot timeline, durable fallback, pulled celebrities, filters.

``FeedReader.home`` is what the HTTP read API serves (and what tests assert on):

1. Mark the reader active (one ``HGET`` on the activity mirror; a Cassandra write at
   most hourly). A reader back after ``inactive_after_days``, or whose hot timeline
   is missing (evicted, flushed, never built), gets it rebuilt from Cassandra first.
2. Candidates, newest first: the Redis timeline, continued from the durable
   Cassandra timeline past the Redis cap, merged with the recent photos of every
   followed *pull author* (posts not pushed because the author was above the
   celebrity threshold: see :mod:`processors.fanout`), deduplicated.
3. Visibility: keep a photo only if it is ready and its author is the reader or
   someone the reader follows *now* (approved edges: a pending request is not one).
   This is the backstop for every race between the separately consumed topics
   (deletions, unfollows, private accounts): a feed never shows a deleted photo or
   a post of an account the reader does not follow.
   Deleted entries found on the way are removed from both timelines (a deletion is
   permanent, so the repair is always right).

Cost per call when the caches are warm: Redis only, in a handful of pipelined round
trips (activity and timeline, the following list, the pulled authors' recent photos,
the photo rows). The following list, photo rows and recent photos come from the
read-through caches of :mod:`api.views` (invalidated by the processors on the events
that change them); on a miss they are read from Cassandra and cached.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from api.views import Views
from infra.connect.redis import RedisClient
from infra.settings import Settings
from sinks import photos
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines, pulled_authors, read_page

#: Extra candidates fetched per round, so a few filtered entries need no second round.
SLACK = 10
MAX_ROUNDS = 5


@dataclass
class FeedPage:
    """A page of feed ids and what was read to decide them (reused to hydrate it)."""

    ids: list[int]
    following: frozenset[int]
    photos: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The last candidate examined: the next page starts below it.
    last_seen: int | None = None
    exhausted: bool = False


class FeedReader:
    """Reads home feeds; one instance per process (it caches the pull-author set).

    ``pull_refresh_seconds``: how long the set of pull authors is cached. A new pull
    author shows up in feeds at most that much later (the set only grows, and it is
    small: accounts that once had more than ``celebrity_threshold`` followers).
    """

    def __init__(self, session: Session, redis: RedisClient, settings: Settings, *,
                 pull_refresh_seconds: float = 5.0, views: Views | None = None) -> None:
        t = settings.timelines
        self.session = session
        self.views = views or Views(session, redis)
        self.hot = RedisTimelines(redis, t.redis_cap)
        self.timelines = Timelines(session, redis, self.hot,
                                   inactive_after_days=t.inactive_after_days)
        self.pull_refresh_seconds = pull_refresh_seconds
        self._pulled: set[int] = set()
        self._pulled_at = float("-inf")

    async def home(self, user_id: int, limit: int = 50, before: int | None = None) -> list[int]:
        """Up to ``limit`` photo ids of ``user_id``'s home feed, newest first.

        ``before``: only photos older than this id (the last id of the previous page).
        """
        return (await self.page(user_id, limit, before)).ids

    async def page(self, user_id: int, limit: int = 50, before: int | None = None) -> FeedPage:
        """Like :meth:`home`, with the following set and photo rows it read."""
        if limit <= 0:
            return FeedPage([], frozenset(), exhausted=True)
        _, followees = await asyncio.gather(self._ensure_hot(user_id),
                                            self.views.following(user_id))
        visible = followees | {user_id}
        pulled = sorted((await self._pull_authors()) & followees)
        page = FeedPage([], followees)
        deleted: list[int] = []
        cursor = before
        for _ in range(MAX_ROUNDS):
            want = limit - len(page.ids) + SLACK
            candidates = await self._candidates(user_id, want, cursor, pulled)
            if not candidates:
                page.exhausted = True
                break
            rows = await self.views.photos(candidates)
            for pid in candidates:
                row = rows.get(pid)
                if row is None:
                    continue
                if row["status"] == photos.STATUS_READY and row["owner"] in visible:
                    if len(page.ids) < limit:
                        page.ids.append(pid)
                        page.photos[pid] = row
                        page.last_seen = pid
                elif row["status"] == photos.STATUS_DELETED:
                    deleted.append(pid)
            if len(page.ids) >= limit:
                break
            cursor = page.last_seen = candidates[-1]
            if len(candidates) < want:
                page.exhausted = True
                break
        if deleted:
            await self.timelines.forget(user_id, deleted, datetime.now(UTC))
        return page

    async def _ensure_hot(self, user_id: int) -> None:
        now = time.time()
        previous = await self.timelines.touch(user_id, now)
        if self.timelines.is_inactive(previous, now) or not await self.hot.exists(user_id):
            await self.timelines.rebuild(user_id)

    async def _candidates(self, user_id: int, want: int, before: int | None,
                          pulled: list[int]) -> list[int]:
        """The newest ``want`` ids older than ``before`` over every source, deduplicated."""
        pushed, pulled_ids = await asyncio.gather(self._pushed(user_id, want, before),
                                                  self.views.recent(pulled, want, before))
        found = [pushed, *pulled_ids]
        return sorted({pid for ids in found for pid in ids}, reverse=True)[:want]

    async def _pushed(self, user_id: int, want: int, before: int | None) -> list[int]:
        """Redis first; past its end (the cap), the durable timeline takes over."""
        ids = await self.hot.read(user_id, want, before)
        if len(ids) < want:
            after = ids[-1] if ids else before
            more = await read_page(self.session, user_id, want - len(ids), after)
            ids += [e.photo_id for e in more]
        return ids

    async def _pull_authors(self) -> set[int]:
        now = time.monotonic()
        if now - self._pulled_at >= self.pull_refresh_seconds:
            self._pulled = await pulled_authors(self.session)
            self._pulled_at = now
        return self._pulled
