"""The live side of one API process: who has a stream open, woken from Redis pub/sub.

Each process holds ONE subscription to :data:`sinks.notification_hot.WAKE`, on its own
connection (a subscribed connection can do nothing else, and must not share the read
client's short timeouts); the notifications processor publishes a user id there after
each XADD to that user's stream. The hub sets the wake event of every stream this
process holds for that user, and the stream reads its Redis Stream from where it left
off. So an idle stream costs an ``asyncio.Event`` and a suspended coroutine, no Redis
connection and no polling; a burst to one user wakes its stream once per read.

Every process receives every wake (one channel): at 200 events/s that is nothing; a
deployment with many API processes and millions of users would shard the channel by
user id (``SSUBSCRIBE`` on Redis Cluster) so each process hears only its users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from infra.settings import Settings
from sinks.notification_hot import WAKE

log = logging.getLogger(__name__)


class StreamsFull(Exception):
    """This process holds ``notify.max_streams`` open streams already."""


class LiveHub:
    """Open streams of this process by user, and the one subscriber that wakes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
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
