"""The Mastodon-compatible API (producers/mastodon, docs/mastodon-api.md) with the real
client library, Mastodon.py, against the real stack.

The ingest app (which serves the Mastodon API) runs under uvicorn on a loopback port,
because Mastodon.py speaks real HTTP; the processors and the read API run as in
:mod:`tests.integration.readside`. People sign up with a password (``POST /v1/accounts``)
and sign in through the PKCE authorization-code flow by posting the consent form, or
through the password grant (dev only).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import uvicorn
from mastodon import Mastodon

from infra.settings import Settings
from operate.stack.base import free_port
from producers.ingest import create_app
from schemas.graph import FollowApproved
from tests.integration.readside import Person, ReadWorld, read_world
from tests.integration.waiting import eventually
from tests.support.images import jpeg_bytes
from tests.support.processors import running

pytestmark = [pytest.mark.slow, pytest.mark.stack]

PASSWORD = "correct horse battery"
REDIRECT = "http://localhost:9/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"


@dataclass
class Server:
    base: str
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w, running(w.settings, "media", "albums"):
        yield w


@pytest.fixture(scope="module")
async def server(world: ReadWorld) -> AsyncIterator[Server]:
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(world.settings), host="127.0.0.1",
                                       port=port, lifespan="on", log_level="warning"))
    serving = asyncio.create_task(uv.serve())
    try:
        while not uv.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            yield Server(base, http)
    finally:
        uv.should_exit = True
        await asyncio.wait_for(serving, timeout=30)


async def sign_up(server: Server) -> Person:
    name = f"m{secrets.token_hex(6)}"
    answer = await server.http.post("/v1/accounts", json={
        "username": name, "email": f"{name}@example.org", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Person(int(body["user_id"]), name, body["token"])


async def register_app(server: Server, scopes: str = "read write follow") -> tuple[str, str]:
    """client_id and client_secret, registered by Mastodon.py itself."""
    client_id, secret = await asyncio.to_thread(
        Mastodon.create_app, "photostream tests", scopes=scopes.split(),
        redirect_uris=[REDIRECT, OOB], api_base_url=server.base)
    return client_id, secret


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def form_fields(page: str) -> dict[str, str]:
    return {html.unescape(name): html.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)}


async def consent(server: Server, client_id: str, person: Person, *, scope: str,
                  redirect_uri: str = REDIRECT, challenge: str | None = None,
                  password: str = PASSWORD) -> httpx.Response:
    """Open the consent page and post its form, as a person in a browser would."""
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": scope, "state": "s1"}
    if challenge is not None:
        query.update(code_challenge=challenge, code_challenge_method="S256")
    page = await server.http.get("/oauth/authorize", params=query)
    assert page.status_code == 200, page.text
    assert "<script" not in page.text and "style=" not in page.text  # CSP-safe
    policy = page.headers["content-security-policy"]
    assert "form-action 'self'" in policy and "script-src" not in policy
    if redirect_uri == REDIRECT:  # browsers check the redirect after the form too
        assert "http://localhost:9" in policy
    action = re.search(r'<form method="post" action="([^"]+)">', page.text)
    assert action is not None
    fields = form_fields(page.text) | {"username": person.username, "password": password}
    return await server.http.post(html.unescape(action.group(1)), data=fields,
                                  follow_redirects=False)


async def pkce_token(server: Server, person: Person, scope: str = "read write follow"
                     ) -> tuple[str, str, str]:
    """(client_id, secret, access token) through the PKCE authorization-code flow."""
    client_id, secret = await register_app(server)
    verifier, challenge = pkce()
    answer = await consent(server, client_id, person, scope=scope, challenge=challenge)
    assert answer.status_code == 302, answer.text
    location = urlparse(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["s1"]
    token = await server.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT,
        "code_verifier": verifier})
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    return client_id, secret, token.json()["access_token"]


async def password_token(server: Server, person: Person, scope: str) -> tuple[str, str, str]:
    client_id, secret = await register_app(server)
    answer = await server.http.post("/oauth/token", data={
        "grant_type": "password", "username": person.username, "password": PASSWORD,
        "client_id": client_id, "client_secret": secret, "scope": scope})
    assert answer.status_code == 200, answer.text
    return client_id, secret, answer.json()["access_token"]


def client(server: Server, token: str) -> Mastodon:
    return Mastodon(access_token=token, api_base_url=server.base)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_pkce_sign_in_then_mastodon_py_reads_account_instance_and_pages_home(
        world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    await world.follow(alice, bob)
    posted = [await world.photo(bob, f"photo {n} #mastodon") for n in range(5)]

    async def all_in_feed() -> bool:
        return set(posted) <= set(await world.feed_ids(alice, limit=50))
    await eventually(all_in_feed, timeout=60)
    v1 = [pid for pid in await world.feed_ids(alice, limit=50) if pid in posted]

    _, _, token = await pkce_token(server, alice)
    api = client(server, token)
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert str(me["id"]) == str(alice.user_id) and me["username"] == alice.username
    assert me["acct"] == alice.username and me["locked"] is False
    app = await asyncio.to_thread(api.app_verify_credentials)
    assert app["name"] == "photostream tests"
    instance = await asyncio.to_thread(api.instance_v2)
    limits = instance["configuration"]["media_attachments"]
    assert limits["image_size_limit"] == world.settings.ingest.max_upload_bytes
    assert "image/jpeg" in limits["supported_mime_types"]
    v1_instance = (await server.http.get("/api/v1/instance")).json()
    assert v1_instance["version"].startswith("4.")
    nodeinfo = (await server.http.get("/.well-known/nodeinfo")).json()
    href = nodeinfo["links"][0]["href"]
    assert (await server.http.get(urlparse(href).path)).json()["version"] == "2.0"
    looked_up = await asyncio.to_thread(api.account_lookup, bob.username)
    assert str(looked_up["id"]) == str(bob.user_id) and looked_up["statuses_count"] >= 5
    by_id = (await server.http.get(f"/api/v1/accounts/{bob.user_id}",
                                   headers=bearer(token))).json()
    assert by_id["id"] == str(bob.user_id)  # ids are strings on the wire

    # Home timeline, two at a time, both ways through Link; the order is /v1/feed's.
    first = await asyncio.to_thread(api.timeline_home, limit=2)
    second = await asyncio.to_thread(api.fetch_next, first)
    assert second is not None
    third = await asyncio.to_thread(api.fetch_next, second)
    assert third is not None
    ids = [int(s["id"]) for page in (first, second, third) for s in page]
    assert [pid for pid in ids if pid in posted] == v1
    status = first[0]
    assert status["account"]["username"] in (bob.username, alice.username)
    assert status["media_attachments"][0]["type"] == "image"
    assert status["media_attachments"][0]["url"].startswith("http")
    assert 'class="mention hashtag"' in status["content"]
    back = await asyncio.to_thread(api.fetch_previous, second)
    assert back is not None
    assert [int(s["id"]) for s in back] == [int(s["id"]) for s in first]
    raw = await server.http.get("/api/v1/timelines/home", params={"limit": 2},
                                headers=bearer(token))
    assert 'rel="next"' in raw.headers["link"] and 'rel="prev"' in raw.headers["link"]
    assert isinstance(raw.json()[0]["id"], str)

    # Favourite through Mastodon.py: the like reaches the pipeline.
    liked = await asyncio.to_thread(api.status_favourite, posted[0])
    assert liked["favourited"] is True

    async def counted() -> bool:
        found = (await server.http.get(f"/api/v1/statuses/{posted[0]}",
                                       headers=bearer(token))).json()
        return bool(found["favourited"]) and found["favourites_count"] == 1
    await eventually(counted, timeout=60)


async def test_oob_code_shown_and_code_rules(world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    client_id, secret = await register_app(server)
    wrong = await consent(server, client_id, alice, scope="read", redirect_uri=OOB,
                          password="not the password")
    assert wrong.status_code == 401 and "not right" in wrong.text
    shown = await consent(server, client_id, alice, scope="read", redirect_uri=OOB)
    assert shown.status_code == 200
    code = re.search(r'<output id="code">([^<]+)</output>', shown.text)
    assert code is not None
    # Mastodon.py's own code exchange (no PKCE was asked for this code).
    api = Mastodon(client_id=client_id, client_secret=secret, api_base_url=server.base)
    token = await asyncio.to_thread(api.log_in, code=code.group(1), redirect_uri=OOB,
                                    scopes=["read"])
    assert (await server.http.get("/api/v1/accounts/verify_credentials",
                                  headers=bearer(token))).status_code == 200
    reused = await server.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code.group(1), "client_id": client_id,
        "client_secret": secret, "redirect_uri": OOB})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # A PKCE code redeemed with the wrong verifier is refused.
    _, challenge = pkce()
    answer = await consent(server, client_id, alice, scope="read", challenge=challenge)
    pkce_code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    bad = await server.http.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": pkce_code, "client_id": client_id,
        "client_secret": secret, "redirect_uri": REDIRECT, "code_verifier": "x" * 50})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    wrong_secret = await server.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": "no"})
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    too_wide = await server.http.get("/oauth/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": OOB,
        "scope": "admin:read"})
    assert too_wide.status_code == 400 and too_wide.json()["error"] == "invalid_scope"


async def test_client_credentials_token_is_app_only(world: ReadWorld, server: Server) -> None:
    client_id, secret = await register_app(server)
    answer = await server.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": "read"})
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    app = await server.http.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert app.status_code == 200 and app.json()["name"] == "photostream tests"
    me = await server.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.status_code == 422 and "error" in me.json()


async def test_read_only_token_cannot_write_and_revoked_token_is_refused(
        world: ReadWorld, server: Server) -> None:
    alice, bob = await sign_up(server), await sign_up(server)
    photo = await world.photo(bob, "a public photo")
    client_id, secret, token = await password_token(server, alice, "read")
    api = client(server, token)
    assert (await asyncio.to_thread(api.status, photo))["id"] in (photo, str(photo))
    refused = await server.http.post(f"/api/v1/statuses/{photo}/favourite",
                                     headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action is outside the authorized scopes"}
    revoked = await server.http.post("/oauth/revoke", data={
        "client_id": client_id, "client_secret": secret, "token": token})
    assert revoked.status_code == 200
    after = await server.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert after.status_code == 401 and after.json() == {"error": "The access token is invalid"}
    junk = await server.http.get("/api/v1/timelines/home", headers=bearer("not-a-token"))
    assert junk.status_code == 401
    missing = await server.http.get("/api/v1/timelines/home")
    assert missing.status_code == 401
    bad_id = await server.http.get("/api/v1/accounts/12ab", headers=bearer(token))
    assert bad_id.status_code in (401, 404)  # the token is revoked; either is no 500


async def test_private_accounts_posts_never_reach_a_token_that_may_not_see_them(
        world: ReadWorld, server: Server) -> None:
    carol, dave, erin = [await sign_up(server) for _ in range(3)]
    await world.set_private(carol, True)
    await eventually(lambda: _private(server, carol))
    await world.follow(dave, carol, approve=True)  # dave may see carol's posts
    await world.follow(erin, carol, wait=False)  # erin only asked: a request is not enough
    secret_photo = await world.photo(carol, "only for approved followers")
    _, _, dave_token = await password_token(server, dave, "read")
    _, _, erin_token = await password_token(server, erin, "read")

    async def dave_sees() -> bool:
        answer = await server.http.get("/api/v1/timelines/home", headers=bearer(dave_token))
        return str(secret_photo) in [s["id"] for s in answer.json()]
    await eventually(dave_sees, timeout=60)
    for path in ("/api/v1/timelines/home", "/api/v1/timelines/public",
                 f"/api/v1/statuses/{secret_photo}"):
        answer = await server.http.get(path, headers=bearer(erin_token),
                                       params={"limit": 40})
        assert str(secret_photo) not in answer.text, path
    hidden = await server.http.get(f"/api/v1/statuses/{secret_photo}",
                                   headers=bearer(erin_token))
    assert hidden.status_code == 404 and hidden.json() == {"error": "Record not found"}
    account = (await server.http.get(f"/api/v1/accounts/{carol.user_id}",
                                     headers=bearer(erin_token))).json()
    assert account["locked"] is True


async def _private(server: Server, person: Person) -> bool:
    answer = await server.http.get("/api/v1/accounts/lookup", params={"acct": person.username})
    return answer.status_code == 200 and answer.json()["locked"] is True


async def test_upload_with_alt_text_then_post_it_with_mastodon_py(
        world: ReadWorld, server: Server) -> None:
    alice = await sign_up(server)
    _, _, token = await password_token(server, alice, "read write")
    api = client(server, token)
    media = await asyncio.to_thread(api.media_post, jpeg_bytes(320, 240),
                                    mime_type="image/jpeg", file_name="red.jpg",
                                    description="a red square")
    assert media["url"] is None  # 202: still being processed
    posted = await asyncio.to_thread(api.status_post, "first light #sky",
                                     media_ids=[media["id"]], sensitive=False)
    status_id = str(posted["id"])

    async def shown() -> bool:
        answer = await server.http.get(f"/api/v1/statuses/{status_id}",
                                       headers=bearer(token))
        if answer.status_code != 200:
            return False
        attachment = answer.json()["media_attachments"][0]
        # The item's alt text is applied by the metadata processor, the post by the albums
        # processor: both land, in either order.
        return bool(attachment["url"]) and attachment["description"] == "a red square"
    await eventually(shown, timeout=90)
    status = await asyncio.to_thread(api.status, status_id)
    attachment = status["media_attachments"][0]
    assert attachment["description"] == "a red square"
    assert attachment["url"] and attachment["preview_url"]
    assert "first light" in status["content"]
    ready = await server.http.get(f"/api/v1/media/{media['id']}", headers=bearer(token))
    assert ready.status_code == 200 and ready.json()["url"]
    not_media = await server.http.post("/api/v2/media", headers=bearer(token), files={
        "file": ("notes.txt", b"just some text, not a photo", "text/plain")})
    assert not_media.status_code == 422 and "error" in not_media.json()
    no_media = await server.http.post("/api/v1/statuses", headers=bearer(token),
                                      data={"status": "text only"})
    assert no_media.status_code == 422


async def test_bad_input_is_a_mastodon_error_never_a_500(world: ReadWorld,
                                                         server: Server) -> None:
    alice = await sign_up(server)
    _, _, token = await password_token(server, alice, "read write")
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/api/v1/apps", {"content": b"{not json",
                                  "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/api/v1/apps", {"data": {"client_name": "x"}}, 422),
        ("POST", "/api/v1/apps", {"data": {"client_name": "x", "redirect_uris": OOB,
                                           "scopes": "read admin"}}, 422),
        ("POST", "/oauth/token", {"data": {"grant_type": "password"}}, 401),
        ("GET", "/oauth/authorize", {"params": {"response_type": "code"}}, 401),
        ("GET", "/oauth/authorize", {"params": {"response_type": "token"}}, 400),
        ("POST", "/api/v1/statuses", {"content": b"--x\r\nbroken",
                                      "headers": {**bearer(token), "Content-Type":
                                                  "multipart/form-data; boundary=x"}}, 422),
        ("GET", "/api/v1/accounts/lookup", {"params": {"acct": "nobody_here_at_all"}}, 404),
        ("GET", "/api/v1/accounts/99999999999999999999999", {}, 404),
        ("GET", "/api/v1/statuses/abc", {"headers": bearer(token)}, 404),
        ("GET", "/api/v1/timelines/home", {"headers": bearer(token),
                                           "params": {"max_id": "x1"}}, 422),
        ("GET", "/api/v1/timelines/home", {"headers": bearer(token),
                                           "params": {"limit": "lots"}}, 200),
    ]
    for method, path, options, status in cases:
        answer = await server.http.request(method, path, **options)
        assert answer.status_code == status, (path, options, answer.text)
        if status != 200:
            assert "error" in answer.json(), (path, answer.text)


async def test_follow_a_locked_account_get_approved_and_read_its_statuses(
        world: ReadWorld, server: Server) -> None:
    carol, dave, erin = [await sign_up(server) for _ in range(3)]
    await world.set_private(carol, True)
    await eventually(lambda: _private(server, carol))
    photo = await world.photo(carol, "for approved followers")
    _, _, dave_token = await password_token(server, dave, "read write follow")
    _, _, erin_token = await password_token(server, erin, "read")
    api = client(server, dave_token)
    asked = await asyncio.to_thread(api.account_follow, carol.user_id)
    assert asked["requested"] is True and asked["following"] is False
    await world.publish(FollowApproved(follower_id=dave.user_id, followee_id=carol.user_id))

    async def approved() -> bool:
        found = await asyncio.to_thread(api.account_relationships, [carol.user_id])
        return bool(found[0]["following"])
    await eventually(approved, timeout=60)
    statuses = await asyncio.to_thread(api.account_statuses, carol.user_id)
    assert [str(s["id"]) for s in statuses] == [str(photo)]
    hidden = await server.http.get(f"/api/v1/accounts/{carol.user_id}/statuses",
                                   headers=bearer(erin_token))
    assert hidden.status_code == 200 and hidden.json() == []
    read_only_follow = await server.http.post(f"/api/v1/accounts/{carol.user_id}/follow",
                                              headers=bearer(erin_token))
    assert read_only_follow.status_code == 403
    left = await asyncio.to_thread(api.account_unfollow, carol.user_id)
    assert left["following"] is False
