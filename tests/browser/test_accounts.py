"""Accounts in the web app, in a real headless Chromium against the real services.

Sign up, sign out (that token stops working at once), a wrong password refused with the
same message as an unknown user, sign in, a password change that ends every other
session, and deleting the account (its session refused at once) -- each checked in the
page and, for the tokens, against the read API itself.
"""

from __future__ import annotations

import random

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage, screenshot
from tests.browser.world import Seeder, Services

pytestmark = [pytest.mark.slow, pytest.mark.stack]

PASSWORD = "lantern harbour 42"
NEW_PASSWORD = "quiet orchard 1977"


async def token_of(page: Page) -> str:
    token = await page.evaluate("localStorage.getItem('photostream.token')")
    assert token, "no session in localStorage"
    return str(token)


async def me_status(services: Services, token: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(services.api_url + "/v1/me",
                                headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.get_by_label("Username or email", exact=True).fill(name)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def test_sign_up_sign_out_sign_in_and_change_the_password(
        new_page: NewPage, seeder: Seeder, services: Services) -> None:
    name = seeder.name(f"owner{random.randrange(1000)}")
    page = await new_page()
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Username", exact=True).fill(name)
    await page.get_by_label("Email", exact=True).fill(f"{name}@example.org")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await screenshot(page, "sign-up")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await expect(page.get_by_role("link", name=name)).to_be_visible()
    first = await token_of(page)
    assert await me_status(services, first) == 200

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Username or email", exact=True)).to_be_visible()
    assert await me_status(services, first) == 401, "a signed-out token still works"

    alert = page.locator("form.signin:not(.dev) [role=alert]")
    await sign_in(page, name, "not my password at all")
    await expect(alert).not_to_be_empty()
    wrong = await alert.inner_text()
    await sign_in(page, seeder.name("nobody_here"), "not my password at all")
    await expect(alert).not_to_have_text("")
    assert await alert.inner_text() == wrong == "the username or password is not right"
    await screenshot(page, "sign-in-refused")

    await sign_in(page, name, PASSWORD)
    await expect(page.get_by_role("link", name=name)).to_be_visible()
    current = await token_of(page)
    async with httpx.AsyncClient(timeout=30) as http:  # a second device
        other = (await http.post(services.ingest_url + "/v1/sessions", json={
            "username": name, "password": PASSWORD})).json()["token"]
    assert await me_status(services, other) == 200

    await page.get_by_role("link", name="Settings").click()
    await page.get_by_label("Current password", exact=True).fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed")).to_be_visible()
    await screenshot(page, "password-changed")
    fresh = await token_of(page)
    assert fresh != current
    assert await me_status(services, current) == 401, "the old session still works"
    assert await me_status(services, other) == 401, "another session survived the change"
    assert await me_status(services, fresh) == 200

    await page.reload()  # still signed in, with the new session
    await expect(page.get_by_role("link", name=name)).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, name, PASSWORD)
    await expect(page.locator("form.signin:not(.dev) [role=alert]")).to_have_text(wrong)
    await sign_in(page, name, NEW_PASSWORD)
    await expect(page.get_by_role("link", name=name)).to_be_visible()

    last = await token_of(page)

    await page.get_by_role("link", name="Settings").click()
    confirm = page.get_by_label("Type your username to confirm", exact=True)
    await confirm.fill("someone else")
    await page.get_by_role("button", name="Delete my account").click()
    await expect(page.locator("form.danger [role=alert]")).to_have_text(
        "that is not your username")
    assert await me_status(services, last) == 200, "a refused confirmation deleted anyway"
    await confirm.fill(name)
    await page.get_by_role("button", name="Delete my account").click()
    await expect(page.get_by_text("Your account was deleted.")).to_be_visible()
    await expect(page.get_by_label("Username or email", exact=True)).to_be_visible()
    await screenshot(page, "account-deleted")
    assert await me_status(services, last) == 401, "the deleted account's session still works"
    await sign_in(page, name, NEW_PASSWORD)
    await expect(page.locator("form.signin:not(.dev) [role=alert]")).to_have_text(wrong)
