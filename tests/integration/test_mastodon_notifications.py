"""Mastodon notifications, markers and the user stream (producers/mastodon/notifications.py,
markers.py, streaming.py) with the real Mastodon.py client against the real stack.

Pins: likes, follows, comments and mentions reach ``notifications()`` with Mastodon's
types and statuses (a comment is a ``mention`` whose status replies to the post); the
``types`` / ``exclude_types`` filters, paging through ``Link``, one notification,
dismiss (and its return on new activity), clear, the unread count against the
notifications marker (which is ``/v1``'s read mark); grouped v2 pages; markers round
trip; ``stream_user`` delivers ``update``, ``notification`` and ``delete``, resumes after
``Last-Event-ID``; a blocked account's post and a private account's post never reach
notifications or the stream; bad input is a Mastodon error, never a 500.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, StreamListener

from infra.settings import Settings
from tests.integration import test_mastodon_api as base
from tests.integration.readside import Person, ReadWorld, read_world
from tests.integration.test_mastodon_api import Server, bearer, client, password_token, sign_up
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.stack]

#: The ingest app (which serves the Mastodon API) under uvicorn, on this module's world.
server = base.server


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    # One group window for the whole run: likes of one photo always share an entry here
    # (with the hourly default, a run across the hour would split a group).
    settings = dataclasses.replace(stack, notify=dataclasses.replace(
        stack.notify, group_window_seconds=10**9))
    async with read_world(settings, extra=("notifications",)) as w:
        yield w


async def signed_in(server: Server, scope: str = "read write follow"
                    ) -> tuple[Person, Mastodon, str]:
    person = await sign_up(server)
    _, _, token = await password_token(server, person, scope)
    return person, client(server, token), token


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A Mastodon.py call (blocking HTTP) off the event loop serving the app."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def notes(api: Mastodon, **params: Any) -> list[Any]:
    return list(await call(api.notifications, **params))


async def test_likes_follows_comments_and_mentions_as_mastodon_notifications(
        world: ReadWorld, server: Server) -> None:
    alice, api, token = await signed_in(server)
    bob, carol, dave = [await sign_up(server) for _ in range(3)]
    photo = await world.photo(alice, "sunset over the bay")
    await world.follow(bob, alice)
    await world.like(bob, photo, alice)
    comment = await world.comment(carol, photo, alice, "what a sky!")
    mention = await world.photo(dave, f"look at this, @{alice.username}")

    async def four() -> bool:
        return len(await notes(api)) == 4
    await eventually(four, timeout=60)
    found = {n["type"]: n for n in await notes(api) if n["type"] != "mention"}
    mentions = [n for n in await notes(api) if n["type"] == "mention"]
    assert set(found) == {"follow", "favourite"} and len(mentions) == 2
    assert str(found["follow"]["account"]["id"]) == str(bob.user_id)
    favourite = found["favourite"]
    assert str(favourite["account"]["id"]) == str(bob.user_id)
    assert str(favourite["status"]["id"]) == str(photo)
    assert favourite["status"]["media_attachments"][0]["type"] == "image"
    by_status = {str(n["status"]["id"]): n for n in mentions}
    reply = by_status[str(comment)]["status"]  # the comment, as a reply to the post
    assert str(reply["in_reply_to_id"]) == str(photo) and "what a sky!" in reply["content"]
    assert str(by_status[str(comment)]["account"]["id"]) == str(carol.user_id)
    assert str(by_status[str(mention)]["account"]["id"]) == str(dave.user_id)

    # Filters, one notification, paging through Link.
    assert {n["type"] for n in await notes(api, types=["favourite"])} == {"favourite"}
    assert {n["type"] for n in await notes(api, exclude_types=["mention"])} == {
        "follow", "favourite"}
    assert await notes(api, types=["reblog"]) == []
    assert [str(n["account"]["id"]) for n in await notes(api, account_id=carol.user_id)] == [
        str(carol.user_id)]
    one = await call(api.notifications, id=favourite["id"])
    assert one["type"] == "favourite" and str(one["id"]) == str(favourite["id"])
    newest = [str(n["id"]) for n in await notes(api)]
    first = await call(api.notifications, limit=3)
    rest = await call(api.fetch_next, first)
    assert [str(n["id"]) for n in [*first, *rest]] == newest
    back = await call(api.fetch_previous, rest)
    assert [str(n["id"]) for n in back] == newest[:3]

    # Unread count against the notifications marker (/v1's read mark).
    assert (await call(api.notifications_unread_count))["count"] == 4
    await call(api.markers_set, ["notifications"], [newest[1]])
    assert (await call(api.notifications_unread_count))["count"] == 1
    v1 = await world.get("/v1/notifications/unread", alice)
    assert v1.json()["count"] == 1

    # Grouped (v2): a second like joins the favourite group.
    await world.like(carol, photo, alice)

    async def grouped_two() -> bool:
        answer = await server.http.get("/api/v2/notifications", headers=bearer(token))
        groups = answer.json()["notification_groups"]
        return any(g["type"] == "favourite" and g["notifications_count"] == 2 for g in groups)
    await eventually(grouped_two, timeout=60)
    body = (await server.http.get("/api/v2/notifications", headers=bearer(token),
                                  params={"expand_accounts": "full"})).json()
    group = next(g for g in body["notification_groups"] if g["type"] == "favourite")
    assert set(group["sample_account_ids"]) == {str(bob.user_id), str(carol.user_id)}
    assert group["status_id"] == str(photo)
    assert str(photo) in {s["id"] for s in body["statuses"]}
    assert {str(bob.user_id), str(carol.user_id)} <= {a["id"] for a in body["accounts"]}
    assert group["group_key"].startswith("favourite-")
    by_key = await server.http.get(f"/api/v2/notifications/{group['group_key']}",
                                   headers=bearer(token))
    assert by_key.json()["notification_groups"] == [group]
    likers = await server.http.get(f"/api/v2/notifications/{group['group_key']}/accounts",
                                   headers=bearer(token))
    assert {a["id"] for a in likers.json()} == {str(bob.user_id), str(carol.user_id)}

    # Dismiss hides one (until it changes again); clear hides all.
    favourite_id = group["most_recent_notification_id"]
    await call(api.notifications_dismiss, favourite_id)
    assert favourite_id not in [str(n["id"]) for n in await notes(api)]
    gone = await server.http.get(f"/api/v1/notifications/{favourite_id}",
                                 headers=bearer(token))
    assert gone.status_code == 404 and gone.json() == {"error": "Record not found"}
    await world.like(dave, photo, alice)  # new activity in the same group: shown again

    async def back_again() -> bool:
        return favourite_id in [str(n["id"]) for n in await notes(api)]
    await eventually(back_again, timeout=60)
    await call(api.notifications_clear)
    assert await notes(api) == []
    assert (await call(api.notifications_unread_count))["count"] == 0


async def test_markers_round_trip_and_notifications_marker_is_the_read_mark(
        world: ReadWorld, server: Server) -> None:
    alice, api, token = await signed_in(server)
    bob = await sign_up(server)
    photo = await world.photo(alice, "marker")
    assert await call(api.markers_get, ["home", "notifications"]) == {}
    await world.like(bob, photo, alice)

    async def noted() -> bool:
        return len(await notes(api)) == 1
    await eventually(noted, timeout=60)
    note_id = str((await notes(api))[0]["id"])
    saved = await call(api.markers_set, ["home", "notifications"], [photo, note_id])
    assert str(saved["home"]["last_read_id"]) == str(photo)
    assert str(saved["notifications"]["last_read_id"]) == note_id
    got = await call(api.markers_get, ["home", "notifications"])
    assert str(got["home"]["last_read_id"]) == str(photo) and got["home"]["version"] == 1
    assert str(got["notifications"]["last_read_id"]) == note_id
    again = await call(api.markers_set, "home", photo - 1)
    assert again["home"]["version"] == 2
    only_home = await server.http.get("/api/v1/markers", params={"timeline[]": "home"},
                                      headers=bearer(token))
    assert set(only_home.json()) == {"home"}
    assert only_home.json()["home"]["last_read_id"] == str(photo - 1)
    # The notifications marker is /v1's read mark: the web app's badge follows it.
    assert (await world.get("/v1/notifications/unread", alice)).json()["count"] == 0
    bad = await server.http.post("/api/v1/markers", headers=bearer(token),
                                 json={"home": {"last_read_id": "abc"}})
    assert bad.status_code == 422 and "error" in bad.json()


class Collect(StreamListener):
    """What a Mastodon.py user stream received, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []
        self.connected = threading.Event()

    def on_update(self, status: Any) -> None:
        self.events.append(("update", status))

    def on_notification(self, notification: Any) -> None:
        self.events.append(("notification", notification))

    def on_delete(self, status_id: Any) -> None:
        self.events.append(("delete", status_id))

    def handle_heartbeat(self) -> None:
        self.connected.set()

    def ids(self, kind: str) -> list[str]:
        return [str(data["id"] if isinstance(data, dict) else data)
                for name, data in self.events if name == kind]


