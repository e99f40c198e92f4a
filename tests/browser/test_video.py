"""A posted video plays in Debian's Chromium: muted autoplay in the feed, controls on its page.

The clip is what an iPhone uploads (HEVC in QuickTime, a portrait rotation, a GPS
position); what the browser gets is the media processor's H.264 + AAC MP4. Playing is
shown, not assumed: the element's ``currentTime`` advances and it decoded real frames
(``videoWidth``). Debian's Chromium decodes H.264 (``canPlayType`` says "probably";
checked here too, so a build without it fails with that reason). An animated GIF plays
as a looping MP4, and a still photo is shown from its AVIF twin (the JPEG stays the
fallback of the ``<picture>``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import NewPage, screenshot
from tests.browser.world import Account, Seeder, Services
from tests.support import media

pytestmark = [pytest.mark.slow, pytest.mark.stack]

PLAYING = """(el) => el.readyState >= 2 && el.currentTime > 0.3 && el.videoWidth > 0"""


async def post(seeder: Seeder, owner: Account, name: str, data: bytes, mime: str) -> str:
    r = await seeder.http.post(seeder.services.ingest_url + "/v1/media", headers=owner.auth,
                               files={"file": (name, data, mime)},
                               data={"caption": f"{name} #video"})
    r.raise_for_status()
    photo_id: str = r.json()["photo_id"]
    await seeder.until(lambda: seeder.ready(owner, photo_id), timeout=180)
    return photo_id


async def playing(page: Page, selector: str) -> dict:
    video = page.locator(selector)
    await video.wait_for(state="attached", timeout=30_000)
    await video.scroll_into_view_if_needed()  # feed videos play only while on screen
    handle = await video.element_handle()
    assert handle is not None
    try:
        await page.wait_for_function(PLAYING, arg=handle, timeout=30_000)
    except PlaywrightTimeout:
        seen = await video.evaluate(
            """(el) => ({ready: el.readyState, network: el.networkState, paused: el.paused,
                         t: el.currentTime, error: el.error && el.error.message,
                         src: el.currentSrc, autoplay: el.autoplay, muted: el.muted})""")
        raise AssertionError(f"{selector} is not playing: {seen}") from None
    state: dict = await video.evaluate(
        """(el) => ({t: el.currentTime, w: el.videoWidth, h: el.videoHeight, muted: el.muted,
                     loop: el.loop, controls: el.controls, src: el.currentSrc,
                     poster: el.poster})""")
    return state


async def test_a_phone_video_plays_in_the_feed_and_on_its_page(
        services: Services, seeder: Seeder, new_page: NewPage, tmp_path: Path) -> None:
    alice = await seeder.account("vid_alice")
    bob = await seeder.account("vid_bob")
    await seeder.follow(bob, alice)
    clip = media.phone_mov(tmp_path / "IMG_0001.MOV", seconds=4)
    video_id = await post(seeder, alice, "IMG_0001.MOV", clip.read_bytes(), "video/quicktime")
    gif_id = await post(seeder, alice, "party.gif", media.animated_gif(24, (240, 180)),
                        "image/gif")
    photo_id = await seeder.photo(alice, "a still photo", seed=5)
    await seeder.until(lambda: _in_feed(seeder, bob, video_id, gif_id, photo_id), timeout=60)

    page = await new_page(bob)
    support = await page.evaluate("""() => document.createElement('video')
        .canPlayType('video/mp4; codecs="avc1.640028, mp4a.40.2"')""")
    assert support == "probably", f"this Chromium cannot play H.264 + AAC: {support!r}"

    feed_video = f"article[data-photo-id='{video_id}'] video"
    state = await playing(page, feed_video)
    assert (state["muted"], state["loop"], state["controls"]) == (True, True, False)
    assert (state["w"], state["h"]) == (720, 1280)  # upright: the rotation was applied
    assert ".mp4" in state["src"] and ".jpg" in state["poster"]
    later = await page.locator(feed_video).evaluate("(el) => el.currentTime")
    await page.wait_for_timeout(600)
    assert await page.locator(feed_video).evaluate("(el) => el.currentTime") != later

    # A still photo: Chromium decodes AVIF, so of the <picture> it takes the AVIF twin.
    still = page.locator(f"article[data-photo-id='{photo_id}'] picture img")
    await still.scroll_into_view_if_needed()
    await page.wait_for_function("(el) => el.complete && el.naturalWidth > 0",
                                 arg=await still.element_handle(), timeout=30_000)
    assert ".avif" in await still.evaluate("(el) => el.currentSrc")

    gif = await playing(page, f"article[data-photo-id='{gif_id}'] video")
    assert (gif["muted"], gif["loop"], gif["controls"]) == (True, True, False)
    await page.locator(feed_video).scroll_into_view_if_needed()
    await screenshot(page, "video-feed")

    photo = await new_page(bob, path=f"#/p/{video_id}")
    player = photo.locator(".photo-media video")
    await player.wait_for(timeout=30_000)
    assert await player.evaluate("(el) => el.controls && !el.autoplay")
    await player.click()  # a person's click: playback with sound is allowed
    await player.evaluate("(el) => el.paused && el.play()")
    state = await playing(photo, ".photo-media video")
    assert state["muted"] is False
    await screenshot(photo, "video-photo-page")


async def _in_feed(seeder: Seeder, who: Account, *ids: str) -> bool:
    return set(ids) <= set(await seeder.feed_ids(who))
