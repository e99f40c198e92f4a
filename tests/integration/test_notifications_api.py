"""``/v1/notifications`` and ``/v1/stream`` over real HTTP, fed by the real processors.

Pins: grouped entries hydrated with actors and the photo, cursor pages without
duplicates or gaps, the type filter, unread count and read mark, a deleted photo's
entry gone (never a 500), the hot copy rebuilt after Redis lost it, problem+json for
bad cursors and types; the live stream delivers, coalesces and resumes with
``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.connect.redis import RedisClient
from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from sinks.notification_hot import keys
from tests.integration.readside import Person, ReadWorld, read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack, extra=("notifications",)) as w:
        yield w


async def inbox(world: ReadWorld, who: Person, **params: Any) -> list[dict[str, Any]]:
    r = await world.get("/v1/notifications", who, **params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def unread(world: ReadWorld, who: Person) -> int:
    r = await world.get("/v1/notifications/unread", who)
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


async def test_grouped_pages_filter_unread_and_read_mark(world: ReadWorld,
                                                         redis_client: RedisClient) -> None:
    owner, fan = await world.user(), await world.user()
    likers = [await world.user() for _ in range(4)]
    photos = [await world.photo(owner, f"p{i}", wait=False) for i in range(24)]
    await world.until(lambda: world.ok(f"/v1/photos/{photos[-1]}", owner))
    for liker in likers:
        await world.like(liker, photos[0], owner)
    for photo in photos[1:]:
        await world.like(fan, photo, owner)
    await world.comment(fan, photos[0], owner, "lovely")

    async def all_there() -> bool:
        return await unread(world, owner) == 25
    await world.until(all_there)
    items = await inbox(world, owner, type="like", limit=100)
    grouped = next(i for i in items if i["photo"]["photo_id"] == str(photos[0]))
    assert grouped["actor_count"] == 4 and len(grouped["actors"]) == 3
    assert grouped["actors"][0]["user_id"] == str(likers[-1].user_id)
    assert grouped["photo"]["thumb_url"], "the entry links to its photo"
    assert {i["type"] for i in await inbox(world, owner, type="comment")} == {"comment"}

    # Cursor pages: every entry once, newest first.
    seen: list[str] = []
    cursor = None
    while True:
        r = await world.get("/v1/notifications", owner, limit=7,
                            **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        seen += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25
    assert seen == sorted(seen, key=int, reverse=True)

    # The hot copy lost: the same answer, rebuilt from Cassandra.
    await redis_client.delete(*keys(owner.user_id).values())
    assert [i["id"] for i in await inbox(world, owner, limit=100)] == seen
    assert await unread(world, owner) == 25

    # Read mark: up to the 5th newest leaves the 20 older unread... no: newer are read.
    r = await world.http.post("/v1/notifications/read", headers=owner.auth,
                              json={"up_to": seen[4]})
    assert r.status_code == 200 and r.json()["count"] == 4, r.text
    assert [i["unread"] for i in (await inbox(world, owner, limit=6))] == [True] * 4 + [False] * 2

    # A deleted photo's entry is gone, and nothing fails.
    await world.delete(owner, photos[5])

    async def gone() -> bool:
        return str(photos[5]) not in {(i["photo"] or {}).get("photo_id")
                                      for i in await inbox(world, owner, limit=100)}
    await world.until(gone)


@pytest.mark.parametrize(("params", "name"), [
    ({"type": "poke"}, "type"), ({"cursor": "not-a-cursor"}, "cursor"), ({"limit": 0}, "limit")])
async def test_bad_parameters_are_problem_json(world: ReadWorld, params: dict[str, Any],
                                               name: str) -> None:
    who = await world.user()
    r = await world.get("/v1/notifications", who, **params)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert name in r.text


async def test_cursor_of_another_filter_is_refused(world: ReadWorld) -> None:
    owner, fan = await world.user(), await world.user()
    photos = [await world.photo(owner, wait=False) for _ in range(3)]
    await world.until(lambda: world.ok(f"/v1/photos/{photos[-1]}", owner))
    for photo in photos:
        await world.like(fan, photo, owner)

    async def three() -> bool:
        return len(await inbox(world, owner)) == 3
    await world.until(three)
    r = await world.get("/v1/notifications", owner, limit=1)
    cursor = r.json()["next_cursor"]
    r = await world.get("/v1/notifications", owner, limit=1, type="comment", cursor=cursor)
    assert r.status_code == 422 and "cursor" in r.text
    r = await world.http.post("/v1/notifications/read", headers=owner.auth, json={"up_to": "x"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON


async def sse_events(world: ReadWorld, who: Person, *, want: int, timeout: float = 30,
                     last_event_id: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``want`` (id, event, data) of ``who``'s stream (heartbeats skipped)."""
    headers = {**who.auth, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    out: list[tuple[str, str, dict[str, Any]]] = []
    async with (httpx.AsyncClient(base_url=world.base_url, timeout=timeout) as http,
                http.stream("GET", "/v1/stream", headers=headers) as r):
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        async for line in r.aiter_lines():
            if line == "":
                if "data" in fields:
                    out.append((fields.get("id", ""), fields.get("event", "message"),
                                json.loads(fields["data"])))
                    if len(out) >= want:
                        return out
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.lstrip(" ")
            if time.monotonic() > deadline:
                break
    return out


async def test_stream_pushes_coalesces_and_resumes(world: ReadWorld) -> None:
    owner, fan = await world.user(), await world.user()
    crowd = [await world.user() for _ in range(30)]
    photo = await world.photo(owner)
    listening = asyncio.create_task(sse_events(world, owner, want=3))
    await asyncio.sleep(1.0)
    await world.like(fan, photo, owner)
    first = await listening
    kinds = [event for _id, event, _data in first]
    assert kinds[0] == "unread", "a stream opens with the unread count"
    notification = next(d for _i, e, d in first if e == "notification")
    assert notification["type"] == "like" and notification["actors"][0]["user_id"] == str(
        fan.user_id)
    resume_from = first[-1][0]

    # A burst while disconnected: resumed with Last-Event-ID, coalesced into few events
    # whose last says the whole crowd.
    for person in crowd:
        await world.like(person, photo, owner)

    async def counted() -> bool:
        items = await inbox(world, owner)
        return bool(items) and items[0]["actor_count"] == 31
    await world.until(counted)
    resumed = await sse_events(world, owner, want=2, last_event_id=resume_from)
    notes = [d for _i, e, d in resumed if e == "notification"]
    assert notes and notes[-1]["actor_count"] == 31, resumed
    assert len(notes) == 1, "a burst on one entry is one event per batch"


async def test_mentions_are_searchable_and_unknown_ones_stay_text(world: ReadWorld) -> None:
    owner, friend = await world.user(), await world.user()
    photo = await world.photo(owner, f"dinner with @{friend.username} and @nobody_{owner.user_id}")
    comment_photo = await world.photo(owner, "no mention here")
    await world.comment(owner, comment_photo, owner, f"@{friend.username} look")

    async def found() -> bool:
        r = await world.get("/v1/search", owner, q=f"@{friend.username}")
        return {p["photo_id"] for p in r.json()["photos"]} == {str(photo), str(comment_photo)}
    await world.until(found)
    mentions = await inbox(world, friend, type="mention")
    assert len(mentions) == 2 and {m["photo"]["photo_id"] for m in mentions} == {
        str(photo), str(comment_photo)}
    r = await world.get("/v1/search", owner, q=f"@nobody_{owner.user_id}")
    assert r.status_code == 200 and r.json()["photos"] == []


async def test_streams_beyond_the_bound_are_503_with_retry_after(stack: Settings) -> None:
    bounded = dataclasses.replace(stack, notify=dataclasses.replace(stack.notify,
                                                                    max_streams=1))
    async with read_world(bounded) as small:
        first, second = await small.user(), await small.user()
        bad = await small.http.get("/v1/stream", headers={**first.auth,
                                                          "Last-Event-ID": "yesterday"})
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_JSON
        holding = asyncio.create_task(sse_events(small, first, want=99, timeout=8))
        await asyncio.sleep(2)
        r = await small.get("/v1/stream", second)
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
        assert int(r.headers["Retry-After"]) > 0
        with contextlib.suppress(httpx.ReadTimeout):  # nothing more came: it hung up
            await holding
        await asyncio.sleep(0.5)  # the first stream closed: room again
        assert (await sse_events(small, second, want=1, timeout=5))[0][1] == "unread"


async def test_new_posts_hint_reaches_followers_streams(world: ReadWorld) -> None:
    author, reader = await world.user(), await world.user()
    await world.follow(reader, author)
    listening = asyncio.create_task(sse_events(world, reader, want=2))
    await asyncio.sleep(1.0)
    await world.photo(author, "fresh", wait=False)
    events = await listening
    assert [(e, d) for _i, e, d in events][1] == ("feed", {"new_posts": 1})