async def test_stream_user_delivers_update_notification_and_delete_never_private_ones(
        world: ReadWorld, server: Server) -> None:
    alice, api, token = await signed_in(server)
    bob, carol, mallory = [await sign_up(server) for _ in range(3)]
    await world.follow(alice, bob)
    await world.set_private(carol, True)
    await eventually(lambda: base._private(server, carol))
    await world.follow(alice, carol, wait=False)  # asked, never approved
    await world.follow(alice, mallory)
    mine = await world.photo(alice, "mine")
    # A post of mallory's mentioning alice, seen, then mallory blocks alice: gone.
    before_block = await world.photo(mallory, f"hey @{alice.username}")

    async def mentioned() -> bool:
        return any(n["type"] == "mention" for n in await notes(api))
    await eventually(mentioned, timeout=60)
    await world.block(mallory, alice)

    async def mention_gone() -> bool:
        return str(before_block) not in str(await notes(api))
    await eventually(mention_gone, timeout=60)

    listener = Collect()
    handle = await call(api.stream_user, listener, run_async=True)
    try:
        await asyncio.to_thread(listener.connected.wait, 30)
        assert listener.connected.is_set(), "the stream opened"
        secret = await world.photo(carol, f"private, @{alice.username}")
        blocked = await world.photo(mallory, f"again @{alice.username}")
        posted = await world.photo(bob, "for my followers")
        own = await world.photo(alice, "my own post is in my home feed too")
        await world.like(bob, mine, alice)

        async def delivered() -> bool:
            return {str(posted), str(own)} <= set(listener.ids("update")) and any(
                str(n["status"]["id"]) == str(mine) for n in
                (data for name, data in listener.events if name == "notification"))
        await eventually(delivered, timeout=60)
        update = next(data for name, data in listener.events
                      if name == "update" and str(data["id"]) == str(posted))
        assert str(update["account"]["id"]) == str(bob.user_id)
        assert update["media_attachments"][0]["url"]
        await world.delete(bob, posted)

        async def deleted() -> bool:
            return str(posted) in listener.ids("delete")
        await eventually(deleted, timeout=60)
    finally:
        await asyncio.to_thread(handle.close)
    everything = str(listener.events) + str(await notes(api))
    for hidden in (secret, blocked, before_block):
        assert str(hidden) not in everything, hidden
    home = await server.http.get("/api/v1/timelines/home", headers=bearer(token))
    assert str(secret) not in home.text and str(blocked) not in home.text


