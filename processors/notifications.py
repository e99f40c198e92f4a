"""photostream-notifications: each user's grouped inbox, mentions and live-stream events.

Consumes follows (requested, approved, rejected, removed), likes, comments, the photo
topics (captions, for mentions) and the fan-out tasks (the "N new posts" hint, and the
removal of a deleted post for the Mastodon stream's ``delete``), and
keeps the inbox of :mod:`sinks.notifications` (durable) and :mod:`sinks.notification_hot`
(hot copy, unread count, live stream).

Rules
    * Nobody is notified of their own action (liking one's own photo, mentioning oneself).
    * Idempotent: entry ids are derived from the event (:func:`sinks.notifications.entry_id`)
      or from a key already bound to one, and actors are counted once per entry, so a
      redelivered event never makes a second entry nor counts twice. (It may repeat a
      live event; clients key entries by id.)
    * Grouped: likes of one photo, comments on one photo and new followers each form one
      entry per ``notify.group_window_seconds`` window (aligned to the epoch), naming the
      newest ``notify.latest_actors`` actors and counting all: a photo liked 10 000 times
      in a minute is one entry whose count moves.
    * A like withdrawn **before it was seen** (the entry is newer than the recipient's
      read mark) is taken out of its entry, and an entry left without actors disappears
      (from Cassandra, the hot copy, the unread count, and live as a removal). **After it
      was seen** the entry stays as the recipient saw it: seen history is not rewritten,
      nothing is pushed; the like is simply gone from the photo's likers.
    * A follow of a public account is a new follower at once (grouped); one of a private
      account is a request: one entry each with a state (pending, accepted, declined) that
      approval or rejection updates in place; the requester gets "accepted" on approval.
      A request withdrawn (``follow.removed``) while pending disappears.
    * Mentions (``@username``, the first ``notify.max_mentions`` distinct ones) are parsed
      here from captions (``photo.processed``, ``photo.caption_edited``) and comments,
      indexed for search, and notified once per (photo or comment, user), only to a user
      who may see the photo: its owner, anyone for a public account, an approved follower
      for a private one (:meth:`NotificationsProcessor._may_see`, the same rule as
      ``api.visibility.can_view_account`` over the same stored data). Unknown names stay
      plain text.
    * Who may hear from whom at all is :func:`sinks.notification_audience.audible_actors`
      (blocks and mutes plug in there).

Deleted photos are not chased here: the read API hides every entry whose photo its
reader may not see (deleted included), so a deletion needs no fan-out of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any, ClassVar

from processors.runtime import Message
from processors.stores import StoreProcessor
from schemas.engagement import CommentAdded, LikeAdded, LikeRemoved
from schemas.fanout import FanoutChunk
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.media import PhotoCaptionEdited, PhotoProcessed
from schemas.topics import NOTIFICATIONS_GROUP
from sinks import graph, users
from sinks import notifications as inbox
from sinks.mention_text import mentioned_usernames
from sinks.notification_audience import audible_actors
from sinks.notification_hot import HotInbox
from sinks.notifications import Entry

#: Actors an entry keeps beyond those it shows.
_SPARE_ACTORS = 5
#: Group bindings and entries remembered per process (least recently written forgotten).
_CACHED = 50_000


class NotificationsProcessor(StoreProcessor):
    name: ClassVar[str] = NOTIFICATIONS_GROUP.group_id
    topics: ClassVar[tuple[str, ...]] = NOTIFICATIONS_GROUP.topic_names
    uses_redis: ClassVar[bool] = True
    #: Every partition of a topic at once (order within each is kept).
    partition_concurrency: ClassVar[int] = 16
    #: Small batches: entries reach the hot copy (and the streams) at each flush.
    max_records: ClassVar[int] = 100

    async def start(self) -> None:
        await super().start()
        cfg = self.settings.notify
        self.hot = HotInbox(self.redis, cap=cfg.hot_entries, maxlen=cfg.stream_maxlen)
        self.ttl = cfg.retention_days * 24 * 3600
        self.window = cfg.group_window_seconds
        # A few more than are shown: after a withdrawn like the next newest is known
        # (refilling from the actor rows gives any actors, not the newest).
        self.shown = cfg.latest_actors + _SPARE_ACTORS
        self._groups: dict[tuple[int, str], int] = {}
        self._entries: dict[tuple[int, int], tuple[Entry, int]] = {}
        #: Entries changed since the last flush (never forgotten before it).
        self._dirty: dict[tuple[int, int], tuple[Entry, int]] = {}

    async def handle(self, message: Message) -> None:
        event = message.event
        p = event.payload
        at = event.occurred_at
        if isinstance(p, LikeAdded):
            await self._grouped(p.owner_id, inbox.LIKE, p.photo_id, p.user_id, at,
                                photo_id=p.photo_id, source=_like_source(p))
        elif isinstance(p, LikeRemoved):
            await self._withdraw(p.owner_id, _like_source(p), p.user_id)
        elif isinstance(p, CommentAdded):
            await self._grouped(p.owner_id, inbox.COMMENT, p.photo_id, p.user_id, at,
                                photo_id=p.photo_id, comment_id=p.comment_id,
                                excerpt=inbox.excerpt(p.text))
            await self._mentions(p.text, p.user_id, p.owner_id, p.photo_id, p.comment_id, at)
        elif isinstance(p, PhotoProcessed | PhotoCaptionEdited):
            await self._mentions(f"{p.title}\n{p.caption}", p.owner_id, p.owner_id,
                                 p.photo_id, 0, at)
        elif isinstance(p, FollowRequested):
            await self._requested(p.follower_id, p.followee_id, at)
        elif isinstance(p, FollowApproved):
            await self._approved(p.follower_id, p.followee_id, at)
        elif isinstance(p, FollowRejected | FollowRemoved):
            await self._request_closed(p.follower_id, p.followee_id,
                                       withdrawn=isinstance(p, FollowRemoved))
        elif isinstance(p, FanoutChunk) and p.action == "add":
            readers = [uid for uid in p.follower_ids if uid != p.owner_id]
            await self.hot.feed_hints(readers, p.photo_id)
            if p.owner_id in p.follower_ids:  # the author's own home feed (Mastodon's update)
                await self.hot.own_post_hint(p.owner_id, p.photo_id)
        elif isinstance(p, FanoutChunk):  # a removal: the Mastodon stream's "delete"
            await self.hot.delete_hints(p.follower_ids, p.photo_id)

    async def _audible(self, recipient: int, actor: int) -> bool:
        if recipient == actor:
            return False  # nobody is told about their own action
        return actor in await audible_actors(self.session, self.redis, recipient, [actor])

    async def _store(self, recipient: int, entry: Entry) -> None:
        await inbox.put_entry(self.session, recipient, entry, self.ttl)
        await self.hot.put(recipient, entry)

    # -- grouped entries: likes, comments, new followers ------------------------------

    async def _grouped(self, recipient: int, kind: str, subject: int, actor: int,
                       at: datetime, *, photo_id: int | None = None,
                       comment_id: int | None = None, excerpt: str = "",
                       source: str | None = None) -> None:
        if not await self._audible(recipient, actor):
            return
        session = self.session
        group = f"g:{kind}:{subject}:{int(at.timestamp()) // self.window}"
        async with self.lock(recipient):
            nid, opened = await self._group_entry(recipient, group, at)
            known = self._dirty.get((recipient, nid)) or self._entries.get((recipient, nid))
            if opened:  # nothing stored under it yet
                counted, count, stored = False, 0, None
            elif known is not None:  # this process wrote it last (one writer per group)
                counted = await inbox.has_actor(session, recipient, nid, actor)
                count, stored = known[1], dataclasses.replace(known[0])
            else:
                (counted, count), stored = await asyncio.gather(
                    inbox.actor_state(session, recipient, nid, actor),
                    inbox.get_entry(session, recipient, nid))
            entry = stored or Entry(notification_id=nid, type=kind, photo_id=photo_id)
            if not counted:
                count += 1
            newer = entry.updated_at is None or at >= entry.updated_at
            others = [a for a in entry.actor_ids if a != actor]
            if newer:
                entry.actor_ids = [actor, *others][:self.shown]
            elif actor not in entry.actor_ids:
                entry.actor_ids = [*others, actor][:self.shown]
            entry.actor_count = max(count, len(entry.actor_ids))
            if comment_id is not None and (entry.comment_id or 0) <= comment_id:
                entry.comment_id, entry.excerpt = comment_id, excerpt
            if newer:
                entry.updated_at = at
            # Independent idempotent writes, together: whichever a crash leaves out, the
            # redelivered event redoes (the same event opens the same id; the actor row
            # decides whether it counts again). The entry itself is written by flush(),
            # once per batch however many events changed it (a viral photo's likes).
            writes = []
            if opened:
                writes.append(inbox.bind_key(session, recipient, group, nid, self.ttl))
            if source is not None:
                writes.append(inbox.bind_key(session, recipient, source, nid, self.ttl))
            if not counted:
                writes.append(inbox.count_actor(session, recipient, nid, actor, at, count,
                                                self.ttl))
            self._entries.pop((recipient, nid), None)  # unknown until every write is in
            await asyncio.gather(*writes)
            self._remember(self._groups, (recipient, group), nid)
            self._remember(self._entries, (recipient, nid),
                           (dataclasses.replace(entry), count))
            self._dirty[(recipient, nid)] = (dataclasses.replace(entry), count)

    async def flush(self) -> None:
        """Write the entries this batch changed (Cassandra, then the hot copy and the live
        stream), before the runtime commits the batch's offsets.

        Deferred to here because an entry's row is rewritten whole by each event: a
        photo liked 750 times in a batch is one write, not 750. A crash before this
        point redelivers the batch; the actor rows (written per event) then say who is
        counted, and the count is their static column, so the entry comes out the same.
        """
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        gate = asyncio.Semaphore(64)

        async def write(recipient: int, entry: Entry) -> None:
            async with gate:
                await inbox.put_entry(self.session, recipient, entry, self.ttl)
                await self.hot.put(recipient, entry)
        try:
            await asyncio.gather(*(write(recipient, entry)
                                   for (recipient, _nid), (entry, _count) in dirty.items()))
        except BaseException:
            self._dirty = {**dirty, **self._dirty}  # retried by the runtime
            raise

    async def _group_entry(self, recipient: int, group: str, at: datetime) -> tuple[int, bool]:
        """The entry of a group key and whether it is opened by this event (then nothing is
        stored under it yet). Bindings are remembered: one writer per group, so a
        binding never changes while this process owns the partition."""
        cached = self._groups.get((recipient, group))
        if cached is not None:
            return cached, False
        nid = await inbox.entry_for_key(self.session, recipient, group)
        if nid is None:
            return inbox.entry_id(at, group), True
        return nid, False

    @staticmethod
    def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
        cache.pop(key, None)
        cache[key] = value
        if len(cache) > _CACHED:
            cache.pop(next(iter(cache)))  # the least recently written

    async def _withdraw(self, recipient: int, source: str, actor: int) -> None:
        """A like taken back: out of its entry if unseen (module doc), else left alone."""
        session = self.session
        async with self.lock(recipient):
            nid = await inbox.entry_for_key(session, recipient, source)
            if nid is None:
                return
            self._entries.pop((recipient, nid), None)  # changes below: read it afresh
            pending = self._dirty.get((recipient, nid))
            if nid <= await inbox.read_marker(session, recipient):
                await inbox.unbind_key(session, recipient, source)
                return  # seen: the entry stays as it was seen
            counted, count = await inbox.actor_state(session, recipient, nid, actor)
            if counted:
                left = max(0, count - 1)
                entry = (dataclasses.replace(pending[0]) if pending is not None
                         else await inbox.get_entry(session, recipient, nid))
                # The entry first, then the actor row: a crash between them is redone
                # by the redelivery, which still finds the actor counted.
                if entry is not None and left == 0:
                    await inbox.delete_entry(session, recipient, nid)
                    await self.hot.remove(recipient, nid)
                elif entry is not None:
                    entry.actor_ids = [a for a in entry.actor_ids if a != actor]
                    if len(entry.actor_ids) < min(self.shown, left):
                        more = await inbox.some_actors(session, recipient, nid,
                                                       self.shown + 1)
                        entry.actor_ids += [a for a in more
                                            if a != actor and a not in entry.actor_ids]
                        entry.actor_ids = entry.actor_ids[:self.shown]
                    entry.actor_count = left
                    await self._store(recipient, entry)
                self._dirty.pop((recipient, nid), None)  # written here, just now
                await inbox.uncount_actor(session, recipient, nid, actor, left, self.ttl)
            await inbox.unbind_key(session, recipient, source)

    # -- follow requests -----------------------------------------------------------------

    async def _requested(self, follower: int, followee: int, at: datetime) -> None:
        if not await users.is_private(self.session, followee):
            # A public account is followed at once (the graph processor makes the edge
            # with no approval, so none will come): a new follower, not a request.
            await self._grouped(followee, inbox.FOLLOW, 0, follower, at)
            return
        if not await self._audible(followee, follower):
            return
        key = _request_key(follower)
        nid = inbox.entry_id(at, key)
        async with self.lock(followee):
            await inbox.bind_key(self.session, followee, key, nid, self.ttl)
            await self._store(followee, Entry(
                notification_id=nid, type=inbox.FOLLOW_REQUEST, actor_ids=[follower],
                actor_count=1, state=inbox.PENDING, updated_at=at))

    async def _approved(self, follower: int, followee: int, at: datetime) -> None:
        """An approval of a pending request, or (no request) a public account's follow."""
        session = self.session
        accepted = inbox.entry_id(at, f"s:{inbox.FOLLOW_ACCEPTED}:{followee}")
        request = await self._pending_request(follower, followee)
        redelivered = await inbox.get_entry(session, follower, accepted) is not None
        if request is None and not redelivered:
            await self._grouped(followee, inbox.FOLLOW, 0, follower, at)
            return
        if not redelivered and await self._audible(follower, followee):
            # The requester's entry first: once the request reads "accepted", a
            # redelivery would no longer know this was an approval.
            await self._store(follower, Entry(
                notification_id=accepted, type=inbox.FOLLOW_ACCEPTED, actor_ids=[followee],
                actor_count=1, updated_at=at))
        if request is not None:
            request.state, request.updated_at = inbox.ACCEPTED, at
            await self._store(followee, request)

    async def _request_closed(self, follower: int, followee: int, *, withdrawn: bool) -> None:
        request = await self._pending_request(follower, followee)
        if request is None:
            return
        async with self.lock(followee):
            if withdrawn:
                await inbox.delete_entry(self.session, followee, request.notification_id)
                await self.hot.remove(followee, request.notification_id)
            else:
                request.state = inbox.DECLINED
                await self._store(followee, request)

    async def _pending_request(self, follower: int, followee: int) -> Entry | None:
        nid = await inbox.entry_for_key(self.session, followee, _request_key(follower))
        if nid is None:
            return None
        entry = await inbox.get_entry(self.session, followee, nid)
        return entry if entry is not None and entry.state == inbox.PENDING else None

    # -- mentions ------------------------------------------------------------------------

    async def _mentions(self, text: str, author: int, owner: int, photo_id: int,
                        comment_id: int, at: datetime) -> None:
        session = self.session
        for name in mentioned_usernames(text, self.settings.notify.max_mentions):
            mentioned = await users.user_id_for(session, name)
            if mentioned is None or mentioned == author:
                continue  # unknown: plain text; yourself: nothing to tell
            await inbox.record_mention(session, mentioned, photo_id, comment_id, author,
                                       self.ttl)
            if comment_id and mentioned == owner:
                continue  # the owner hears of the comment itself
            if not await self._may_see(mentioned, owner):
                continue
            if not await self._audible(mentioned, author):
                continue
            key = f"s:{inbox.MENTION}:{photo_id}:{comment_id}"
            async with self.lock(mentioned):
                if await inbox.entry_for_key(session, mentioned, key) is not None:
                    continue  # told already (a redelivery, or an edit keeping the mention)
                nid = inbox.entry_id(at, key)
                await self._store(mentioned, Entry(
                    notification_id=nid, type=inbox.MENTION, photo_id=photo_id,
                    comment_id=comment_id or None,
                    excerpt=inbox.excerpt(text.strip()), actor_ids=[author], actor_count=1,
                    updated_at=at))
                await inbox.bind_key(session, mentioned, key, nid, self.ttl)

    async def _may_see(self, viewer: int, owner: int) -> bool:
        """Whether ``viewer`` may see ``owner``'s posts: ``api.visibility``'s account rule
        (owner, public, or approved follower; an unknown account counts as private)."""
        if viewer == owner:
            return True
        profile = await users.get_user(self.session, owner)
        if profile is None:
            return False
        return not profile.private or await graph.is_following(self.session, viewer, owner)


def _like_source(p: LikeAdded | LikeRemoved) -> str:
    return f"like:{p.photo_id}:{p.user_id}"


def _request_key(follower: int) -> str:
    return f"s:{inbox.FOLLOW_REQUEST}:{follower}"
