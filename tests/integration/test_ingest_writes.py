"""The ingest write endpoints (docs/http-api.md, "Ingest") against the real stack.

Ingest runs in-process (httpx ASGITransport, lifespan entered by hand); the processors
and the read API run as in :mod:`tests.integration.readside`, so the lookups ingest
makes (photo owner, account exists, pending request) read state the real processors
wrote. Each write is checked on Kafka: exactly the expected event was appended to its
catalogue topic during the request. Bad input is checked for its problem+json.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from minio import Minio

from infra.http.problems import PROBLEM_JSON
from infra.settings import Settings
from producers.ingest import create_app
from schemas.engagement import CommentAdded, CommentDeleted, LikeAdded, LikeRemoved, StoryPosted
from schemas.envelope import Event, decode
from schemas.graph import FollowApproved, FollowRejected, FollowRemoved, FollowRequested
from schemas.media import PhotoCaptionEdited, PhotoDeleted
from schemas.payload import Payload
from schemas.topics import COMMENTS, FOLLOWS, LIKES, PHOTOS, STORIES, USERS, Topic
from schemas.users import UserProfileUpdated, UserRegistered
from sinks.media_keys import story_key
from tests.integration.kafka_tail import end_offsets, records_since
from tests.integration.readside import Person, ReadWorld, read_world
from tests.support.images import image_bytes

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield client


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(world.settings):
        yield client


async def published(settings: Settings, topic: Topic,
                    action: Callable[[], Awaitable[httpx.Response]]
                    ) -> tuple[httpx.Response, list[Event[Payload]]]:
    """Run ``action``; return its response and the events it appended to ``topic``."""
    before = await end_offsets(settings, topic.name)
    response = await action()
    return response, [decode(r.value) for r in await records_since(settings, before)]


def mine(events: list[Event[Payload]], kind: type[Payload], **fields: Any) -> list[Payload]:
    """The payloads of type ``kind`` whose fields equal ``fields`` (others' records on a
    shared topic are ignored)."""
    return [e.payload for e in events if isinstance(e.payload, kind)
            and all(getattr(e.payload, k) == v for k, v in fields.items())]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def names_field(body: dict[str, Any], location: str) -> None:
    assert location in body["detail"], body
    assert location in [e["location"] for e in body["errors"]], body


# -- likes ---------------------------------------------------------------------------------


async def test_like_and_unlike_publish_with_the_owner(world: ReadWorld,
                                                      ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    pid = await world.photo(alice, "a #beach")
    url = f"/v1/photos/{pid}/likes"
    response, events = await published(world.settings, LIKES,
                                       lambda: ingest.post(url, headers=bob.auth))
    assert response.status_code == 202, response.text
    assert mine(events, LikeAdded, photo_id=pid) == [
        LikeAdded(photo_id=pid, user_id=bob.user_id, owner_id=alice.user_id)]

    async def counted() -> bool:
        card = (await world.get(f"/v1/photos/{pid}", bob)).json()
        return bool(card["like_count"] == 1 and card["liked_by_me"])
    await world.until(counted)

    response, events = await published(world.settings, LIKES,
                                       lambda: ingest.delete(url, headers=bob.auth))
    assert response.status_code == 202
    assert mine(events, LikeRemoved, photo_id=pid) == [
        LikeRemoved(photo_id=pid, user_id=bob.user_id, owner_id=alice.user_id)]


async def test_like_of_unknown_deleted_or_hidden_photo_is_404(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    bob, carol = await world.user(), await world.user(private=True)
    unknown = random.getrandbits(62)
    problem(await ingest.post(f"/v1/photos/{unknown}/likes", headers=bob.auth), 404)
    hidden = await world.photo(carol, "private")
    problem(await ingest.post(f"/v1/photos/{hidden}/likes", headers=bob.auth), 404)
    assert (await ingest.post(f"/v1/photos/{hidden}/likes", headers=carol.auth)
            ).status_code == 202  # the owner may like their own photo
    gone = await world.photo(bob, "soon gone")
    await world.delete(bob, gone)
    await world.until(lambda: _status(world, bob, gone, 404))
    problem(await ingest.post(f"/v1/photos/{gone}/likes", headers=bob.auth), 404)


async def _status(world: ReadWorld, who: Person, photo_id: int, status: int) -> bool:
    return (await world.get(f"/v1/photos/{photo_id}", who)).status_code == status


async def test_bad_ids_are_422_naming_the_parameter_and_tokens_are_checked(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    bob = await world.user()
    body = problem(await ingest.post("/v1/photos/abc/likes", headers=bob.auth), 422)
    names_field(body, "path.photo_id")
    body = problem(await ingest.post(f"/v1/photos/{2**63}/likes", headers=bob.auth), 422)
    names_field(body, "path.photo_id")
    missing = await ingest.post("/v1/photos/1/likes")
    problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = await ingest.post("/v1/photos/1/likes",
                               headers={"Authorization": "Bearer not.a.token"})
    problem(forged, 401)
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]


# -- comments ------------------------------------------------------------------------------


async def test_comment_publishes_and_answers_its_id(world: ReadWorld,
                                                    ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    pid = await world.photo(alice, "comment me")
    response, events = await published(world.settings, COMMENTS, lambda: ingest.post(
        f"/v1/photos/{pid}/comments", headers=bob.auth, json={"text": "  lovely light  "}))
    assert response.status_code == 202, response.text
    comment_id = response.json()["comment_id"]
    assert isinstance(comment_id, str)
    assert mine(events, CommentAdded, photo_id=pid) == [CommentAdded(
        comment_id=int(comment_id), photo_id=pid, owner_id=alice.user_id,
        user_id=bob.user_id, text="lovely light")]

    async def listed() -> bool:
        r = await world.get(f"/v1/photos/{pid}/comments", alice)
        return [c["comment_id"] for c in r.json()["items"]] == [comment_id]
    await world.until(listed)


@pytest.mark.parametrize(("body", "location"), [
    ({"text": ""}, "body.text"),
    ({"text": "   "}, "body.text"),
    ({"text": "x" * 2201}, "body.text"),
    ({}, "body.text"),
    ({"text": 5}, "body.text"),
    ({"text": "hi", "extra": 1}, "body.extra"),
])
async def test_bad_comment_bodies_are_422_naming_the_field(
        world: ReadWorld, ingest: httpx.AsyncClient, body: dict[str, Any],
        location: str) -> None:
    alice = await world.user()
    pid = await world.photo(alice)
    response, events = await published(world.settings, COMMENTS, lambda: ingest.post(
        f"/v1/photos/{pid}/comments", headers=alice.auth, json=body))
    names_field(problem(response, 422), location)
    assert mine(events, CommentAdded, photo_id=pid) == []


async def test_comment_delete_by_author_or_owner_only(world: ReadWorld,
                                                      ingest: httpx.AsyncClient) -> None:
    alice, bob, eve = await world.user(), await world.user(), await world.user()
    pid = await world.photo(alice)
    comment_ids = []
    for text in ("first", "second"):
        r = await ingest.post(f"/v1/photos/{pid}/comments", headers=bob.auth,
                              json={"text": text})
        comment_ids.append(r.json()["comment_id"])

    async def stored() -> bool:
        r = await world.get(f"/v1/photos/{pid}/comments", alice)
        return len(r.json()["items"]) == 2
    await world.until(stored)
    first, second = comment_ids
    problem(await ingest.delete(f"/v1/photos/{pid}/comments/{first}", headers=eve.auth), 403)
    problem(await ingest.delete(f"/v1/photos/{pid}/comments/{random.getrandbits(62)}",
                                headers=bob.auth), 404)
    for who, cid in ((bob, first), (alice, second)):  # the author, then the photo's owner
        def delete(w: Person = who, c: str = cid) -> Awaitable[httpx.Response]:
            return ingest.delete(f"/v1/photos/{pid}/comments/{c}", headers=w.auth)
        response, events = await published(world.settings, COMMENTS, delete)
        assert response.status_code == 202, response.text
        assert mine(events, CommentDeleted, photo_id=pid) == [CommentDeleted(
            comment_id=int(cid), photo_id=pid, owner_id=alice.user_id, user_id=bob.user_id)]


# -- the owner's edits ---------------------------------------------------------------------


async def test_caption_edit_keeps_the_omitted_field_and_is_owner_only(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    pid = await world.photo(alice, "old caption")
    await world.publish(PhotoCaptionEdited(photo_id=pid, owner_id=alice.user_id,
                                           caption="old caption", title="My title"))

    async def titled() -> bool:
        return bool((await world.get(f"/v1/photos/{pid}", alice)).json()["title"])
    await world.until(titled)
    problem(await ingest.patch(f"/v1/photos/{pid}", headers=bob.auth,
                               json={"caption": "mine now"}), 403)
    response, events = await published(world.settings, PHOTOS, lambda: ingest.patch(
        f"/v1/photos/{pid}", headers=alice.auth, json={"caption": "new #caption"}))
    assert response.status_code == 202, response.text
    assert mine(events, PhotoCaptionEdited, photo_id=pid) == [PhotoCaptionEdited(
        photo_id=pid, owner_id=alice.user_id, caption="new #caption", title="My title")]
    body = problem(await ingest.patch(f"/v1/photos/{pid}", headers=alice.auth,
                                      json={"caption": "x" * 2201}), 422)
    names_field(body, "body.caption")


async def test_delete_photo_is_owner_only_then_gone(world: ReadWorld,
                                                    ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    pid = await world.photo(alice)
    problem(await ingest.delete(f"/v1/photos/{pid}", headers=bob.auth), 403)
    response, events = await published(world.settings, PHOTOS, lambda: ingest.delete(
        f"/v1/photos/{pid}", headers=alice.auth))
    assert response.status_code == 202
    assert mine(events, PhotoDeleted, photo_id=pid) == [
        PhotoDeleted(photo_id=pid, owner_id=alice.user_id)]
    await world.until(lambda: _status(world, alice, pid, 404))
    problem(await ingest.delete(f"/v1/photos/{pid}", headers=alice.auth), 404)


# -- follows -------------------------------------------------------------------------------


async def test_follow_and_unfollow(world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice, bob = await world.user(), await world.user()
    url = f"/v1/users/{alice.user_id}/follow"
    response, events = await published(world.settings, FOLLOWS,
                                       lambda: ingest.post(url, headers=bob.auth))
    assert response.status_code == 202, response.text
    assert mine(events, FollowRequested, followee_id=alice.user_id) == [
        FollowRequested(follower_id=bob.user_id, followee_id=alice.user_id)]
    await world.until(lambda: world.state(bob, alice, "following"))
    response, events = await published(world.settings, FOLLOWS,
                                       lambda: ingest.delete(url, headers=bob.auth))
    assert response.status_code == 202
    assert mine(events, FollowRemoved, followee_id=alice.user_id) == [
        FollowRemoved(follower_id=bob.user_id, followee_id=alice.user_id)]
    await world.until(lambda: world.state(bob, alice, "none"))


async def test_follow_of_unknown_user_or_self_is_refused(world: ReadWorld,
                                                         ingest: httpx.AsyncClient) -> None:
    bob = await world.user()
    problem(await ingest.post(f"/v1/users/{random.getrandbits(62)}/follow",
                              headers=bob.auth), 404)
    names_field(problem(await ingest.post(f"/v1/users/{bob.user_id}/follow",
                                          headers=bob.auth), 422), "path.user_id")
    names_field(problem(await ingest.post("/v1/users/-1/follow", headers=bob.auth), 422),
                "path.user_id")


async def test_private_account_approves_and_rejects_requests(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    carol = await world.user(private=True)
    bob, dave = await world.user(), await world.user()
    for who in (bob, dave):
        assert (await ingest.post(f"/v1/users/{carol.user_id}/follow", headers=who.auth)
                ).status_code == 202
        def requested(w: Person = who) -> Awaitable[bool]:
            return world.state(w, carol, "requested")
        await world.until(requested)
    problem(await ingest.post(f"/v1/follow-requests/{random.getrandbits(62)}/approve",
                              headers=carol.auth), 404)
    response, events = await published(world.settings, FOLLOWS, lambda: ingest.post(
        f"/v1/follow-requests/{bob.user_id}/approve", headers=carol.auth))
    assert response.status_code == 202, response.text
    assert mine(events, FollowApproved, followee_id=carol.user_id) == [
        FollowApproved(follower_id=bob.user_id, followee_id=carol.user_id)]
    response, events = await published(world.settings, FOLLOWS, lambda: ingest.post(
        f"/v1/follow-requests/{dave.user_id}/reject", headers=carol.auth))
    assert response.status_code == 202
    assert mine(events, FollowRejected, followee_id=carol.user_id) == [
        FollowRejected(follower_id=dave.user_id, followee_id=carol.user_id)]
    await world.until(lambda: world.state(bob, carol, "following"))
    await world.until(lambda: world.state(dave, carol, "none"))
    # Nobody can approve themselves into someone's followers without a request.
    problem(await ingest.post(f"/v1/follow-requests/{dave.user_id}/approve",
                              headers=carol.auth), 404)


# -- profile -------------------------------------------------------------------------------


async def test_profile_update_merges_into_the_whole_profile(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    alice = await world.user()
    response, events = await published(world.settings, USERS, lambda: ingest.patch(
        "/v1/me", headers=alice.auth, json={"bio": "I shoot film", "private": True}))
    assert response.status_code == 202, response.text
    assert mine(events, UserProfileUpdated, user_id=alice.user_id) == [UserProfileUpdated(
        user_id=alice.user_id, username=alice.username, display_name=alice.username,
        bio="I shoot film", private=True)]

    async def private() -> bool:
        return bool((await world.get("/v1/me", alice)).json()["private"])
    await world.until(private)


@pytest.mark.parametrize(("body", "location"), [
    ({"bio": "x" * 151}, "body.bio"),
    ({"display_name": "x" * 65}, "body.display_name"),
    ({"private": "maybe"}, "body.private"),
    ({"username": "renamed"}, "body.username"),
])
async def test_bad_profile_bodies_are_422_naming_the_field(
        world: ReadWorld, ingest: httpx.AsyncClient, body: dict[str, Any],
        location: str) -> None:
    alice = await world.user()
    names_field(problem(await ingest.patch("/v1/me", headers=alice.auth, json=body), 422),
                location)


# -- stories -------------------------------------------------------------------------------


async def test_story_is_stored_then_announced(world: ReadWorld, ingest: httpx.AsyncClient,
                                              s3_client: Minio) -> None:
    alice = await world.user()
    image = image_bytes(32, 24, (10, 200, 90))
    response, events = await published(world.settings, STORIES, lambda: ingest.post(
        "/v1/stories", headers=alice.auth, files={"file": ("s.jpg", image, "image/jpeg")}))
    assert response.status_code == 202, response.text
    story_id = int(response.json()["story_id"])
    [posted] = mine(events, StoryPosted, user_id=alice.user_id)
    assert isinstance(posted, StoryPosted)
    assert (posted.story_id, posted.media_key) == (story_id, story_key(story_id))
    stored = s3_client.get_object(world.settings.s3.media_bucket, story_key(story_id))
    try:
        assert stored.read() == image
        assert stored.headers["content-type"] == "image/jpeg"
    finally:
        stored.close()
        stored.release_conn()

    async def in_tray() -> bool:
        tray = (await world.get("/v1/stories", alice)).json()["tray"]
        return [s["story_id"] for r in tray for s in r["stories"]] == [str(story_id)]
    await world.until(in_tray)


async def test_story_that_is_not_an_image_is_415(world: ReadWorld,
                                                 ingest: httpx.AsyncClient) -> None:
    alice = await world.user()
    response, events = await published(world.settings, STORIES, lambda: ingest.post(
        "/v1/stories", headers=alice.auth,
        files={"file": ("notes.txt", b"just some text, honest", "image/jpeg")}))
    assert "image" in problem(response, 415)["detail"]
    assert mine(events, StoryPosted, user_id=alice.user_id) == []


# -- dev sign-in ---------------------------------------------------------------------------


async def test_dev_session_registers_once_and_mints_a_working_token(
        world: ReadWorld, ingest: httpx.AsyncClient) -> None:
    name = f"dev_{random.getrandbits(40):x}"
    response, events = await published(world.settings, USERS, lambda: ingest.post(
        "/v1/dev/session", json={"username": name.upper()}))
    assert response.status_code == 200, response.text
    first = response.json()
    assert first["created"] is True and first["username"] == name
    assert mine(events, UserRegistered, username=name) == [UserRegistered(
        user_id=int(first["user_id"]), username=name, display_name=name, bio="",
        private=False)]
    me = await world.http.get("/v1/me", headers={"Authorization": f"Bearer {first['token']}"})
    assert me.status_code == 200 and me.json()["username"] == name

    response, events = await published(world.settings, USERS, lambda: ingest.post(
        "/v1/dev/session", json={"username": name}))
    again = response.json()
    assert (again["created"], again["user_id"]) == (False, first["user_id"])
    assert mine(events, UserRegistered, username=name) == []


@pytest.mark.parametrize("username", ["", "has space", "x" * 31, "émile"])
async def test_dev_session_bad_username_is_422(ingest: httpx.AsyncClient,
                                               username: str) -> None:
    body = problem(await ingest.post("/v1/dev/session", json={"username": username}), 422)
    names_field(body, "body.username")


async def test_dev_session_exists_only_in_dev(world: ReadWorld) -> None:
    production = dataclasses.replace(world.settings, env="production")
    async for client in _client(production):
        problem(await client.post("/v1/dev/session", json={"username": "mallory"}), 404)


# -- CORS ----------------------------------------------------------------------------------


async def test_cors_allows_the_web_apps_origin_only(ingest: httpx.AsyncClient,
                                                    world: ReadWorld) -> None:
    def preflight(origin: str) -> Awaitable[httpx.Response]:
        return ingest.options("/v1/photos/1/likes", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})
    web = f"http://127.0.0.1:{world.settings.api.port}"
    allowed = await preflight(web)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == web
    refused = await preflight("http://evil.example")
    assert "access-control-allow-origin" not in refused.headers
