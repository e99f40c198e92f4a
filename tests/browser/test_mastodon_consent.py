"""The OAuth consent page (``GET /oauth/authorize``) in real Chromium, end to end.

A Mastodon app sends the person's browser to the consent page; the person signs in there
and the browser is sent on to the app's ``redirect_uri`` with ``code`` and ``state``.
Here the app is a tiny HTTP server on its own loopback port (its callback page records
the query it was given), registered by Mastodon.py; the browser is Debian's chromium
(the ``browser`` fixture). What it pins:

* the page is usable by label, as a person (or a screen reader) finds it, and passes the
  axe-core audit (no serious or critical violation), before and after a wrong password;
* under the page's strict Content-Security-Policy, Chromium lets the form post and then
  follow the redirect to the app's origin (``form-action`` applies to redirects too):
  the browser lands on the callback with the code and the state it was given, with no
  CSP message in the console;
* the code is redeemed with its PKCE verifier for a token that acts for the person who
  signed in, once only (the wrong-verifier case is in the stack test of the flow).

The ingest app and the processors run in this process (the fixtures of
:mod:`tests.integration.test_mastodon_api`), not the ``services`` subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from mastodon import Mastodon
from playwright.async_api import Browser, ConsoleMessage, expect

from operate.stack.base import free_port
from tests.browser.axe import audit
from tests.integration.test_mastodon_api import (  # noqa: F401 (fixtures)
    PASSWORD,
    Server,
    bearer,
    pkce,
    server,
    sign_up,
    world,
)

pytestmark = [pytest.mark.slow, pytest.mark.stack]


@contextlib.contextmanager
def client_app() -> Iterator[tuple[str, list[str]]]:
    """The app's side: ``/callback`` answers a small page and records each query it
    got; yields the callback URL and that record."""
    seen: list[str] = []

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = urlsplit(self.path)
            if target.path != "/callback":
                self.send_error(404)
                return
            seen.append(target.query)
            body = b'<!doctype html><html lang="en"><title>App</title><h1>Signed in</h1>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    app = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Callback)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{app.server_address[1]}/callback", seen
    finally:
        app.shutdown()
        app.server_close()


async def test_consent_page_signs_in_in_chromium_and_the_code_redeems_with_pkce(
        browser: Browser, server: Server) -> None:  # noqa: F811
    alice = await sign_up(server)
    with client_app() as (callback, seen):
        client_id, secret = await asyncio.to_thread(
            Mastodon.create_app, "Harbour app", scopes=["read", "write"],
            redirect_uris=[callback], api_base_url=server.base)
        verifier, challenge = pkce()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": callback,
                 "scope": "read write", "state": "st-42", "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        context = await browser.new_context()
        try:
            page = await context.new_page()
            console: list[str] = []

            def seen_console(message: ConsoleMessage) -> None:
                if "Content Security Policy" in message.text:
                    console.append(message.text)
            page.on("console", seen_console)
            await page.goto(f"{server.base}/oauth/authorize?{urlencode(query)}")
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Harbour app")
            await audit(page, "OAuth consent")

            await page.get_by_label("Username or email").fill(alice.username)
            await page.get_by_label("Password").fill("not the password")
            await page.get_by_role("button", name="Sign in and authorize").click()
            await expect(page.get_by_role("alert")).to_contain_text("not right")
            await audit(page, "OAuth consent after a wrong password")

            await page.get_by_label("Username or email").fill(alice.username)
            await page.get_by_label("Password").fill(PASSWORD)
            async with page.expect_navigation(url=lambda url: url.startswith(callback)):
                await page.get_by_role("button", name="Sign in and authorize").click()
            await expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
            landed = parse_qs(urlsplit(page.url).query)
            assert console == [], f"CSP messages in the console: {console}"
        finally:
            await context.close()
    assert len(seen) == 1 and parse_qs(seen[0]) == landed  # the app got what the URL says
    assert landed["state"] == ["st-42"] and len(landed["code"]) == 1
    code = landed["code"][0]

    exchange = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
                "client_secret": secret, "redirect_uri": callback, "code_verifier": verifier}
    token = await server.http.post("/oauth/token", data=exchange)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read write"
    me = await server.http.get("/api/v1/accounts/verify_credentials",
                               headers=bearer(token.json()["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == alice.username
    again = await server.http.post("/oauth/token", data=exchange)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
