"""The warm feed page's fast path (api/feed_page.py): the same answer as the general path,
in two Redis commands, with an ETag that a 304 answers without building the page.

The API under test runs in-process (its own app, so the test can switch the fast path
off and get the general path's answer for the same request); the processors of the
read world build the network it reads. Round trips are counted on the Redis server
(``INFO commandstats``): two script calls per warm page, and nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI

from api.app import create_app
from infra.connect import redis as redis_connect
from infra.settings import Settings
from operate.ops.lag import consumer_lag
from tests.integration.readside import PROCESSORS, Person, ReadWorld, read_world

pytestmark = pytest.mark.stack


@dataclass
class Scene:
    world: ReadWorld
    app: FastAPI
    api: httpx.AsyncClient
    reader: Person
    author: Person
    star: Person
    photos: list[int]

    async def feed(self, fast: bool = True, **params: Any) -> httpx.Response:
        pages = self.app.state.pages
        if not fast:
            self.app.state.pages = None
        try:
            return await self.api.get("/v1/feed", headers=self.reader.auth, params=params)
        finally:
            self.app.state.pages = pages


@pytest.fixture(scope="module")
async def scene(stack: Settings) -> AsyncIterator[Scene]:
    async with read_world(stack) as world:
        reader, author, star = (await world.user(prefix="ffr"), await world.user(prefix="ffa"),
                                await world.user(prefix="ffs"))
        fans = [await world.user(prefix="fff") for _ in range(3)]
        for fan in [reader, *fans]:  # 4 followers: above the world's threshold of 3
            await world.follow(fan, star)
        await world.follow(reader, author)
        photos = []
        for i in range(4):
            photos.append(await world.photo(author, f"pushed {i}"))
            photos.append(await world.photo(star, f"pulled {i}"))
        gone = await world.photo(author, "deleted")
        await world.like(reader, photos[0], author)
        await world.delete(author, gone)
        expected = sorted(photos, reverse=True)

        async def settled() -> bool:
            r = await world.get("/v1/feed", reader, limit=20)
            items = r.json()["items"] if r.status_code == 200 else []
            return ([int(i["photo_id"]) for i in items] == expected
                    and items[-1]["liked_by_me"] is True)
        await world.until(settled)
        app = create_app(stack)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            yield Scene(world, app, api, reader, author, star, expected)


async def test_fast_pages_equal_the_general_paths(scene: Scene) -> None:
    cursor: str | None = None
    seen: list[int] = []
    for _ in range(4):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        fast, general = await scene.feed(**params), await scene.feed(fast=False, **params)
        assert fast.status_code == general.status_code == 200, (fast.text, general.text)
        assert "etag" in fast.headers, "the fast path did not serve the page"
        assert fast.json() == general.json()
        seen += [int(i["photo_id"]) for i in fast.json()["items"]]
        cursor = fast.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == scene.photos  # the pulled star's posts merged, the deleted one gone


async def test_a_warm_page_is_two_redis_round_trips(scene: Scene, stack: Settings) -> None:
    """Counted by the server (MONITOR): commands clients sent, not those scripts ran."""
    await scene.feed()  # warm
    # The world's processors share this Redis: let them finish what earlier tests left on
    # their topics (trending has a backlog of likes after the engagement tests), so what
    # MONITOR sees is the page's own commands.
    await _processors_idle(stack)
    sent = []
    for _ in range(5):  # the minimum: a processor may send a command meanwhile
        sent.append(await _sent_during(stack, scene.feed))
    best = min(sent, key=len)
    print(f"Redis commands sent for a warm feed page: {best}")
    assert best == ["EVALSHA", "EVALSHA"]


async def test_etag_304_and_a_new_one_after_a_change(scene: Scene) -> None:
    first = await scene.feed()
    etag = first.headers["etag"]
    again = await scene.api.get("/v1/feed", headers={**scene.reader.auth,
                                                     "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    await scene.world.like(scene.reader, scene.photos[1], scene.star)

    async def changed() -> bool:
        r = await scene.api.get("/v1/feed", headers={**scene.reader.auth,
                                                     "If-None-Match": etag})
        return r.status_code == 200 and r.headers["etag"] != etag
    await scene.world.until(changed)


async def _processors_idle(stack: Settings, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while sum(g.total_lag for g in await consumer_lag(stack, list(PROCESSORS))):
        assert time.monotonic() < deadline, "the processors did not catch up"
        await asyncio.sleep(0.5)


async def _sent_during(stack: Settings, action: Callable[[], Awaitable[Any]]) -> list[str]:
    """The commands clients sent (not script-internal ones) while ``action`` ran."""
    watcher = redis.asyncio.Redis.from_url(stack.redis.url)
    marker = redis_connect.client(stack)
    try:
        async with watcher.monitor() as monitor:
            await marker.echo("test-begin")
            while "test-begin" not in (await monitor.next_command())["command"]:
                pass
            await action()
            await marker.echo("test-end")
            sent: list[str] = []
            while True:
                command = await monitor.next_command()
                if "test-end" in command["command"]:
                    return sent
                if command.get("client_type") != "lua":
                    sent.append(command["command"].split(" ")[0].upper())
    finally:
        await watcher.aclose()
        await marker.aclose()


async def test_new_posts_since(scene: Scene) -> None:
    """Nothing newer than the newest visible post (the deleted, even newer one does not
    count); something newer than the one before; the fast and general answers agree."""
    newest, older = scene.photos[0], scene.photos[1]
    for since, want in ((newest, False), (older, True), (0, True)):
        answers = []
        for fast in (True, False):
            pages = scene.app.state.pages
            if not fast:
                scene.app.state.pages = None
            try:
                r = await scene.api.get("/v1/feed/new", headers=scene.reader.auth,
                                        params={"since": since})
            finally:
                scene.app.state.pages = pages
            assert r.status_code == 200, r.text
            answers.append(r.json())
        assert answers == [{"new_posts": want}] * 2, (since, answers)
    r = await scene.api.get("/v1/feed/new", headers=scene.reader.auth, params={"since": "x"})
    assert r.status_code == 422
    assert (await scene.api.get("/v1/feed/new", params={"since": 1})).status_code == 401


async def test_fast_photo_cards_equal_the_general_paths(scene: Scene) -> None:
    """Each photo the reader may see, as one card (one Redis command); the owner's own
    view; a stranger's view of a private account's photo is the general path's 404."""
    stranger = await scene.world.user(prefix="ffx", private=True)
    hidden = await scene.world.photo(stranger, "private")
    for who, pid, status in [*((scene.reader, p, 200) for p in scene.photos[:3]),
                             (scene.author, scene.photos[1], 200), (scene.reader, hidden, 404)]:
        answers = []
        for fast in (True, False):
            pages = scene.app.state.pages
            if not fast:
                scene.app.state.pages = None
            try:
                answers.append(await scene.api.get(f"/v1/photos/{pid}", headers=who.auth))
            finally:
                scene.app.state.pages = pages
        assert [a.status_code for a in answers] == [status] * 2, answers[0].text
        assert answers[0].json() == answers[1].json()


