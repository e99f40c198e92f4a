"""The second slice of the Mastodon API (docs/mastodon-api.md) with the real Mastodon.py
client against the real stack: profile edits, follower lists, follow requests, account
search, deleting, likers, replies as comments, alt-text edits, the hashtag timeline,
``/api/v2/search`` and the home timeline's 206.

Same server and processors as :mod:`tests.integration.test_mastodon_api` (its fixtures,
reused). Every write is checked where ``/v1`` shows it, so the test pins that it
published ``/v1``'s own event; every list is checked for a private account's posts and
a blocking account's content, which must never show.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from typing import Any

import httpx
import pytest
from mastodon import Mastodon

from infra.connect import redis as redis_connect
from infra.settings import RateLimitSettings
from producers.ingest import create_app
from sinks.redis_timelines import RedisTimelines
from tests.integration import test_mastodon_api as base
from tests.integration.readside import Person, ReadWorld
from tests.integration.test_mastodon_api import (
    Server,
    bearer,
    client,
    password_token,
    sign_up,
)
from tests.integration.test_rate_limits import WINDOW, window_start
from tests.integration.waiting import eventually
from tests.support.images import jpeg_bytes

pytestmark = [pytest.mark.slow, pytest.mark.stack]

world = base.world  # the same module-scoped fixtures: processors, ingest under uvicorn
server = base.server


async def token_of(server: Server, person: Person, scope: str = "read write follow") -> str:
    return (await password_token(server, person, scope))[2]


async def call(api: Mastodon, method: str, *args: Any, **kwargs: Any) -> Any:
    """A Mastodon.py call off the event loop (it is a blocking client)."""
    return await asyncio.to_thread(getattr(api, method), *args, **kwargs)


async def ids_of_pages(api: Mastodon, first: Any) -> list[list[str]]:
    """Every page from ``first`` on, through the ``Link`` header (``fetch_next``)."""
    pages, page = [], first
    while page:
        pages.append([str(item["id"]) for item in page])
        page = await call(api, "fetch_next", page)
    return pages


async def test_update_credentials_round_trip_is_the_v1_profile_edit(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    api = client(server, await token_of(server, alice, "read write"))
    answer = await call(api, "account_update_credentials", display_name="Alice A.",
                        note="shoots film", locked=True, avatar=jpeg_bytes(64, 64),
                        avatar_mime_type="image/jpeg")
    assert answer["display_name"] == "Alice A." and answer["locked"] is True
    assert answer["source"]["note"] == "shoots film" and "shoots film" in answer["note"]

    async def stored() -> bool:  # user.profile_updated, applied by the graph processor
        me = await call(api, "account_verify_credentials")
        v1 = (await world.get(f"/v1/users/{alice.user_id}", alice)).json()
        return (me["display_name"] == "Alice A." and me["locked"] is True
                and v1["display_name"] == "Alice A." and v1["bio"] == "shoots film"
                and v1["private"] is True)
    await eventually(stored, timeout=60)
    back = await call(api, "account_update_credentials", locked=False)
    assert back["locked"] is False and back["display_name"] == "Alice A."
    read_only = await token_of(server, alice, "read")
    refused = await server.http.patch("/api/v1/accounts/update_credentials",
                                      headers=bearer(read_only), data={"note": "x"})
    assert refused.status_code == 403 and "error" in refused.json()


async def test_followers_and_following_page_through_link_and_keep_private_lists_private(
        world: ReadWorld, server: Server) -> None:
    alice, carol, dave, erin = [await sign_up(server) for _ in range(4)]
    star = await world.user(prefix="star")
    fans = [await world.user(prefix="fan") for _ in range(5)]
    for fan in fans:
        await world.follow(fan, star)
    followed = [await world.user(prefix="idol") for _ in range(3)]
    for idol in followed:
        await world.follow(alice, idol)
    api = client(server, await token_of(server, alice))
    pages = await ids_of_pages(api, await call(api, "account_followers", star.user_id,
                                               limit=2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [int(uid) for page in pages for uid in page] == sorted(f.user_id for f in fans)
    pages = await ids_of_pages(api, await call(api, "account_following", alice.user_id,
                                               limit=2))
    assert sorted(int(uid) for page in pages for uid in page) == sorted(
        i.user_id for i in followed)

    # carol is locked: her lists are dave's (approved) and hers, not erin's (a request).
    carol_api = client(server, await token_of(server, carol))
    await call(carol_api, "account_update_credentials", locked=True)
    await eventually(lambda: base._private(server, carol))
    await world.follow(dave, carol, approve=True)
    await world.follow(erin, carol, wait=False)
    await world.follow(carol, star)
    for person, shown in ((dave, True), (erin, False), (carol, True)):
        viewer = client(server, await token_of(server, person, "read"))
        listed = await call(viewer, "account_followers", carol.user_id)
        follows = await call(viewer, "account_following", carol.user_id)
        assert (str(dave.user_id) in [str(a["id"]) for a in listed]) is shown, person
        assert (str(star.user_id) in [str(a["id"]) for a in follows]) is shown, person

    # A blocking account is in nobody's view of lists, its own lists are empty to them.
    await world.block(fans[0], alice)

    async def hidden() -> bool:
        listed = await call(api, "account_followers", star.user_id, limit=40)
        return str(fans[0].user_id) not in [str(a["id"]) for a in listed]
    await eventually(hidden, timeout=60)
    assert await call(api, "account_following", fans[0].user_id) == []


async def test_follow_a_locked_account_then_authorize_and_reject_requests(
        world: ReadWorld, server: Server) -> None:
    carol, dave, erin = [await sign_up(server) for _ in range(3)]
    carol_api = client(server, await token_of(server, carol))
    await call(carol_api, "account_update_credentials", locked=True)
    await eventually(lambda: base._private(server, carol))
    dave_api = client(server, await token_of(server, dave))
    erin_api = client(server, await token_of(server, erin))
    for api in (dave_api, erin_api):
        asked = await call(api, "account_follow", carol.user_id)
        assert asked["requested"] is True and asked["following"] is False

    async def both_waiting() -> bool:
        waiting = await call(carol_api, "follow_requests")
        return {str(a["id"]) for a in waiting} == {str(dave.user_id), str(erin.user_id)}
    await eventually(both_waiting, timeout=60)
    read_only = await token_of(server, carol, "read")
    refused = await server.http.post(f"/api/v1/follow_requests/{dave.user_id}/authorize",
                                     headers=bearer(read_only))
    assert refused.status_code == 403
    approved = await call(carol_api, "follow_request_authorize", dave.user_id)
    assert approved["followed_by"] is True and approved["id"] in (dave.user_id,
                                                                  str(dave.user_id))
    rejected = await call(carol_api, "follow_request_reject", erin.user_id)
    assert rejected["followed_by"] is False

    async def decided() -> bool:  # follow.approved / follow.rejected, as /v1 publishes
        dave_state = (await call(dave_api, "account_relationships", [carol.user_id]))[0]
        erin_state = (await call(erin_api, "account_relationships", [carol.user_id]))[0]
        return (bool(dave_state["following"]) and not erin_state["following"]
                and not erin_state["requested"]
                and await call(carol_api, "follow_requests") == [])
    await eventually(decided, timeout=60)
    again = await server.http.post(f"/api/v1/follow_requests/{erin.user_id}/authorize",
                                   headers=bearer(await token_of(server, carol)))
    assert again.status_code == 404 and again.json() == {"error": "Record not found"}


async def test_account_search_finds_a_prefix_but_not_across_a_block(
        world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    api = client(server, await token_of(server, alice))

    async def indexed() -> bool:  # the username index is the graph processor's
        found = await call(api, "account_search", bob.username[:9])
        return str(bob.user_id) in [str(a["id"]) for a in found]
    await eventually(indexed, timeout=60)
    found = await call(api, "account_search", f"@{bob.username}", limit=5)
    assert [str(a["id"]) for a in found] == [str(bob.user_id)]
    await world.block(bob, alice)

    async def hidden() -> bool:
        hits = await call(api, "account_search", bob.username)
        v2 = await call(api, "search_v2", bob.username)
        return hits == [] and v2["accounts"] == []
    await eventually(hidden, timeout=60)


async def test_status_delete_answers_the_status_and_publishes_the_v1_delete(
        world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    mine = await world.photo(alice, "to be deleted #gone")
    kept = await world.photo(alice, "to be kept")
    api = client(server, await token_of(server, alice))
    bob_token = await token_of(server, bob)
    not_hers = await server.http.delete(f"/api/v1/statuses/{kept}", headers=bearer(bob_token))
    assert not_hers.status_code == 404
    read_only = await token_of(server, alice, "read")
    refused = await server.http.delete(f"/api/v1/statuses/{kept}", headers=bearer(read_only))
    assert refused.status_code == 403
    deleted = await call(api, "status_delete", mine)
    assert str(deleted["id"]) == str(mine) and deleted["text"] == "to be deleted #gone"

    async def gone() -> bool:  # photo.deleted, applied by the processors
        answer = await server.http.get(f"/api/v1/statuses/{mine}",
                                       headers=bearer(bob_token))
        v1 = await world.get(f"/v1/photos/{mine}", alice)
        return answer.status_code == 404 and v1.status_code == 404
    await eventually(gone, timeout=60)
    assert (await server.http.get(f"/api/v1/statuses/{kept}",
                                  headers=bearer(bob_token))).status_code == 200


async def test_favourited_by_lists_likers_but_no_blocking_one_and_no_private_post(
        world: ReadWorld, server: Server) -> None:
    alice, dave, erin = [await sign_up(server) for _ in range(3)]
    bob, carol = await world.user(prefix="bob"), await world.user(prefix="carol")
    photo = await world.photo(alice, "liked")
    await world.like(bob, photo, alice)
    await world.like(carol, photo, alice)
    await world.block(carol, dave)
    api = client(server, await token_of(server, dave))

    async def likers() -> bool:
        found = {str(a["id"]) for a in await call(api, "status_favourited_by", photo)}
        return found == {str(bob.user_id)}
    await eventually(likers, timeout=60)
    alice_api = client(server, await token_of(server, alice))
    mine = {str(a["id"]) for a in await call(alice_api, "status_favourited_by", photo)}
    assert mine == {str(bob.user_id), str(carol.user_id)}

    secret = await world.photo(carol, "private")
    await world.set_private(carol, True)
    await world.like(bob, secret, carol)
    await eventually(lambda: base._private(server, carol))
    hidden = await server.http.get(f"/api/v1/statuses/{secret}/favourited_by",
                                   headers=bearer(await token_of(server, erin)))
    assert hidden.status_code == 404 and str(bob.user_id) not in hidden.text


async def test_a_reply_is_a_comment_and_the_context_lists_the_comments(
        world: ReadWorld, server: Server) -> None:
    alice, bob, erin = [await sign_up(server) for _ in range(3)]
    carol = await world.user(prefix="carol")
    photo = await world.photo(bob, "a photo to talk about")
    api = client(server, await token_of(server, alice))
    status = await call(api, "status", photo)
    reply = await call(api, "status_reply", status, "lovely light")
    assert str(reply["in_reply_to_id"]) == str(photo)
    assert str(reply["in_reply_to_account_id"]) == str(bob.user_id)
    assert "lovely light" in reply["content"] and reply["media_attachments"] == []
    await world.comment(carol, photo, bob, "carol was here")

    async def threaded() -> bool:  # comment.added, stored by the engagement processor
        found = await call(api, "status_context", photo)
        ids = [str(s["id"]) for s in found["descendants"]]
        return found["ancestors"] == [] and len(ids) == 2 and ids[0] == str(reply["id"])
    await eventually(threaded, timeout=60)
    v1 = (await world.get(f"/v1/photos/{photo}/comments", bob)).json()["items"]
    assert "@" in v1[-1]["text"] and "lovely light" in v1[-1]["text"]
    again = await call(api, "status", reply["id"])
    assert again["content"] == reply["content"]
    up = await call(api, "status_context", reply["id"])
    assert [str(s["id"]) for s in up["ancestors"]] == [str(photo)]

    # carol blocks alice: her comment leaves alice's context, not bob's.
    await world.block(carol, alice)

    async def carol_hidden() -> bool:
        found = await call(api, "status_context", photo)
        return [str(s["account"]["id"]) for s in found["descendants"]] == [
            str(alice.user_id)]
    await eventually(carol_hidden, timeout=60)
    bob_api = client(server, await token_of(server, bob))
    assert len((await call(bob_api, "status_context", photo))["descendants"]) == 2

    # Deleting the reply is comment.deleted.
    deleted = await call(api, "status_delete", reply["id"])
    assert "lovely light" in deleted["text"]

    async def removed() -> bool:
        found = await call(bob_api, "status_context", photo)
        return str(reply["id"]) not in [str(s["id"]) for s in found["descendants"]]
    await eventually(removed, timeout=60)

    # A reply carries no media; a private photo takes no reply from a stranger.
    with_media = await server.http.post(
        "/api/v1/statuses", headers=bearer(await token_of(server, alice)),
        data={"status": "x", "in_reply_to_id": str(photo), "media_ids[]": "1"})
    assert with_media.status_code == 422
    await world.set_private(bob, True)
    await eventually(lambda: base._private(server, bob))
    erin_token = await token_of(server, erin)
    comment_id = await world.comment(bob, photo, bob, "still here")
    for path in (f"/api/v1/statuses/{photo}/context", f"/api/v1/statuses/{photo}-{comment_id}",
                 f"/api/v1/statuses/{photo}-{comment_id}/context"):
        hidden = await server.http.get(path, headers=bearer(erin_token))
        assert hidden.status_code == 404 and "still here" not in hidden.text, path
    stranger = await server.http.post("/api/v1/statuses", headers=bearer(erin_token),
                                      data={"status": "hi", "in_reply_to_id": str(photo)})
    assert stranger.status_code == 404


async def test_media_update_edits_the_alt_text(world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    token = await token_of(server, alice, "read write")
    api = client(server, token)
    media = await call(api, "media_post", jpeg_bytes(200, 150), mime_type="image/jpeg",
                       file_name="a.jpg", description="first words")

    async def ready() -> bool:
        answer = await server.http.get(f"/api/v1/media/{media['id']}", headers=bearer(token))
        return answer.status_code == 200 and answer.json()["description"] == "first words"
    await eventually(ready, timeout=90)
    edited = await call(api, "media_update", media["id"], description="a grey square",
                        focus=(0.25, -0.5))
    assert edited["description"] == "a grey square" and str(edited["id"]) == str(media["id"])

    async def applied() -> bool:  # photo.alt_text_edited, applied by the metadata processor
        answer = await server.http.get(f"/api/v1/media/{media['id']}", headers=bearer(token))
        return answer.status_code == 200 and answer.json()["description"] == "a grey square"
    await eventually(applied, timeout=90)
    other = await server.http.put(f"/api/v1/media/{media['id']}",
                                  headers=bearer(await token_of(server, bob, "read write")),
                                  data={"description": "mine now"})
    assert other.status_code == 404


async def test_hashtag_timeline_and_search_v2_show_only_what_the_token_may_see(
        world: ReadWorld, server: Server) -> None:
    alice, dave = await sign_up(server), await sign_up(server)
    bob = await world.user(prefix="bob")
    carol = await world.user(prefix="carol", private=True)
    tag, secret_tag = f"t{secrets.token_hex(5)}", f"s{secrets.token_hex(5)}"
    public = [await world.photo(bob, f"morning {n} #{tag}") for n in range(3)]
    hidden = await world.photo(carol, f"only followers #{tag} #{secret_tag}")
    await world.follow(dave, carol, approve=True)
    mallory = await world.user(prefix="mal")  # public, but blocks alice
    await world.block(mallory, alice)
    blocking = await world.photo(mallory, f"not for alice #{tag}")
    api = client(server, await token_of(server, alice))
    dave_api = client(server, await token_of(server, dave))

    async def indexed() -> bool:  # the search index is written by the metadata processor
        found = await call(dave_api, "timeline_hashtag", tag, limit=40)
        mine = await call(api, "timeline_hashtag", tag, limit=40)
        return len(found) == 5 and len(mine) == 3
    await eventually(indexed, timeout=60)
    pages = await ids_of_pages(api, await call(api, "timeline_hashtag", tag, limit=2))
    assert [int(i) for page in pages for i in page] == sorted(public, reverse=True)
    raw = await server.http.get(f"/api/v1/timelines/tag/{tag}", params={"limit": 2},
                                headers=bearer(await token_of(server, alice)))
    assert 'rel="next"' in raw.headers["link"] and 'rel="prev"' in raw.headers["link"]

    found = await call(api, "search_v2", f"#{tag}")
    assert [t["name"] for t in found["hashtags"]] == [tag]
    assert {int(s["id"]) for s in found["statuses"]} == set(public)
    assert blocking not in [int(s["id"]) for s in found["statuses"]]
    assert str(mallory.user_id) not in str(await call(api, "search_v2", mallory.username))
    assert found["accounts"] == []
    assert (await call(api, "search_v2", f"#{secret_tag}"))["hashtags"] == []
    assert [t["name"] for t in (await call(dave_api, "search_v2",
                                           f"#{secret_tag}"))["hashtags"]] == [secret_tag]
    by_word = await call(api, "search_v2", "followers", result_type="statuses")
    assert str(hidden) not in [str(s["id"]) for s in by_word["statuses"]]
    people = await call(api, "search_v2", carol.username, result_type="accounts")
    assert [a["locked"] for a in people["accounts"]] == [True]  # the account, no posts
    assert people["statuses"] == [] and people["hashtags"] == []


async def test_home_timeline_answers_206_while_a_cold_feed_is_rebuilt(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    bob = await world.user(prefix="bob")
    await world.follow(alice, bob)
    token = await token_of(server, alice, "read")
    first = await server.http.get("/api/v1/timelines/home", headers=bearer(token))
    assert first.status_code == 200  # a first read builds the feed: no rebuild
    photo = await world.photo(bob, "while away")

    async def delivered() -> bool:
        answer = await server.http.get("/api/v1/timelines/home", headers=bearer(token))
        return answer.status_code == 200 and str(photo) in answer.text
    await eventually(delivered, timeout=60)
    redis = redis_connect.reader(world.settings)
    try:  # the hot timeline evicted, as Redis does under memory pressure
        await redis.delete(RedisTimelines(redis, world.settings.timelines.redis_cap)
                           .key(alice.user_id))
    finally:
        await redis.aclose()
    cold = await server.http.get("/api/v1/timelines/home", headers=bearer(token))
    assert cold.status_code == 206 and str(photo) in cold.text
    warm = await server.http.get("/api/v1/timelines/home", headers=bearer(token))
    assert warm.status_code == 200 and warm.json() == cold.json()
    # Mastodon.py takes the 206 page as any other.
    assert str(photo) in [str(s["id"]) for s in await call(client(server, token),
                                                           "timeline_home")]


async def test_bad_input_and_wrong_scopes_are_mastodon_errors_never_a_500(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    photo = await world.photo(alice, "mine")
    token = await token_of(server, alice)
    read_only = await token_of(server, alice, "read")
    client_id, secret = await base.register_app(server)
    app_only = (await server.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": "read"})).json()["access_token"]
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("GET", "/api/v1/accounts/99999999/followers", token, {}, 404),
        ("GET", "/api/v1/accounts/abc/following", token, {}, 404),
        ("GET", "/api/v1/accounts/1-2/followers", token, {}, 404),
        ("GET", f"/api/v1/accounts/{alice.user_id}/followers", token,
         {"params": {"max_id": "zz", "limit": "many"}}, 200),
        ("POST", "/api/v1/follow_requests/123/authorize", token, {}, 404),
        ("POST", "/api/v1/follow_requests/abc/reject", token, {}, 404),
        ("POST", "/api/v1/follow_requests/123/authorize", read_only, {}, 403),
        ("GET", "/api/v1/accounts/search", token, {"params": {"q": ""}}, 200),
        ("GET", "/api/v1/accounts/search", token, {"params": {"q": "x" * 500}}, 422),
        ("DELETE", "/api/v1/statuses/99999999", token, {}, 404),
        ("DELETE", "/api/v1/statuses/1-2", token, {}, 404),
        ("DELETE", "/api/v1/statuses/not-an-id", token, {}, 404),
        ("DELETE", f"/api/v1/statuses/{photo}", read_only, {}, 403),
        ("GET", "/api/v1/statuses/99999999/context", token, {}, 404),
        ("GET", "/api/v1/statuses/99999999-1/context", token, {}, 404),
        ("GET", f"/api/v1/statuses/{photo}-1", token, {}, 404),
        ("GET", "/api/v1/statuses/abc/favourited_by", token, {}, 404),
        ("POST", "/api/v1/statuses", token,
         {"data": {"status": "hi", "in_reply_to_id": "99999999"}}, 404),
        ("POST", "/api/v1/statuses", token,
         {"data": {"status": "", "in_reply_to_id": str(photo)}}, 422),
        ("POST", "/api/v1/statuses", token,
         {"data": {"status": "hi", "in_reply_to_id": "no-such"}}, 404),
        ("POST", "/api/v1/statuses", read_only,
         {"data": {"status": "hi", "in_reply_to_id": str(photo)}}, 403),
        ("PUT", "/api/v1/media/99999999", token, {"data": {"description": "x"}}, 404),
        ("PUT", f"/api/v1/media/{photo}", read_only, {"data": {"description": "x"}}, 403),
        ("PUT", f"/api/v1/media/{photo}", token, {"data": {"description": "x" * 2000}}, 422),
        ("PATCH", "/api/v1/accounts/update_credentials", token,
         {"data": {"display_name": "x" * 5000}}, 422),
        ("PATCH", "/api/v1/accounts/update_credentials", read_only, {}, 403),
        ("GET", "/api/v1/timelines/tag/%25%25", token, {}, 200),
        ("GET", "/api/v1/timelines/tag/sunset", token, {"params": {"max_id": "x"}}, 422),
        ("GET", "/api/v2/search", token, {}, 400),
        ("GET", "/api/v2/search", token, {"params": {"q": "x", "type": "odd"}}, 200),
        ("GET", "/api/v2/search", read_only, {"params": {"q": "@"}}, 200),
        ("GET", "/api/v2/search", app_only, {"params": {"q": alice.username}}, 422),
        ("GET", f"/api/v1/accounts/{alice.user_id}/followers", app_only, {}, 422),
        ("GET", f"/api/v1/timelines/tag/{alice.username}", app_only, {}, 422),
        ("GET", f"/api/v1/statuses/{photo}/context", app_only, {}, 422),
        ("GET", "/api/v1/follow_requests", "not-a-token", {}, 401),
    ]
    for method, path, bearer_token, options, status in cases:
        answer = await server.http.request(method, path, headers=bearer(bearer_token),
                                           **options)
        assert answer.status_code == status, (method, path, options, answer.text)
        if status >= 400:
            assert "error" in answer.json(), (path, answer.text)
    # "@" alone searched mentions of the empty name, a key Cassandra refuses (was a 503).
    assert (await world.get("/v1/search", alice, q="@")).status_code == 200


async def test_mastodon_writes_count_in_the_same_rate_limits_as_v1(
        world: ReadWorld, server: Server) -> None:
    """A second client is no way around ``/v1``'s per-user limits: one bucket."""
    alice = await sign_up(server)
    photo = await world.photo(alice, "limited")
    token = await token_of(server, alice)
    settings = dataclasses.replace(world.settings, rate=RateLimitSettings(
        window_seconds=WINDOW, edits=2, likes=1, sign_ins=0, account_sign_ins=0,
        sign_ups=0))
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest") as ingest:
        await window_start("edits", f"user:{alice.user_id}")
        mastodon = await ingest.patch("/api/v1/accounts/update_credentials",
                                      headers=bearer(token), data={"note": "one"})
        web = await ingest.patch("/v1/me", headers=alice.auth, json={"bio": "two"})
        over = await ingest.put(f"/api/v1/media/{photo}", headers=bearer(token),
                                data={"description": "three"})
        await window_start("likes", f"user:{alice.user_id}")
        likes = [(await ingest.post(f"/api/v1/statuses/{photo}/favourite",
                                    headers=bearer(token))).status_code for _ in range(2)]
    assert (mastodon.status_code, web.status_code) == (200, 202), (mastodon.text, web.text)
    assert over.status_code == 429 and "error" in over.json()
    assert int(over.headers["Retry-After"]) >= 1
    assert likes == [200, 429]  # the first slice's writes count too
