"""OpenID Connect sign-in (``PHOTOSTREAM_AUTH_MODE=oidc``) against a real provider.

The provider is ``oidc-provider-mock``: a real OpenID Connect server (discovery, JWKS,
authorization and token endpoints, signed ID tokens) on a thread, whose authorization
step is a form naming the subject instead of a password page. Ingest runs in-process;
the graph processor and read API as in :mod:`tests.integration.readside`, so a first
login goes through ``user.registered`` to a stored account.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidc_provider_mock import run_server_in_thread

from infra.settings import Settings
from producers.ingest import create_app
from tests.integration.readside import ReadWorld, read_world

pytestmark = [pytest.mark.slow, pytest.mark.stack]

APP = "http://app.test/app/"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
async def world(stack: Settings) -> AsyncIterator[ReadWorld]:
    async with read_world(stack) as w:
        yield w


@pytest.fixture(scope="module")
async def ingest(world: ReadWorld, provider: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(world.settings, auth=dataclasses.replace(
        world.settings.auth, mode="oidc", oidc_issuer=provider, oidc_client_id="photostream",
        oidc_client_secret="client-secret", oidc_redirect_url="http://ingest/v1/oidc/callback",
        oidc_web_app_url=APP))
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest",
            timeout=60) as client:
        yield client


async def login(ingest: httpx.AsyncClient, subject: str) -> dict[str, str]:
    """The whole browser round trip; the fragment the web app receives."""
    started = await ingest.get("/v1/oidc/login")
    assert started.status_code == 302, started.text
    async with httpx.AsyncClient(timeout=30) as browser:
        consent = await browser.post(started.headers["location"], data={"sub": subject})
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert back.path == "/v1/oidc/callback"
    done = await ingest.get(f"/v1/oidc/callback?{back.query}")
    assert done.status_code == 303, done.text
    target = done.headers["location"]
    assert target.startswith(APP + "#/oidc?"), target
    return {k: v[0] for k, v in parse_qs(target.partition("#/oidc?")[2]).items()}


async def test_first_login_registers_and_the_next_one_signs_in_to_the_same_account(
        world: ReadWorld, ingest: httpx.AsyncClient, provider: str) -> None:
    subject = f"Ann.Lee+{random.getrandbits(32):x}@corp.example"
    first = await login(ingest, subject)
    assert "token" in first, first
    me = await world.http.get("/v1/me", headers={"Authorization": f"Bearer {first['token']}"})
    assert me.status_code == 200 and me.json()["user_id"] == first["user_id"], me.text
    assert first["username"].startswith("ann.lee")
    again = await login(ingest, subject)
    assert (again["user_id"], again["username"]) == (first["user_id"], first["username"])
    assert again["token"] != first["token"]

    out = await ingest.delete("/v1/sessions/current",
                              headers={"Authorization": f"Bearer {again['token']}"})
    assert out.status_code == 204
    refused = await world.http.get("/v1/me", headers={"Authorization": f"Bearer {again['token']}"})
    assert refused.status_code == 401


async def test_a_callback_from_another_browser_or_a_forged_state_is_refused(
        ingest: httpx.AsyncClient) -> None:
    started = await ingest.get("/v1/oidc/login")
    async with httpx.AsyncClient(timeout=30) as browser:
        consent = await browser.post(started.headers["location"], data={"sub": "mallory"})
    query = urlsplit(consent.headers["location"]).query
    ingest.cookies.clear()  # the victim's browser has no flow cookie
    stolen = await ingest.get(f"/v1/oidc/callback?{query}")
    assert stolen.status_code == 303 and "error=" in stolen.headers["location"]
    assert "token=" not in stolen.headers["location"]
    denied = await ingest.get("/v1/oidc/callback?error=access_denied&state=x")
    assert "access_denied" in denied.headers["location"]


async def test_password_routes_are_absent_in_oidc_mode(ingest: httpx.AsyncClient) -> None:
    answer = await ingest.post("/v1/sessions", json={"username": "ann", "password": "x" * 12})
    assert answer.status_code in (404, 405)
