"""Per-user and per-address rate limits of ingest on the real stack (Redis counts them).

The app runs in-process with tiny limits (a Settings copy: 3 uploads, 2 likes... per 5 s
window) so a burst is cheap. Each burst is made by a subject (user, address) picked so that
its window has just begun (the window math is pure, so the test knows), which gives the
burst the whole window even on a loaded machine. Writes that
need no processor are real: uploads are accepted, likes and comments go to the user's
own fresh photo. Fail-open runs the same app against a port where no Redis listens and
against a listener that never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY

from infra.connect.redis import RedisClient
from infra.http.ratelimit import (
    FAIL_AFTER_SECONDS,
    KEY_PREFIX,
    Action,
    RateLimiter,
    offset_of,
    window_at,
)
from infra.settings import RateLimitSettings, RedisSettings, Settings
from operate.stack.base import free_port
from producers.ingest import create_app
from tests.integration.test_ingest import Ingest, assert_problem, auth, upload
from tests.support.accounts import registered_user
from tests.support.ids import random_id
from tests.support.images import jpeg_bytes

pytestmark = pytest.mark.stack

WINDOW = 5
LIMITS = RateLimitSettings(window_seconds=WINDOW, uploads=3, likes=2, comments=2, follows=2,
                           edits=2, sign_ins=2)


def limited(settings: Settings, redis_url: str | None = None) -> Settings:
    """``settings`` with :data:`LIMITS`, no upload backlog bound (the shared media
    backlog is not this test's business) and optionally another Redis."""
    redis = settings.redis if redis_url is None else RedisSettings(url=redis_url)
    return dataclasses.replace(settings, rate=LIMITS, redis=redis,
                               ingest=dataclasses.replace(settings.ingest, max_backlog=0))


@contextlib.asynccontextmanager
async def running(settings: Settings, client_host: str = "127.0.0.1") -> AsyncIterator[Ingest]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield Ingest(client, settings)


@pytest.fixture(scope="module")
async def ingest(stack: Settings) -> AsyncIterator[Ingest]:
    async with running(limited(stack)) as running_ingest:
        yield running_ingest


def subject_key(action: Action, subject: str) -> str:
    return f"{KEY_PREFIX}:{action}:{subject}"


def starting(action: Action, subject: str) -> bool:
    """Whether ``subject``'s ``action`` window began in the last 0.2 s."""
    now = time.time()
    window = window_at(now, WINDOW, offset_of(subject_key(action, subject), WINDOW))
    return window.ends - now > WINDOW - 0.2


async def fresh_user(action: Action) -> int:
    """A new (registered) user whose ``action`` window has just begun."""
    while not starting(action, f"user:{(user := random_id())}"):
        pass
    return await registered_user(user)


async def window_start(action: Action, subject: str) -> None:
    """Wait until ``subject``'s next ``action`` window begins (at most a window)."""
    while not starting(action, subject):
        await asyncio.sleep(0.05)


def assert_limited(response: httpx.Response, action: str, limit: int) -> int:
    if response.status_code != 429:
        late = time.time()
        raise AssertionError(
            f"expected 429, got {response.status_code} {response.text}; writes let through "
            f"unchecked so far: {unchecked(action.replace('-', '_'))}; now {late:.2f}")
    body = assert_problem(response, 429)
    assert body["type"] == "https://photostream.dev/problems/rate-limited"
    assert (body["action"], body["limit"], body["window_seconds"]) == (action, limit, WINDOW)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW and body["retry_after"] == retry_after
    return retry_after


def unchecked(action: str) -> float:
    return REGISTRY.get_sample_value("photostream_rate_limit_unchecked_total",
                                     {"action": action}) or 0.0


async def test_upload_burst_over_the_limit_is_429_with_retry_after(ingest: Ingest) -> None:
    user = await fresh_user("uploads")
    for _ in range(LIMITS.uploads):
        accepted = await upload(ingest, user, jpeg_bytes())
        assert accepted.status_code == 202, accepted.text
    refused = await upload(ingest, user, jpeg_bytes())
    assert_limited(refused, "uploads", LIMITS.uploads)
    direct = await ingest.client.post("/v1/media/uploads", headers=auth(ingest.settings, user))
    assert_limited(direct, "uploads", LIMITS.uploads)


async def test_limits_are_per_user(ingest: Ingest) -> None:
    greedy, other = await fresh_user("uploads"), await registered_user()
    for _ in range(LIMITS.uploads):
        assert (await upload(ingest, greedy, jpeg_bytes())).status_code == 202
    assert_limited(await upload(ingest, greedy, jpeg_bytes()), "uploads", LIMITS.uploads)
    for _ in range(LIMITS.uploads):
        accepted = await upload(ingest, other, jpeg_bytes())
        assert accepted.status_code == 202, "another user's uploads are not limited by the first's"


async def test_the_counter_expires_with_its_window(
        ingest: Ingest, redis_client: RedisClient) -> None:
    user = await registered_user()
    photo = (await upload(ingest, user, jpeg_bytes())).json()["photo_id"]
    await window_start("likes", f"user:{user}")
    like = f"/v1/photos/{photo}/likes"
    headers = auth(ingest.settings, user)
    assert (await ingest.client.post(like, headers=headers)).status_code == 202
    assert (await ingest.client.delete(like, headers=headers)).status_code == 202
    retry_after = assert_limited(await ingest.client.post(like, headers=headers), "likes", 2)

    base = subject_key("likes", f"user:{user}")
    window = window_at(time.time(), WINDOW, offset_of(base, WINDOW))
    ttl_ms = await redis_client.pttl(f"{base}:{window.index}")
    assert 0 < ttl_ms <= WINDOW * 1000 + 1000, "the window's counter must expire by itself"

    await asyncio.sleep(retry_after + 0.05)
    again = await ingest.client.post(like, headers=headers)
    assert again.status_code == 202, f"still refused after Retry-After: {again.text}"


async def test_comments_and_follows_have_their_own_limits(ingest: Ingest) -> None:
    user = await registered_user()
    photo = (await upload(ingest, user, jpeg_bytes())).json()["photo_id"]
    headers = auth(ingest.settings, user)
    await window_start("comments", f"user:{user}")
    comments = f"/v1/photos/{photo}/comments"
    for text in ("first", "second"):
        posted = await ingest.client.post(comments, headers=headers, json={"text": text})
        assert posted.status_code == 202, posted.text
    over = await ingest.client.post(comments, headers=headers, json={"text": "third"})
    assert_limited(over, "comments", 2)
    like = await ingest.client.post(f"/v1/photos/{photo}/likes", headers=headers)
    assert like.status_code == 202, "likes are counted apart from comments"

    headers = auth(ingest.settings, await fresh_user("follows"))
    unknown = f"/v1/users/{random_id()}/follow"
    for _ in range(2):  # an unknown user: the route's own answer while under the limit
        assert_problem(await ingest.client.post(unknown, headers=headers), 404)
    assert_limited(await ingest.client.post(unknown, headers=headers), "follows", 2)


async def test_sign_ins_are_limited_per_client_address(stack: Settings) -> None:
    settings = dataclasses.replace(limited(stack), env="dev")
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    async with running(settings, client_host=address) as ingest:
        await window_start("sign_ins", f"addr:{address}")
        for _ in range(LIMITS.sign_ins):  # a bad name: answered 422 while under the limit
            answer = await ingest.client.post("/v1/dev/session", json={"username": "No Such!"})
            assert_problem(answer, 422)
        over = await ingest.client.post("/v1/dev/session", json={"username": "No Such!"})
        assert_limited(over, "sign-ins", LIMITS.sign_ins)
    async with running(settings, client_host=address + "0") as elsewhere:
        answer = await elsewhere.client.post("/v1/dev/session", json={"username": "No Such!"})
        assert_problem(answer, 422)


async def test_unreachable_redis_lets_writes_through(stack: Settings) -> None:
    settings = limited(stack, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    before = unchecked("likes")
    async with running(settings) as ingest:
        user = await registered_user()
        photo = (await upload(ingest, user, jpeg_bytes())).json()["photo_id"]
        for _ in range(LIMITS.likes + 2):
            answer = await ingest.client.post(f"/v1/photos/{photo}/likes",
                                              headers=auth(settings, user))
            assert answer.status_code == 202, f"Redis down must not refuse writes: {answer.text}"
    assert unchecked("likes") >= before + LIMITS.likes + 2


async def test_silent_redis_costs_one_bounded_wait_then_none(stack: Settings) -> None:
    """A Redis that accepts connections and never answers (a hung server, a black hole)."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # whatever comes, until the client hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter.from_settings(limited(stack, redis_url=f"redis://127.0.0.1:{port}/0"))
    try:
        began = time.monotonic()
        first = await limiter.hit("likes", "user:1", 1)
        waited = time.monotonic() - began
        began = time.monotonic()
        second = await limiter.hit("likes", "user:1", 1)
        skipped = time.monotonic() - began
    finally:
        await limiter.aclose()
        server.close()
        await server.wait_closed()
    assert first.allowed and second.allowed
    assert waited < FAIL_AFTER_SECONDS * 4, f"the first check waited {waited:.2f} s"
    assert skipped < 0.05, f"the check right after a failure still waited {skipped:.2f} s"
