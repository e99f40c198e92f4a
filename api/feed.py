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
   someone the reader follows *now* (approved edges: a pending request is not one),
   and neither blocked either way nor muted by the reader
   (:func:`api.visibility.feed_authors`).
   This is the backstop for every race between the separately consumed topics
   (deletions, unfollows, private accounts): a feed never shows a deleted photo or
   a post of an account the reader does not follow.
   Deleted entries found on the way are removed from both timelines (a deletion is
   permanent, so the repair is always right).

Degraded (a store unreachable, see :mod:`infra.degraded`; the page is still exact
about visibility, because the rows deciding it come from the cache or from Cassandra
and never from a guess):

* Redis down: the durable timeline serves the whole page (slower), activity is not
  recorded, the caches read Cassandra directly.
* Cassandra down: the hot timeline serves what it holds; the durable continuation
  past it, the activity write and the pull-author refresh are skipped (the last known
  pull authors stay). A page that needs Cassandra anyway (a missing hot timeline to
  rebuild, an uncached photo row) fails with the driver's error: 503.

Cost per call when the caches are warm: Redis only, in a handful of pipelined round
trips (activity and timeline, the following list with the reader's blocks and mutes,
the pulled authors' recent photos, the photo rows).

Blocks and mutes are filtered here, at read, rather than removed from the timelines
when they are applied. A block does remove entries too (its two unfollows go through
the fan-out's usual removal), but that lands a moment after the block; the read filter
closes that window. A mute removes nothing (unmuting must bring the posts back, which
a removal could not without a backfill), so the read filter is the mute. The filter
costs one more ``MGET`` in the pipeline that already reads the following list, and a
set difference per page: measured by ``python -m bench.blocks``.

The following list, photo rows and recent photos come from the read-through caches
of :mod:`api.views` (invalidated by the processors on the events that change them);
on a miss they are read from Cassandra and cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from api.views import Views
from api.visibility import feed_authors
from infra import degraded
from infra.connect.outages import CASSANDRA, CASSANDRA_ERRORS, REDIS, REDIS_ERRORS
from infra.connect.redis import RedisClient
from infra.settings import Settings
from sinks import photos
from sinks.blocks import NONE, Relations
from sinks.durable_timelines import read_page
from sinks.pull_authors import pulled_authors
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines

#: Extra candidates fetched per round, so a few filtered entries need no second round.
SLACK = 10
MAX_ROUNDS = 5


@dataclass
class FeedPage:
    """A page of feed ids and what was read to decide them (reused to hydrate it)."""

    ids: list[int]
    following: frozenset[int]
    relations: Relations
    photos: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The last candidate examined: the next page starts below it.
    last_seen: int | None = None
    exhausted: bool = False
    #: A known reader's hot timeline was cold (evicted, or the reader back from
    #: inactivity) and was rebuilt from the durable one for this page (Mastodon answers
    #: such a page 206: "your home feed is being prepared").
    rebuilt: bool = False


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
        self._pulled_known = False
        self._refresh: asyncio.Future[None] | None = None
        self._pulled_list: tuple[set[int] | None, str] = (None, "")
        self._pulled_at = float("-inf")

    async def home(self, user_id: int, limit: int = 50, before: int | None = None) -> list[int]:
        """Up to ``limit`` photo ids of ``user_id``'s home feed, newest first.

        ``before``: only photos older than this id (the last id of the previous page).
        """
        return (await self.page(user_id, limit, before)).ids

    async def page(self, user_id: int, limit: int = 50, before: int | None = None) -> FeedPage:
        """Like :meth:`home`, with the following set and photo rows it read."""
        if limit <= 0:
            return FeedPage([], frozenset(), NONE, exhausted=True)
        (use_hot, rebuilt), (followees, relations) = await asyncio.gather(
            self._ensure_hot(user_id), self.audience(user_id))
        visible = feed_authors(user_id, followees, relations)
        pulled = sorted((await self.pull_authors()) & (visible - {user_id}))
        page = FeedPage([], followees, relations, rebuilt=rebuilt)
        deleted: list[int] = []
        cursor = before
        for _ in range(MAX_ROUNDS):
            want = limit - len(page.ids) + SLACK
            candidates = await self._candidates(user_id, want, cursor, pulled, use_hot)
            if not candidates:
                page.exhausted = True
                break
            rows = await self.views.photos(candidates)
            for pid in candidates:
                row = rows.get(pid)
                if row is None:
                    continue
                if in_feed(row, visible):
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
            await self.forget_deleted(user_id, deleted)
        return page

    async def audience(self, user_id: int) -> tuple[frozenset[int], Relations]:
        """Whom the reader follows, and its blocks and mutes (one Redis round trip)."""
        return await self.views.social(user_id)

    async def _ensure_hot(self, user_id: int) -> tuple[bool, bool]:
        """Mark the reader active, rebuild the hot timeline if needed. Returns whether
        the hot timeline serves the page (False when Redis is unreachable: the durable
        timeline then does) and whether a known reader's timeline had to be rebuilt (a
        reader's very first read builds it, which is no rebuild)."""
        rebuilt = False
        try:
            now = time.time()
            previous = await degraded.or_else(self.timelines.touch(user_id, now), CASSANDRA,
                                              _unknown)
            if self.timelines.is_inactive(previous, now) or not await self.hot.exists(user_id):
                await self.timelines.rebuild(user_id)
                rebuilt = previous is not None
        except REDIS_ERRORS as exc:
            if not degraded.survived(exc, REDIS):
                raise
            return False, rebuilt
        return True, rebuilt

    async def _candidates(self, user_id: int, want: int, before: int | None,
                          pulled: list[int], use_hot: bool = True) -> list[int]:
        """The newest ``want`` ids older than ``before`` over every source, deduplicated."""
        pushed, pulled_ids = await asyncio.gather(self._pushed(user_id, want, before, use_hot),
                                                  self.views.recent(pulled, want, before))
        found = [pushed, *pulled_ids]
        return sorted({pid for ids in found for pid in ids}, reverse=True)[:want]

    async def _pushed(self, user_id: int, want: int, before: int | None,
                      use_hot: bool = True) -> list[int]:
        """Redis first; past its end (the cap), the durable timeline takes over.

        Redis unreachable: the durable timeline serves it all. Cassandra unreachable
        after Redis answered: what Redis holds (the page may end early).
        """
        try:
            ids = await self.hot.read(user_id, want, before) if use_hot else []
        except REDIS_ERRORS as exc:
            if not degraded.survived(exc, REDIS):
                raise
            use_hot, ids = False, []
        if len(ids) < want:
            after = ids[-1] if ids else before
            try:
                more = await read_page(self.session, user_id, want - len(ids), after)
            except CASSANDRA_ERRORS as exc:
                if not use_hot or not degraded.survived(exc, CASSANDRA):
                    raise
                more = []
            ids += [e.photo_id for e in more]
        return ids

    async def pull_authors(self) -> set[int]:
        """Refreshed every ``pull_refresh_seconds``; the last known set while Cassandra
        is unreachable (the set only grows: a stale one misses a new author a while).

        One refresh at a time, in the background once the set is known: every request
        arriving while it was due used to start its own (16 Cassandra reads each), a
        herd that stalled a loaded worker every ``pull_refresh_seconds`` (issue 22).
        """
        if time.monotonic() - self._pulled_at >= self.pull_refresh_seconds:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.ensure_future(self._refresh_pulled())
            if self._pulled_known:
                return self._pulled
            await asyncio.shield(self._refresh)
        return self._pulled

    async def _refresh_pulled(self) -> None:
        self._pulled = await degraded.or_else(pulled_authors(self.session), CASSANDRA,
                                              self._last_pulled)
        self._pulled_at = time.monotonic()  # also paces retries while Cassandra is down
        self._pulled_known = True

    async def pull_author_list(self) -> str:
        """:meth:`pull_authors` as decimal ids joined by commas (for a script argument),
        joined once per refresh."""
        pulled = await self.pull_authors()
        if self._pulled_list[0] is not pulled:
            self._pulled_list = (pulled, ",".join(map(str, sorted(pulled))))
        return self._pulled_list[1]

    async def _last_pulled(self) -> set[int]:
        return self._pulled

    async def forget_deleted(self, user_id: int, deleted: list[int]) -> None:
        """Drop deleted entries from both timelines: a repair, skipped (and tried again
        by a later read) while either store is unreachable."""
        try:
            await self.timelines.forget(user_id, deleted, datetime.now(UTC))
        except (*REDIS_ERRORS, *CASSANDRA_ERRORS) as exc:
            if not degraded.survived(exc, REDIS, CASSANDRA):
                raise


def in_feed(row: Mapping[str, Any], authors: frozenset[int] | set[int]) -> bool:
    """Whether a timeline entry belongs on the page: a ready photo of one of ``authors``
    (the reader and whom they follow now). The backstop for races between topics; the
    cards are then checked against :mod:`api.visibility` like every other list."""
    return bool(row["status"] == photos.STATUS_READY and row["owner"] in authors)


async def _unknown() -> float | None:
    """No known last activity: the reader counts as active (nothing is rebuilt for it)."""
    return None
