"""Albums, alt text and content warnings in the web app, and axe-core on every page.

A follower sees an album once in the feed (cover + count), swipes and keys through its
carousel on the photo page, finds the album marker on the author's grid, reads alt text
on demand, and reveals a sensitive post by keyboard. Every page (sign-in, feed, explore,
photo, profile, the carousel, search, upload, requests, settings) is audited with
axe-core and fails on any serious or critical violation.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from tests.browser.axe import audit
from tests.browser.conftest import PHONE, NewPage, screenshot
from tests.browser.world import Account, Seeder, landscape

_ALL_ASKED_LOADED = """() => Array.from(document.images).every((i) => i.complete ||
    (i.loading === "lazy" && i.getBoundingClientRect().top >= window.innerHeight))"""


async def images_loaded(page: Page, timeout: float = 15.0) -> None:
    """Until every image the browser is asked for finished loading (polled: the app's CSP
    forbids the string evaluation ``wait_for_function`` uses). A lazy image below the
    viewport is never fetched until scrolled to, so it is not waited for: an explore page
    full of the suite's photos would otherwise wait forever."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(_ALL_ASKED_LOADED):
        assert asyncio.get_running_loop().time() < deadline, "images still loading"
        await asyncio.sleep(0.1)

pytestmark = [pytest.mark.slow, pytest.mark.stack]


async def album(seeder: Seeder, owner: Account, caption: str, seeds: list[int],
                alts: list[str]) -> tuple[str, list[str]]:
    """A real album through the public API: detached uploads, then the post."""
    media = []
    for seed, alt in zip(seeds, alts, strict=True):
        r = await seeder.http.post(seeder.services.ingest_url + "/v1/media",
                                   headers=owner.auth,
                                   files={"file": (f"{seed}.jpg", landscape(seed), "image/jpeg")},
                                   data={"detached": "true", "alt_text": alt})
        r.raise_for_status()
        media.append(r.json()["photo_id"])
    r = await seeder.http.post(seeder.services.ingest_url + "/v1/posts", headers=owner.auth,
                               json={"media_ids": media, "caption": caption})
    r.raise_for_status()
    post_id: str = r.json()["post_id"]
    await seeder.until(lambda: seeder.ready(owner, post_id), timeout=120)
    return post_id, media


async def sensitive_photo(seeder: Seeder, owner: Account, warning: str) -> str:
    r = await seeder.http.post(seeder.services.ingest_url + "/v1/media", headers=owner.auth,
                               files={"file": ("s.jpg", landscape(77), "image/jpeg")},
                               data={"caption": "behind a warning", "sensitive": "true",
                                     "content_warning": warning,
                                     "alt_text": "a large spider on a web"})
    r.raise_for_status()
    photo_id: str = r.json()["photo_id"]
    await seeder.until(lambda: seeder.ready(owner, photo_id), timeout=120)
    return photo_id


async def current_slide(page: Page) -> str | None:
    return await page.locator(".carousel .slide:not([hidden])").get_attribute("data-media-id")


async def test_album_carousel_marker_alt_text_and_warning(new_page: NewPage,
                                                          seeder: Seeder) -> None:
    ana, ben = await seeder.account("ana"), await seeder.account("ben")
    await seeder.follow(ben, ana)
    alts = ["a red kite over a field", "the same kite, closer", "kite string on grass"]
    post_id, media = await album(seeder, ana, "Kites all day #kites", [11, 12, 13], alts)
    spider = await sensitive_photo(seeder, ana, "spiders")

    async def both_in_feed() -> bool:
        ids = await seeder.feed_ids(ben)
        return post_id in ids and spider in ids
    await seeder.until(both_in_feed, timeout=60)

    page = await new_page(ben)
    card = page.locator(f'article.card[data-photo-id="{post_id}"]')
    await expect(card.get_by_role("img", name=alts[0])).to_be_visible()
    await expect(card.get_by_text("1 of 3", exact=False)).to_be_attached()
    assert await page.locator(f'article.card[data-photo-id="{media[1]}"]').count() == 0
    # The sensitive post: its placeholder, a warning, no image until revealed.
    warned = page.locator(f'article.card[data-photo-id="{spider}"]')
    await expect(warned.get_by_text("spiders")).to_be_visible()
    await expect(warned.get_by_role("img", name="a large spider on a web")).to_have_count(0)
    await expect(warned.locator("canvas.blur")).to_have_count(1)
    reveal = warned.get_by_role("button", name="Show sensitive content")
    await reveal.focus()
    await page.keyboard.press("Enter")
    await expect(warned.get_by_role("img", name="a large spider on a web")).to_be_visible()
    # Alt text on demand.
    await card.get_by_role("button", name="Show alt text").click()
    await expect(card.get_by_text(alts[0], exact=True)).to_be_visible()
    await audit(page, "feed")
    await screenshot(page, "album-feed")

    # The photo page: a carousel in the author's order, by buttons, keys and swipes.
    await page.goto(page.url.split("#")[0] + f"#/p/{post_id}")
    carousel = page.get_by_role("region", name="Album, 3 photos")
    await expect(carousel).to_be_visible()
    assert await current_slide(page) == media[0]
    await expect(carousel.get_by_role("img", name=alts[0])).to_be_visible()
    await audit(page, "carousel")
    await carousel.get_by_role("button", name="Next photo").click()
    assert await current_slide(page) == media[1]
    await expect(carousel.get_by_text("2 of 3")).to_be_attached()
    await carousel.get_by_role("button", name="Next photo").focus()
    await page.keyboard.press("ArrowRight")
    assert await current_slide(page) == media[2]
    await page.keyboard.press("ArrowRight")  # the last photo stays the last
    assert await current_slide(page) == media[2]
    await page.keyboard.press("ArrowLeft")
    assert await current_slide(page) == media[1]
    await page.keyboard.press("Home")
    assert await current_slide(page) == media[0]
    box = await carousel.locator(".slides").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.8, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    await page.mouse.up()
    assert await current_slide(page) == media[1]
    await audit(page, "photo (album)")
    await screenshot(page, "album-carousel")

    # The grid: the post once, with an album marker.
    await page.goto(page.url.split("#")[0] + f"#/u/{ana.username}")
    tiles = page.locator(".grid .tile")
    await expect(tiles).to_have_count(2)
    album_tile = page.locator(f'.grid .tile[data-photo-id="{post_id}"]')
    await expect(album_tile.locator(".album-marker")).to_have_count(1)
    await expect(album_tile).to_have_accessible_name("Album of 3 photos by " + ana.username)
    await audit(page, "profile")


