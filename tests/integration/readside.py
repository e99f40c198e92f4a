"""A live read side for tests: the real processors and the real read API over HTTP.

``ReadWorld`` runs the graph, metadata, engagement and fan-out processors as in-process
Runners against the real Kafka/Cassandra/Redis, serves the read API with uvicorn on a
free loopback port, and offers the few verbs tests need to build a social network by
publishing real events (users, follows, photos, likes, comments, stories).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import uvicorn

from api.app import create_app
from infra.connect.publisher import Publisher
from infra.http.auth import mint
from infra.settings import Settings
from operate.stack.base import free_port
from processors.registry import build
from processors.runtime import Runner
from schemas.blocks import BlockAdded, BlockRemoved, MuteAdded, MuteRemoved
from schemas.engagement import CommentAdded, LikeAdded, StoryPosted
from schemas.envelope import make
from schemas.graph import FollowApproved, FollowRemoved, FollowRequested
from schemas.media import Derivative, PhotoCaptionEdited, PhotoDeleted, PhotoProcessed, Placeholder
from schemas.payload import Payload
from schemas.users import UserProfileUpdated, UserRegistered
from sinks.media_keys import derivative_key
from tests.integration.waiting import eventually
from tests.support.ids import time_id

PROCESSORS = ("graph", "following", "metadata", "engagement", "fanout", "fanout-worker",
              "trending", "blocks")
DERIVATIVES: tuple[tuple[Literal["thumb", "small", "medium", "large"], int, int], ...] = (
    ("thumb", 150, 150), ("small", 320, 240), ("medium", 640, 480), ("large", 1080, 810))

@dataclass
class Person:
    user_id: int
    username: str
    token: str
    private: bool = False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ReadWorld:
    settings: Settings
    base_url: str
    publisher: Publisher
    http: httpx.AsyncClient
    people: list[Person] = field(default_factory=list)

    async def publish(self, *payloads: Payload) -> None:
        await self.publisher.publish_many([make(p, producer="tests") for p in payloads])

    async def user(self, *, private: bool = False, prefix: str = "u") -> Person:
        user_id = random.getrandbits(62)
        name = f"{prefix}{user_id:x}"[:30]
        await self.publish(UserRegistered(user_id=user_id, username=name, display_name=name,
                                          bio="", private=private))
        person = Person(user_id, name, mint(user_id, self.settings), private)
        await eventually(lambda: self.ok(f"/v1/users/{user_id}", person), timeout=60)
        return person

    async def set_private(self, person: Person, private: bool) -> None:
        await self.publish(UserProfileUpdated(user_id=person.user_id, username=person.username,
                                              display_name=person.username, bio="",
                                              private=private))
        person.private = private

    async def follow(self, follower: Person, followee: Person, *, approve: bool = False,
                     wait: bool = True) -> None:
        await self.publish(FollowRequested(follower_id=follower.user_id,
                                           followee_id=followee.user_id))
        if approve:
            await self.publish(FollowApproved(follower_id=follower.user_id,
                                              followee_id=followee.user_id))
        if wait and (approve or not followee.private):
            await eventually(lambda: self.state(follower, followee, "following"))
        elif wait:
            await eventually(lambda: self.state(follower, followee, "requested"))

    async def unfollow(self, follower: Person, followee: Person) -> None:
        await self.publish(FollowRemoved(follower_id=follower.user_id,
                                         followee_id=followee.user_id))
        await eventually(lambda: self.state(follower, followee, "none"))

    async def block(self, who: Person, whom: Person, *, blocked: bool = True) -> None:
        """Publish ``block.added`` (or ``block.removed``); does not wait for it."""
        kind = BlockAdded if blocked else BlockRemoved
        await self.publish(kind(user_id=who.user_id, target_id=whom.user_id))

    async def mute(self, who: Person, whom: Person, *, muted: bool = True) -> None:
        kind = MuteAdded if muted else MuteRemoved
        await self.publish(kind(user_id=who.user_id, target_id=whom.user_id))

    async def state(self, viewer: Person, other: Person, want: str) -> bool:
        r = await self.get(f"/v1/users/{other.user_id}", viewer)
        return r.status_code == 200 and r.json()["follow_state"] == want

    async def photo(self, owner: Person, caption: str = "", *, wait: bool = True) -> int:
        photo_id = time_id()
        await self.publish(self.processed(photo_id, owner, caption))
        if wait:  # the row turns ready a moment before its caption is stored
            async def shown() -> bool:
                r = await self.get(f"/v1/photos/{photo_id}", owner)
                return r.status_code == 200 and r.json()["caption"] == caption
            await eventually(shown)
        return photo_id

    @staticmethod
    def processed(photo_id: int, owner: Person, caption: str) -> PhotoProcessed:
        return PhotoProcessed(
            photo_id=photo_id, owner_id=owner.user_id, media_kind="photo",
            original_width=1600, original_height=1200, duration_ms=None,
            derivatives=tuple(Derivative(name=n, key=derivative_key(photo_id, n), width=w,
                                         height=h, bytes=100, content_type="image/jpeg")
                              for n, w, h in DERIVATIVES),
            placeholder=Placeholder(dominant_color="#336699",
                                    blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
            caption=caption, title="", location=None)

    async def delete(self, owner: Person, photo_id: int) -> None:
        await self.publish(PhotoDeleted(photo_id=photo_id, owner_id=owner.user_id))

    async def edit_caption(self, owner: Person, photo_id: int, caption: str) -> None:
        await self.publish(PhotoCaptionEdited(photo_id=photo_id, owner_id=owner.user_id,
                                              caption=caption, title=""))

    async def like(self, who: Person, photo_id: int, owner: Person) -> None:
        await self.publish(LikeAdded(photo_id=photo_id, user_id=who.user_id,
                                     owner_id=owner.user_id))

    async def comment(self, who: Person, photo_id: int, owner: Person, text: str) -> int:
        comment_id = time_id()
        await self.publish(CommentAdded(comment_id=comment_id, photo_id=photo_id,
                                        owner_id=owner.user_id, user_id=who.user_id,
                                        text=text))
        return comment_id

    async def story(self, who: Person, media_key: str) -> int:
        story_id = time_id()
        await self.publish(StoryPosted(story_id=story_id, user_id=who.user_id,
                                       media_key=media_key, posted_at=datetime.now(UTC)))
        return story_id

    async def get(self, path: str, who: Person | None = None, **params: Any) -> httpx.Response:
        headers = who.auth if who is not None else {}
        return await self.http.get(path, headers=headers, params=params or None)

    async def ok(self, path: str, who: Person) -> bool:
        return (await self.get(path, who)).status_code == 200

    async def feed_ids(self, who: Person, **params: Any) -> list[int]:
        r = await self.get("/v1/feed", who, **params)
        assert r.status_code == 200, r.text
        return [int(item["photo_id"]) for item in r.json()["items"]]

    async def until(self, check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
        await eventually(check, timeout=timeout)


@asynccontextmanager
async def read_world(settings: Settings, *, celebrity_threshold: int = 3,
                     extra: tuple[str, ...] = ()) -> AsyncIterator[ReadWorld]:
    """Processors (:data:`PROCESSORS` and ``extra`` ones) + read API for the block."""
    settings = dataclasses.replace(settings, timelines=dataclasses.replace(
        settings.timelines, celebrity_threshold=celebrity_threshold))
    runners = [Runner(build(name, settings), settings, backoff=0.1)
               for name in PROCESSORS + extra]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           lifespan="on", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        async with Publisher(settings) as publisher, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield ReadWorld(settings, f"http://127.0.0.1:{port}", publisher, http)
    finally:
        server.should_exit = True
        for r in runners:
            r.stop()
        await asyncio.wait_for(asyncio.gather(serving, *tasks), timeout=60)
