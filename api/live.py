"""The live side of one API process: who has a stream open, woken from Redis pub/sub.

Each process holds ONE subscription to :data:`sinks.notification_hot.WAKE`, on its own
connection (a subscribed connection can do nothing else, and must not share the read
client's short timeouts); the notifications processor publishes a user id there after
each XADD to that user's stream. The hub sets the wake event of every stream this
process holds for that user, and the stream reads its Redis Stream from where it left
off. So an idle stream costs an ``asyncio.Event`` and a suspended coroutine, no Redis
connection and no polling; a burst to one user wakes its stream once per read.

Woken streams do not each talk to Redis: their reads are gathered for a few
milliseconds and sent as ONE pipelined round trip (:meth:`LiveHub.read`), and the entries
they got are hydrated together (:meth:`LiveHub.hydrate`: one batched read of photos and
profiles). A notification for 1 000 open streams is then a handful of round trips, not
thousands competing for the read client's connection pool.

Every process receives every wake (one channel): at 200 events/s that is nothing; a
deployment with many API processes and millions of users would shard the channel by
user id (``SSUBSCRIBE`` on Redis Cluster) so each process hears only its users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import redis.asyncio as aioredis

from api.notifications import Json, NotificationReader
from infra.settings import Settings
from sinks.notification_hot import WAKE, StreamRow
from sinks.notifications import Entry

Req = TypeVar("Req")
Res = TypeVar("Res")
#: How long a batch waits for more requests to join it.
_WINDOW_SECONDS = 0.005
_MAX_BATCH = 1_000
#: Stream entries read per stream and batch (a longer backlog continues next time).
STREAM_BATCH = 500
#: Failed reads in a row after which a stream ends (the client reconnects and resumes).
_MAX_FAILURES = 5
#: One batch of stream rows as the wire's chunks: (rows, unread count or None, read mark).
Translate = Callable[[list[StreamRow], int | None, int], Awaitable[list[bytes]]]


class _Batcher(Generic[Req, Res]):
    """Calls of ``run`` on lists of requests, made of the single requests awaiting it."""

    def __init__(self, run: Callable[[list[Req]], Awaitable[Sequence[Res]]]) -> None:
        self._run = run
        self._queue: list[tuple[Req, asyncio.Future[Res]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, request: Req) -> Res:
        future: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            await asyncio.sleep(_WINDOW_SECONDS)
            batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
            try:
                results = await self._run([request for request, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

log = logging.getLogger(__name__)


class StreamsFull(Exception):
    """This process holds ``notify.max_streams`` open streams already."""


class LiveHub:
    """Open streams of this process by user, and the one subscriber that wakes them."""

    def __init__(self, settings: Settings, reader: NotificationReader) -> None:
        self.settings = settings
        self.reader = reader
        self._reads: _Batcher[tuple[int, str], tuple[list[StreamRow], int | None, int]] = (
            _Batcher(self._read_many))
        self._hydrations: _Batcher[tuple[int, Sequence[Entry], int], list[Json]] = (
            _Batcher(reader.hydrate_many))
        self.max_streams = settings.notify.max_streams
        self.open = 0
        self._waiters: dict[int, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def reserve(self) -> None:
        """Count one more stream, or raise :class:`StreamsFull`."""
        if self.open >= self.max_streams:
            raise StreamsFull(f"{self.open} streams open on this process")
        self.open += 1

    def release(self) -> None:
        self.open = max(0, self.open - 1)

    async def subscribe(self, user_id: int) -> asyncio.Event:
        """A wake event for one stream of ``user_id`` (set whenever its Redis Stream grows)."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="notifications-wake")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 2.0)
        wake = asyncio.Event()
        self._waiters.setdefault(user_id, set()).add(wake)
        return wake

    def unsubscribe(self, user_id: int, wake: asyncio.Event) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(wake)
            if not waiters:
                del self._waiters[user_id]

    def wake(self, user_id: int) -> None:
        for event in self._waiters.get(user_id, ()):
            event.set()

    async def read(self, user_id: int, position: str
                   ) -> tuple[list[StreamRow], int | None, int]:
        """(entries after ``position``, unread count or None, read mark), batched."""
        return await self._reads((user_id, position))

    async def _read_many(self, reads: list[tuple[int, str]]
                         ) -> list[tuple[list[StreamRow], int | None, int]]:
        return await self.reader.hot.live_reads(reads, STREAM_BATCH)

    async def hydrate(self, user_id: int, entries: Sequence[Entry], marker: int) -> list[Json]:
        """:meth:`NotificationReader.hydrate`, batched with the other woken streams'."""
        return await self._hydrations((user_id, entries, marker))

    async def serve(self, viewer: int, wake: asyncio.Event, position: str,
                    translate: Translate, *, opening: Sequence[bytes] = (),
                    heartbeat: bytes = b": heartbeat\n\n") -> AsyncIterator[bytes]:
        """The body of one open stream: ``opening``, then a batch each time ``wake`` is
        set, from ``position`` on, written by ``translate`` (the native and the Mastodon
        streams differ only there).

        Coalesced: at most one batch per ``notify.coalesce_ms`` (what arrives meanwhile
        joins it); a full batch wakes itself for the rest. A failed read is retried from
        the same position with a growing pause; after a few in a row the stream ends and
        the client resumes from its last event id. The stream's slot and wake are given
        back however the body ends (a client gone, a cancelled task)."""
        cfg = self.settings.notify
        failures, sent_at = 0, 0.0
        try:
            for chunk in opening:
                yield chunk
            while True:
                try:
                    await asyncio.wait_for(wake.wait(), cfg.heartbeat_seconds)
                except TimeoutError:
                    yield heartbeat
                    continue
                pause = sent_at + cfg.coalesce_ms / 1000 - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                wake.clear()
                try:
                    rows, unread, marker = await self.read(viewer, position)
                    chunks = await translate(rows, unread, marker) if rows else []
                except Exception as exc:
                    failures += 1
                    if failures > _MAX_FAILURES:
                        log.warning("stream of %d ends after %r", viewer, exc)
                        return
                    wake.set()
                    await asyncio.sleep(min(5.0, 0.5 * failures))
                    continue
                failures = 0
                if not rows:
                    continue
                position = rows[-1][0]
                if len(rows) == STREAM_BATCH:
                    wake.set()  # more behind: the next batch follows after the pause
                for chunk in chunks:
                    yield chunk
                sent_at = time.monotonic()
        finally:
            self.release()
            self.unsubscribe(viewer, wake)

    async def _listen(self) -> None:
        """Subscribe and dispatch forever; after a lost connection, resubscribe and wake
        every stream (what was published meanwhile is in their Redis Streams)."""
        while True:
            client = aioredis.Redis.from_url(self.settings.redis.url, health_check_interval=30,
                                             socket_keepalive=True)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(WAKE)
                    self._subscribed.set()
                    for user_id in list(self._waiters):
                        self.wake(user_id)
                    while True:
                        message = await pubsub.get_message(timeout=30.0)
                        if message is not None and message["type"] == "message":
                            with contextlib.suppress(ValueError):
                                self.wake(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._subscribed.clear()
                log.warning("live streams: wake subscription lost (%r); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
