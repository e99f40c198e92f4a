"""Notifications in two real Chromium contexts, live: one person acts, the other's bell
changes without a reload; follow requests are accepted in place from the list."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage, screenshot
from tests.browser.world import Seeder

pytestmark = [pytest.mark.slow, pytest.mark.stack]


async def live(page: Page) -> None:
    """The page's stream is open (so what follows is pushed, not loaded)."""
    await expect(page.locator("body[data-live=connected]")).to_have_count(1, timeout=20_000)


async def test_a_like_in_one_browser_lights_the_bell_in_the_other(
        new_page: NewPage, seeder: Seeder) -> None:
    alice, bob = await seeder.account("alice"), await seeder.account("bob")
    photo_id = await seeder.photo(alice, "sunset with @" + bob.username, seed=41)
    owner = await new_page(alice)
    await live(owner)
    badge = owner.locator(".bell-badge")
    await expect(badge).to_be_hidden()

    liker = await new_page(bob, path=f"#/p/{photo_id}")
    await expect(liker.get_by_role("link", name="@" + bob.username)).to_be_visible()
    await liker.locator("button.like").first.click()

    await expect(badge).to_have_text("1", timeout=15_000)  # pushed: no reload
    await expect(owner.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    await screenshot(owner, "notifications-badge")
    await owner.get_by_role("link", name="Notifications, 1 unread").click()
    entry = owner.locator("li.notification").first
    await expect(entry).to_contain_text(f"{bob.username} liked your photo")
    await expect(entry.locator(f'a[href="#/p/{photo_id}"]')).to_be_visible()
    await expect(badge).to_be_hidden()  # opening the list marks it read
    await screenshot(owner, "notifications-list")


async def test_a_follow_request_is_accepted_in_place(new_page: NewPage,
                                                     seeder: Seeder) -> None:
    carol = await seeder.account("carol", private=True)
    dave = await seeder.account("dave")
    asker = await new_page(dave)
    await live(asker)
    await seeder.follow(dave, carol)
    page = await new_page(carol, path="#/notifications")
    entry = page.locator('li.notification[data-type="follow_request"]')
    await expect(entry).to_contain_text(f"{dave.username} asked to follow you", timeout=15_000)
    await entry.get_by_role("button", name="Accept").click()
    await expect(entry).to_contain_text("Accepted")
    await expect(asker.locator(".bell-badge")).to_have_text("1", timeout=15_000)