async def sse(response: httpx.Response, want: int,
              only: str | None = None) -> list[dict[str, str]]:
    """The first ``want`` events of an open SSE response (comments skipped; with
    ``only``: events of that type only)."""
    events: list[dict[str, str]] = []
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if event and (only is None or event.get("event") == only):
                events.append(event)
            if event:
                event = {}
                if len(events) >= want:
                    return events
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        event[key] = value
    return events


async def test_stream_resumes_after_reconnect_with_last_event_id(
        world: ReadWorld, server: Server) -> None:
    alice, _api, token = await signed_in(server, "read")
    bob, carol = await sign_up(server), await sign_up(server)
    first_photo = await world.photo(alice, "one")
    second_photo = await world.photo(alice, "two")
    assert (await server.http.get("/api/v1/streaming/health")).text == "OK"
    url = "/api/v1/streaming"
    async with server.http.stream("GET", url, params={"stream": "user",
                                                      "access_token": token}) as opened:
        assert opened.status_code == 200
        assert opened.headers["content-type"].startswith("text/event-stream")
        await world.like(bob, first_photo, alice)
        # The author's own posts may still arrive as `update`s (the fan-out's k=o rows
        # land after world.photo returns): this test is about the notifications.
        [got] = await asyncio.wait_for(sse(opened, 1, only="notification"), 60)
    assert got["event"] == "notification"
    # While disconnected: carol likes the other photo. The reconnect gets it, and only it.
    await world.like(carol, second_photo, alice)

    async def stored() -> bool:
        return len(await notes(client(server, token))) == 2
    await eventually(stored, timeout=60)
    async with server.http.stream("GET", "/api/v1/streaming/user", headers={
            **bearer(token), "Last-Event-ID": got["id"]}) as resumed:
        [missed] = await asyncio.wait_for(sse(resumed, 1, only="notification"), 60)
    assert missed["event"] == "notification"
    assert f'"id":"{carol.user_id}"' in missed["data"]
    assert f'"id":"{bob.user_id}"' not in missed["data"]  # not what it had before
    assert position(missed["id"]) > position(got["id"])


