"""Fixtures of the browser tests: the real services, Debian's chromium, signed-in pages.

The browser is the system ``chromium`` (installed by operate/bootstrap.sh) launched by
Playwright through ``executable_path``: nothing is downloaded at run time (never
``playwright install``). Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from infra.settings import REPO_ROOT, Settings
from tests.browser.world import Account, Seeder, Services, running_services

SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def chromium_path() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `make bootstrap` "
                    "(operate/bootstrap.sh installs the apt package)")
    return path


@pytest.fixture(scope="module")
async def services(stack: Settings) -> AsyncIterator[Services]:
    async with running_services(stack.stack.state_dir / "logs" / "browser-tests.log") as s:
        yield s


@pytest.fixture(scope="module")
async def seeder(services: Services) -> AsyncIterator[Seeder]:
    seeder = Seeder(services)
    yield seeder
    await seeder.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium_path(),
                                            args=["--no-sandbox"])
        yield launched
        await launched.close()


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser, services: Services) -> AsyncIterator[NewPage]:
    """``await new_page(account, viewport=...)``: a page in its own context, signed in
    as ``account`` (the token in localStorage, as the sign-in page leaves it)."""
    contexts: list[BrowserContext] = []

    async def make(account: Account | None = None, viewport: ViewportSize = DESKTOP,
                   path: str = "#/") -> Page:
        context = await browser.new_context(viewport=viewport, device_scale_factor=1)
        contexts.append(context)
        if account is not None:
            session = account.session()
            token, user = json.dumps(session["token"]), json.dumps(json.dumps(session["user"]))
            await context.add_init_script(
                f"localStorage.setItem('photostream.token', {token});"
                f"localStorage.setItem('photostream.user', {user});")
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda message: errors.append(message.text)
                if "Content Security Policy" in message.text else None)
        await page.goto(services.app_url + path)
        return page

    errors: list[str] = []
    yield make
    for context in contexts:
        await context.close()
    assert not errors, f"JavaScript errors or CSP violations in the page: {errors}"


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