async def test_fast_profiles_equal_the_general_paths(scene: Scene, stack: Settings) -> None:
    """A profile the caches decide is one MGET and the general route's document: the
    reader's own, a followed account, a public stranger, one the reader muted. A private
    account the reader does not follow is the general path's (a pending request is in
    Cassandra only), with the same answer."""
    public = await scene.world.user(prefix="ffp")
    locked = await scene.world.user(prefix="ffl", private=True)
    await scene.world.mute(scene.reader, public)
    await scene.world.follow(scene.reader, locked)  # pending: "requested"

    async def get(whom: Person, fast: bool) -> httpx.Response:
        pages = scene.app.state.pages
        if not fast:
            scene.app.state.pages = None
        try:
            return await scene.api.get(f"/v1/users/{whom.user_id}", headers=scene.reader.auth)
        finally:
            scene.app.state.pages = pages

    async def muted() -> bool:
        return (await get(public, False)).json()["muting"] is True
    await scene.world.until(muted)
    await _processors_idle(stack)
    for whom, state, commands in ((scene.reader, "self", 1), (scene.author, "following", 1),
                                  (public, "none", 1), (locked, "requested", None)):
        await get(whom, True)  # warm
        fast, general = await get(whom, True), await get(whom, False)
        assert fast.status_code == general.status_code == 200, (fast.text, general.text)
        assert fast.json() == general.json()
        assert fast.json()["follow_state"] == state
        sent = min([await _sent_during(stack, functools.partial(get, whom, True))
                    for _ in range(3)], key=len)
        if commands is None:
            assert len(sent) > 1, sent  # handed to the general path
        else:
            assert sent == ["MGET"], sent
    assert (await get(public, True)).json()["muting"] is True
    missing = await scene.api.get("/v1/users/1", headers=scene.reader.auth)
    assert missing.status_code == 404  # no cached profile: the general path words the 404