def position(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


async def test_bad_input_and_scopes_are_mastodon_errors_never_500(
        world: ReadWorld, server: Server) -> None:
    _alice, _api, token = await signed_in(server, "read")
    _bob, _bob_api, statuses_only = await signed_in(server, "read:statuses")
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/api/v1/notifications", {}, 401),
        ("GET", "/api/v1/notifications", {"headers": bearer(statuses_only)}, 403),
        ("GET", "/api/v1/notifications/abc", {"headers": bearer(token)}, 404),
        ("GET", "/api/v1/notifications/99999999999999999999999",
         {"headers": bearer(token)}, 404),
        ("GET", "/api/v1/notifications/12345", {"headers": bearer(token)}, 404),
        ("GET", "/api/v1/notifications", {"headers": bearer(token),
                                          "params": {"max_id": "x1"}}, 422),
        ("GET", "/api/v1/notifications", {"headers": bearer(token),
                                          "params": {"limit": "lots", "types[]": "bogus"}},
         200),
        ("GET", "/api/v2/notifications", {"headers": bearer(token),
                                          "params": {"account_id": "nope"}}, 200),
        ("GET", "/api/v2/notifications/favourite-abc", {"headers": bearer(token)}, 404),
        ("GET", "/api/v2/notifications/ungrouped-12345/accounts",
         {"headers": bearer(token)}, 404),
        ("POST", "/api/v1/notifications/clear", {"headers": bearer(token)}, 403),
        ("POST", "/api/v1/notifications/12345/dismiss", {"headers": bearer(token)}, 403),
        ("POST", "/api/v1/markers", {"headers": bearer(token)}, 403),
        ("GET", "/api/v1/markers", {"headers": bearer(statuses_only),
                                    "params": {"timeline[]": "nonsense"}}, 200),
        ("GET", "/api/v1/streaming", {"headers": bearer(token),
                                      "params": {"stream": "public"}}, 400),
        ("GET", "/api/v1/streaming/user", {}, 401),
        ("GET", "/api/v1/streaming/user", {"params": {"access_token": "not-a-token"}}, 401),
        ("GET", "/api/v1/streaming/user/notification", {"headers": bearer(statuses_only)},
         403),
        ("GET", "/api/v1/streaming/user", {"headers": {**bearer(token),
                                                       "Last-Event-ID": "yesterday"}}, 422),
    ]
    for method, path, options, status in cases:
        answer = await server.http.request(method, path, **options)
        assert answer.status_code == status, (path, options, answer.text)
        if status != 200:
            assert "error" in answer.json(), (path, answer.text)
    _writer, _writer_api, write_token = await signed_in(server, "read write")
    for path in ("/api/v1/notifications/abc/dismiss", "/api/v1/notifications/12345/dismiss",
                 "/api/v2/notifications/ungrouped-x/dismiss"):
        answer = await server.http.post(path, headers=bearer(write_token))
        assert answer.status_code == 404 and answer.json() == {"error": "Record not found"}
    writes: list[tuple[dict[str, Any], int]] = [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": {"notifications[last_read_id]": "9" * 25}}, 422),
        ({"json": {"home": {"last_read_id": -5}}}, 422),
        ({"json": {"home": "not an object", "unknown": 1}}, 200),
    ]
    for options, status in writes:
        headers = {**bearer(write_token), **options.pop("headers", {})}
        answer = await server.http.post("/api/v1/markers", headers=headers, **options)
        assert answer.status_code == status, (options, answer.text)
    odd = await server.http.get("/api/v1/notifications", headers=bearer(write_token),
                                params={"min_id": "0", "limit": "0", "exclude_types[]": "x"})
    assert odd.status_code == 200 and odd.json() == []
