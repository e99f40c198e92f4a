"""The web app under its Content-Security-Policy in real Chromium, and framing refused.

The app must work with the policy the read API sends (no inline script allowed): a
sign-in, a photo page whose image comes from the object store, the upload preview (a
``blob:`` URL) and a like posted to ingest, with no ``securitypolicyviolation`` event and
no CSP message in the console. Then a page on another local origin (a tiny HTTP server on
its own port) frames ``/app/``: Chromium must refuse to render it, while a JSON answer
framed the same way (no frame-ancestors there) does render, which shows the check can see
a rendered frame.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Frame, Page, expect

from operate.stack.base import free_port
from tests.browser.conftest import NewPage
from tests.browser.test_webapp import jpeg_file
from tests.browser.world import Seeder, Services, landscape

pytestmark = [pytest.mark.slow, pytest.mark.stack]

#: Registered before any page script: CSP violations as the page itself sees them.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI}`));
"""


def csp_messages(page: Page) -> list[str]:
    """Console messages about the Content Security Policy, collected from now on."""
    messages: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "frame-ancestors" in message.text:
            messages.append(message.text)
    page.on("console", seen)
    return messages


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__csp || []")
    return found


async def test_the_app_sends_a_policy_without_inline_script(services: Services) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(services.app_url)
    policy = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_the_app_works_under_its_policy(new_page: NewPage, seeder: Seeder) -> None:
    author = await seeder.account("csp_author")
    photo_id = await seeder.photo(author, "Under a strict policy", seed=5)
    page = await new_page()
    await page.context.add_init_script(RECORD_VIOLATIONS)
    console = csp_messages(page)
    await page.reload()

    name = seeder.name("csp_reader")
    await page.get_by_label("Development username").fill(name)
    await page.get_by_role("button", name="Sign in without a password").click()
    await expect(page.get_by_role("link", name=name)).to_be_visible()

    await page.goto(f"{services_app(page)}#/p/{photo_id}")
    image = page.get_by_role("img", name="Under a strict policy")
    await expect(image).to_be_visible()
    await expect(page.locator(".media.loaded")).to_have_count(1)
    assert await image.evaluate("img => img.naturalWidth") > 0, "the presigned image loaded"
    async with page.expect_response(lambda r: r.url.endswith("/likes")) as answer:
        await page.get_by_role("button", name="Like", exact=True).click()
    assert (await answer.value).status == 202, "the like reached ingest (connect-src)"
    await expect(page.get_by_role("button", name="Unlike", exact=True)).to_be_visible()

    await page.goto(f"{services_app(page)}#/upload")
    await page.set_input_files("#file", files=[jpeg_file("preview.jpg", landscape(9))])
    preview = page.get_by_role("img", name="Preview of the chosen file")
    await expect(preview).to_be_visible()
    assert await preview.evaluate("img => img.naturalWidth") > 0, "the blob: preview loaded"

    assert await violations(page) == [], "the page reported CSP violations"
    assert console == [], f"CSP messages in the console: {console}"


def services_app(page: Page) -> str:
    return page.url.split("#", 1)[0]


@contextlib.contextmanager
def framing_site(targets: dict[str, str]) -> Iterator[str]:
    """Another origin (its own port) serving, at ``/<name>``, a page that iframes
    ``targets[name]``; yields its base URL."""

    class Framer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = targets.get(self.path.lstrip("/"))
            if target is None:
                self.send_error(404)
                return
            body = (f'<!doctype html><title>framer</title>'
                    f'<iframe id="victim" src="{target}" width="600" height="400"></iframe>')
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Framer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _framed(page: Page, url: str) -> Frame:
    await page.goto(url)
    await page.wait_for_load_state("load")
    frames = page.main_frame.child_frames
    assert len(frames) == 1, frames
    return frames[0]


async def test_another_origin_cannot_frame_the_app(browser: Browser,
                                                   services: Services) -> None:
    """Its own context: the refusal is a CSP console message, which ``new_page`` fails on."""
    targets = {"app": services.app_url, "json": services.api_url + "/config.json"}
    context = await browser.new_context()
    try:
        with framing_site(targets) as site:
            page = await context.new_page()
            console = csp_messages(page)

            control = await _framed(page, f"{site}/json")
            await expect(control.locator("body")).to_contain_text("ingest_url")

            victim = await _framed(page, f"{site}/app")
            await page.wait_for_timeout(500)  # time for the app's modules to run if shown
            assert await victim.locator("#view").count() == 0, "the framed app rendered"
            assert await victim.locator("header#top").count() == 0, "the framed app rendered"
            assert any("frame-ancestors" in text for text in console), console
    finally:
        await context.close()
