"""The read API with a store unreachable: degraded answers or 503 + Retry-After, never a
500 and never a hang, and back to normal without a restart once the store returns.

The API under test reaches the shared Redis and Cassandra through
:class:`~tests.support.faultline.FaultLine` proxies that each phase cuts, black-holes or
restores; the processors (and the world's own API, which the builders wait on) keep
their direct connections, so nothing else on the machine notices.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import MaxConnectionsError

from api.app import create_app
from api.failsafe import HEADER
from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from tests.integration.readside import Person, ReadWorld, read_world
from tests.integration.waiting import eventually
from tests.support.faultline import FaultLine, faultline

pytestmark = [pytest.mark.stack, pytest.mark.slow]

#: A 503 for an unreachable store must come this fast (the API's backend timeout is
#: 0.5 s; a feed may spend it twice before answering from what Redis holds).
FAST = 1.5


@dataclasses.dataclass
class Scene:
    world: ReadWorld
    app: FastAPI
    api: httpx.AsyncClient
    redis: FaultLine
    cassandra: FaultLine
    author: Person
    reader: Person
    photos: list[int]

    def routes(self) -> list[str]:
        """Every GET route of the read API, with real ids."""
        a, pid = self.author, self.photos[0]
        return ["/v1/feed", "/v1/feed?mode=top", f"/v1/photos/{pid}",
                f"/v1/photos/{pid}/comments", f"/v1/photos/{pid}/likes", "/v1/me",
                f"/v1/users/by-username/{a.username}", f"/v1/users/{a.user_id}",
                f"/v1/users/{a.user_id}/photos", f"/v1/users/{a.user_id}/followers",
                f"/v1/users/{a.user_id}/following", "/v1/follow-requests",
                "/v1/search?q=failsafe", "/v1/explore", "/v1/stories", "/readyz",
                "/healthz", "/metrics", "/config.json"]

    async def get(self, path: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        r = await self.api.get(path, headers=self.reader.auth)
        return r, time.monotonic() - started

    async def feed(self) -> tuple[list[int], httpx.Response]:
        r, _ = await self.get("/v1/feed")
        assert r.status_code == 200, r.text
        return [int(i["photo_id"]) for i in r.json()["items"]], r

    async def sweep(self) -> dict[str, httpx.Response]:
        """Every route once: never a 500, every 503 a fast problem with Retry-After."""
        answers = {}
        for path in self.routes():
            r, took = await self.get(path)
            assert r.status_code != 500, f"{path}: 500 {r.text}"
            assert r.status_code in (200, 503), f"{path}: {r.status_code} {r.text}"
            assert took < FAST, f"{path}: {r.status_code} after {took:.2f}s"
            if r.status_code == 503 and path != "/readyz":
                assert r.headers["content-type"].startswith(PROBLEM_JSON), path
                assert int(r.headers["Retry-After"]) > 0, path
                assert r.json()["type"].endswith("/backend-unavailable"), r.text
            answers[path] = r
        return answers

    async def recovered(self, ids: list[int]) -> None:
        """Normal answers again, without restarting the API."""
        async def normal() -> bool:
            r, _ = await self.get("/v1/feed")
            comments, _ = await self.get(f"/v1/photos/{self.photos[0]}/comments")
            return (r.status_code == 200 and HEADER not in r.headers
                    and [int(i["photo_id"]) for i in r.json()["items"]] == ids
                    and comments.status_code == 200)
        await eventually(normal, timeout=20)
        ready, _ = await self.get("/readyz")
        assert ready.json()["status"] == "ready", ready.text


@asynccontextmanager
async def proxied_api(settings: Settings, redis: FaultLine, cassandra: FaultLine
                      ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The read API in-process, reaching Redis and Cassandra only through the proxies
    (the driver's port applies to every node: the single contact point is the proxy)."""
    url = urlsplit(settings.redis.url)
    faulty = dataclasses.replace(
        settings,
        redis=dataclasses.replace(settings.redis,
                                  url=url._replace(netloc=f"127.0.0.1:{redis.port}").geturl()),
        cassandra=dataclasses.replace(settings.cassandra, contact_points=("127.0.0.1",),
                                      port=cassandra.port))
    app = create_app(faulty)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api", timeout=30) as http:
        yield app, http


