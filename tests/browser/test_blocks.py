"""Blocking from a profile page, in a real headless Chromium against the real services.

Alice follows Bob and sees his photo in her feed; she opens his profile, mutes and
unmutes him, then blocks him: the page says so at once, his photo leaves her feed and
the follow is gone (checked against the read API); Settings lists him under "Blocked
accounts", and Unblock there takes him off the list and shows his photos again.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewPage, screenshot
from tests.browser.world import Account, Seeder, Services

pytestmark = [pytest.mark.slow, pytest.mark.stack]


async def _profile(services: Services, viewer: Account, other: Account) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(f"{services.api_url}/v1/users/{other.user_id}", headers=viewer.auth)
    r.raise_for_status()
    body: dict = r.json()
    return body


async def test_block_from_the_profile_page_and_unblock_from_settings(
        new_page: NewPage, seeder: Seeder, services: Services) -> None:
    alice, bob = await seeder.account("blocker"), await seeder.account("blockee")
    await seeder.follow(alice, bob)
    await seeder.follow(bob, alice)
    photo = await seeder.photo(bob, "bob's #blockme photo", seed=31)

    async def in_feed() -> bool:
        return photo in await seeder.feed_ids(alice)
    await seeder.until(in_feed, timeout=120)

    page = await new_page(alice, path=f"#/u/{bob.username}")
    grid_tile = page.locator(f'a[href="#/p/{photo}"]')
    await expect(grid_tile).to_be_visible()
    await page.get_by_role("button", name="Mute", exact=True).click()
    await expect(page.get_by_role("button", name="Unmute", exact=True)).to_be_visible()
    await seeder.until(lambda: _says(services, alice, bob, "muting", True))
    await page.get_by_role("button", name="Unmute", exact=True).click()
    await expect(page.get_by_role("button", name="Mute", exact=True)).to_be_visible()
    await seeder.until(lambda: _says(services, alice, bob, "muting", False))

    await page.get_by_role("button", name="Block", exact=True).click()
    await expect(page.get_by_text("You blocked this account")).to_be_visible()
    await expect(page.get_by_role("button", name="Unblock", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Following")).to_have_count(0)
    await expect(grid_tile).to_have_count(0)
    await screenshot(page, "profile-blocked")

    async def applied() -> bool:
        seen = await _profile(services, alice, bob)
        theirs = await _profile(services, bob, alice)
        return (seen["blocking"] and seen["follow_state"] == "none"
                and theirs["follow_state"] == "none" and not theirs["can_view"]
                and photo not in await seeder.feed_ids(alice))
    await seeder.until(applied)
    await page.reload()  # what the server says, not the optimistic page
    await expect(page.get_by_text("You blocked this account")).to_be_visible()

    await page.get_by_role("link", name="Settings").click()
    blocked = page.get_by_role("list", name="Blocked accounts")
    await expect(blocked.get_by_role("link", name=bob.username)).to_be_visible()
    await expect(page.get_by_role("list", name="Muted accounts")).to_contain_text(
        "You have not muted anyone.")
    await screenshot(page, "settings-blocked-accounts")
    await blocked.get_by_role("button", name=f"Unblock {bob.username}").click()
    await expect(blocked).to_contain_text("You have not blocked anyone.")
    await seeder.until(lambda: _says(services, alice, bob, "blocking", False))

    await page.goto(f"{services.app_url}#/u/{bob.username}")
    await expect(grid_tile).to_be_visible()  # visible again; the follow stays removed
    await expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()


async def _says(services: Services, viewer: Account, other: Account, key: str,
                value: bool) -> bool:
    return bool((await _profile(services, viewer, other))[key] is value)