async def test_every_page_passes_axe(new_page: NewPage, seeder: Seeder) -> None:
    """Sign-in, feed, explore, search, photo, profile, upload, requests, settings: no
    serious or critical violation, at desktop and phone width."""
    cleo = await seeder.account("cleo")
    photo = await seeder.photo(cleo, "A quiet #harbour", seed=41)
    signin = await new_page()
    await expect(signin.get_by_role("heading", name="photostream")).to_be_visible()
    await audit(signin, "sign-in")
    for viewport in (None, PHONE):
        page = await (new_page(cleo) if viewport is None else new_page(cleo, viewport=viewport))
        for name, path in (("feed", "#/"), ("feed (top)", "#/?mode=top"),
                           ("explore", "#/explore"), ("search", "#/search?q=%23harbour"),
                           ("photo", f"#/p/{photo}"), ("profile", f"#/u/{cleo.username}"),
                           ("upload", "#/upload"), ("requests", "#/requests"),
                           ("settings", "#/settings")):
            await page.goto(page.url.split("#")[0] + path)
            await expect(page.locator("main h1")).to_have_count(1)
            await expect(page.locator("main .loading", has_text="Loading")).to_have_count(0)
            # Not "networkidle": the live notification stream keeps a request open.
            await page.wait_for_load_state("load")
            await images_loaded(page)
            await audit(page, f"{name} at {'phone' if viewport else 'desktop'} width")


async def test_the_owner_is_told_which_photos_did_not_make_the_album(
        new_page: NewPage, seeder: Seeder) -> None:
    dora = await seeder.account("dora")
    media = []
    for name, data in (("good.jpg", landscape(21)), ("bad.jpg", landscape(22)[:400])):
        r = await seeder.http.post(seeder.services.ingest_url + "/v1/media", headers=dora.auth,
                                   files={"file": (name, data, "image/jpeg")},
                                   data={"detached": "true"})
        r.raise_for_status()
        media.append(r.json()["photo_id"])
    r = await seeder.http.post(seeder.services.ingest_url + "/v1/posts", headers=dora.auth,
                               json={"media_ids": media, "caption": "one of two"})
    r.raise_for_status()
    post_id = r.json()["post_id"]
    await seeder.until(lambda: seeder.ready(dora, post_id), timeout=120)
    page = await new_page(dora, path=f"#/p/{post_id}")
    note = page.get_by_role("note").filter(has_text="could not be posted")
    await expect(note).to_contain_text("1 of 2 photos could not be posted")
    await audit(page, "photo (album with a failed item)")
    # The owner edits the alt text later; once the event is applied, the image says it.
    await page.get_by_text("Edit alt text").click()
    await page.get_by_label("Alt text").fill("a sunlit hillside")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Alt text saved")).to_be_visible()
    await audit(page, "photo (alt-text editor)")

    async def alt_applied() -> bool:
        r = await seeder.http.get(f"{seeder.services.api_url}/v1/photos/{post_id}",
                                  headers=dora.auth)
        return r.json()["items"][0]["alt_text"] == "a sunlit hillside"
    await seeder.until(alt_applied, timeout=30)
    await page.reload()
    await expect(page.get_by_role("img", name="a sunlit hillside")).to_be_visible()