@pytest.fixture(scope="module")
async def scene(stack: Settings) -> AsyncIterator[Scene]:
    url = urlsplit(stack.redis.url)
    async with read_world(stack) as world:
        author, reader = await world.user(), await world.user()
        await world.follow(reader, author)
        photos = [await world.photo(author, f"failsafe {i}") for i in range(3)]
        await world.comment(reader, photos[0], author, "nice")
        await world.until(lambda: _feed_has(world, reader, photos))
        with faultline(url.hostname or "127.0.0.1", url.port or 6379) as redis, \
                faultline(stack.cassandra.contact_points[0], stack.cassandra.port) as cass:
            async with proxied_api(stack, redis, cass) as (app, api):
                yield Scene(world, app, api, redis, cass, author, reader, photos)


async def _feed_has(world: ReadWorld, who: Person, ids: list[int]) -> bool:
    return set(ids) <= set(await world.feed_ids(who))


async def _warm(scene: Scene) -> list[int]:
    """Every route answered normally once (this also fills the caches)."""
    for path in scene.routes():
        r, _ = await scene.get(path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        assert HEADER not in r.headers, path
    ids, _ = await scene.feed()
    assert set(scene.photos) <= set(ids)
    return ids


async def test_redis_down_serves_from_cassandra(scene: Scene) -> None:
    before = await _warm(scene)
    scene.redis.cut()
    try:
        answers = await scene.sweep()
        ids, feed = await scene.feed()
        assert ids == before, "the durable timeline served another feed"
        assert feed.headers[HEADER] == "redis"
        for path in ("/v1/feed?mode=top", f"/v1/photos/{scene.photos[0]}",
                     f"/v1/users/{scene.author.user_id}", "/v1/me",
                     f"/v1/photos/{scene.photos[0]}/comments", "/v1/search?q=failsafe"):
            assert answers[path].status_code == 200, f"{path}: {answers[path].text}"
        assert answers["/v1/explore"].headers[HEADER] == "redis"  # trending lives in Redis
        assert answers["/v1/stories"].json() == {"tray": []}
        ready = answers["/readyz"]
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["mode"] == {"redis": "down", "cassandra": "up"}
        served = {"backend": "redis", "route": "/v1/feed", "outcome": "served"}
        assert any(sample.labels == served
                   for family in text_string_to_metric_families(answers["/metrics"].text)
                   if family.name == "photostream_api_degraded_answers"
                   for sample in family.samples), "the degraded feed answer is not counted"
    finally:
        scene.redis.restore()
    await scene.recovered(before)


async def test_cassandra_down_serves_what_redis_holds(scene: Scene) -> None:
    before = await _warm(scene)
    scene.cassandra.cut()
    try:
        answers = await scene.sweep()
        ids, feed = await scene.feed()
        assert ids == before, "the hot timeline served another feed"
        # A warm page needs nothing from Cassandra (api/feed_page.py): unflagged, unless
        # the pull-author refresh fell due meanwhile and went without Cassandra.
        assert feed.headers.get(HEADER) in (None, "cassandra")
        photo = answers[f"/v1/photos/{scene.photos[0]}"]
        assert photo.status_code == 200, photo.text  # a cached card
        # Comments and search live only in Cassandra: 503 proves the driver's every
        # connection goes through the proxy.
        for path in (f"/v1/photos/{scene.photos[0]}/comments", "/v1/search?q=failsafe"):
            assert answers[path].status_code == 503, f"{path}: {answers[path].text}"
            assert answers[path].json()["backend"] == "cassandra"
        ready = answers["/readyz"]
        assert ready.status_code == 200
        assert ready.json()["mode"] == {"redis": "up", "cassandra": "down"}
    finally:
        scene.cassandra.restore()
    await scene.recovered(before)


async def test_cassandra_black_hole_is_a_fast_503_not_a_hang(scene: Scene) -> None:
    before = await _warm(scene)
    scene.cassandra.hang()
    try:
        answers = await scene.sweep()  # FAST bound on every route
        comments = answers[f"/v1/photos/{scene.photos[0]}/comments"]
        assert comments.status_code == 503, comments.text
        ids, _ = await scene.feed()
        assert ids == before
    finally:
        scene.cassandra.restore()
    await scene.recovered(before)


async def test_both_down_is_503_everywhere_but_never_500(scene: Scene) -> None:
    before = await _warm(scene)
    scene.redis.cut()
    scene.cassandra.cut()
    try:
        answers = await scene.sweep()
        ready = answers["/readyz"]
        assert ready.status_code == 503
        assert ready.json()["mode"] == {"redis": "down", "cassandra": "down"}
        assert answers["/v1/feed"].status_code == 503
    finally:
        scene.redis.restore()
        scene.cassandra.restore()
    await scene.recovered(before)


async def test_exhausted_redis_pool_is_503_overloaded(scene: Scene) -> None:
    """A full pool is overload: 503 + Retry-After, and no fallback load on Cassandra."""
    await _warm(scene)
    pool = scene.app.state.read.redis.connection_pool
    limit, held = pool.max_connections, []
    pool.max_connections = 2
    try:
        with pytest.raises(MaxConnectionsError):
            while True:  # check out what the pool allows: the next request finds it full
                held.append(await pool.get_connection())
        # The ranked feed reads through the pool (the chronological page's scripts have
        # their own bounded lane: tests/integration/test_read_overload.py).
        r, _ = await scene.get("/v1/feed?mode=top")
    finally:
        pool.max_connections = limit
        for connection in held:
            await pool.release(connection)
    assert r.status_code == 503, r.text
    assert r.json()["type"].endswith("/overloaded")
    assert int(r.headers["Retry-After"]) > 0


@pytest.mark.parametrize("store", ["redis", "cassandra"])
async def test_a_private_account_stays_hidden_in_degraded_mode(scene: Scene, store: str
                                                               ) -> None:
    """The fallbacks apply the same visibility rule: with either store cut, a private
    account's photo, grid, story, search hit and media URLs stay hidden from a stranger and
    from a pending requester (a 404 or a 503, never the photo)."""
    before = await _warm(scene)
    world = scene.world
    owner = await world.user(private=True)
    stranger, pending = await world.user(), await world.user()
    await world.follow(pending, owner)
    await world.until(lambda: world.state(pending, owner, "requested"))
    secret = await world.photo(owner, "failsafe hushhush")
    story = await world.story(owner, f"stories/{owner.user_id}/hushhush.jpg")
    paths = [f"/v1/photos/{secret}", f"/v1/users/{owner.user_id}/photos",
             "/v1/search?q=hushhush", "/v1/stories", "/v1/feed"]
    for person in (stranger, pending):  # the caches hold whatever these answers read
        for path in paths:
            assert (await scene.api.get(path, headers=person.auth)).status_code in (200, 404)
    line = scene.redis if store == "redis" else scene.cassandra
    line.cut()
    try:
        for person in (stranger, pending):
            for path in paths:
                r = await scene.api.get(path, headers=person.auth)
                assert r.status_code in (200, 404, 503), f"{path}: {r.status_code} {r.text}"
                for hidden in (str(secret), str(story), "hushhush.jpg"):
                    assert hidden not in r.text, f"{path} showed {hidden} in degraded mode"
            photo = await scene.api.get(f"/v1/photos/{secret}", headers=person.auth)
            assert photo.status_code in (404, 503), photo.text
    finally:
        line.restore()
    await scene.recovered(before)


@pytest.mark.parametrize("store", ["redis", "cassandra"])
async def test_a_block_holds_in_degraded_mode(scene: Scene, store: str) -> None:
    """The relations a block is decided by come from the cache or from Cassandra, never
    a guess: with either store cut, the blocked account sees nothing of the blocker's
    public photo, grid, story or search hit (a 404 or a 503, never the photo)."""
    before = await _warm(scene)
    world = scene.world
    author, blocked = await world.user(), await world.user()
    await world.follow(blocked, author)
    secret = await world.photo(author, "failsafe blockhush")
    story = await world.story(author, f"stories/{author.user_id}/blockhush.jpg")
    await world.block(author, blocked)

    async def applied() -> bool:
        r = await scene.api.get(f"/v1/photos/{secret}", headers=blocked.auth)
        return r.status_code == 404
    await world.until(applied)
    paths = [f"/v1/photos/{secret}", f"/v1/users/{author.user_id}/photos",
             "/v1/search?q=blockhush", "/v1/stories", "/v1/feed"]
    for path in paths:  # the caches hold whatever these answers read
        assert (await scene.api.get(path, headers=blocked.auth)).status_code in (200, 404)
    line = scene.redis if store == "redis" else scene.cassandra
    line.cut()
    try:
        for path in paths:
            r = await scene.api.get(path, headers=blocked.auth)
            assert r.status_code in (200, 404, 503), f"{path}: {r.status_code} {r.text}"
            for hidden in (str(secret), str(story), "blockhush.jpg"):
                assert hidden not in r.text, f"{path} showed {hidden} in degraded mode"
    finally:
        line.restore()
    await scene.recovered(before)
