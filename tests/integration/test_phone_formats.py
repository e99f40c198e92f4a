"""What phones upload, through ingest and the media processor: accepted and shown upright.

iPhone HEIC photos and MOV videos, Android's WebP, AVIF and PNG are first-class inputs:
ingest answers 202 (sniffed from the bytes), the processor renders them, the stored
orientation is applied (a portrait shot displays portrait) and nothing of the metadata
(camera make, GPS position) reaches a derivative.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from infra.http.auth import mint
from infra.settings import Settings
from producers.ingest import create_app
from schemas.media import PhotoProcessed
from schemas.topics import MEDIA_PROCESSED
from sinks.objects import ObjectStore
from tests.integration.test_media_processor import Tail
from tests.support import media
from tests.support.accounts import registered_user
from tests.support.processors import running

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PHOTOS = {"heic": ("IMG_0001.HEIC", "HEIF"), "avif": ("photo.avif", "AVIF"),
          "webp": ("photo.webp", "WEBP"), "png": ("screenshot.png", "PNG")}


@pytest.fixture(scope="module")
async def processed(stack: Settings, tmp_path_factory: pytest.TempPathFactory
                    ) -> AsyncIterator[dict[str, PhotoProcessed]]:
    """Each phone file uploaded over HTTP as a phone would; its photo.processed event."""
    tmp = tmp_path_factory.mktemp("phone")
    files = {name: (filename, media.phone_photo(fmt)) for name, (filename, fmt) in
             PHOTOS.items()}
    files["mov"] = ("IMG_0002.MOV", media.phone_mov(tmp / "IMG_0002.MOV").read_bytes())
    user = await registered_user()
    headers = {"Authorization": f"Bearer {mint(user, stack)}"}
    app = create_app(stack)
    ids: dict[str, int] = {}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest",
            timeout=60) as client, Tail(stack, MEDIA_PROCESSED) as tail:
        for name, (filename, data) in files.items():
            # The client's type is whatever the phone says; ingest sniffs the bytes.
            response = await client.post("/v1/media", headers=headers, files={
                "file": (filename, data, "application/octet-stream")})
            assert response.status_code == 202, (name, response.text)
            ids[name] = int(response.json()["photo_id"])
        async with running(stack, "media"):
            await tail.until(tail.has_all(ids.values()), timeout=180)
    out = {}
    for name, pid in ids.items():
        payload = tail.processed[pid][0].payload
        assert isinstance(payload, PhotoProcessed), (name, payload)
        out[name] = payload
    yield out


@pytest.mark.parametrize("name", sorted(PHOTOS))
async def test_phone_photo_is_upright_and_stripped(
        processed: dict[str, PhotoProcessed], stack: Settings, name: str) -> None:
    photo = processed[name]
    assert (photo.media_kind, photo.original_width, photo.original_height) == (
        "photo", 800, 1200)
    store = ObjectStore.from_settings(stack)
    for derivative in photo.derivatives:
        data = await store.get(stack.s3.media_bucket, derivative.key)
        assert b"Apple" not in data and b"iPhone" not in data, derivative.name
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == ("AVIF" if derivative.name.endswith("_avif") else "JPEG")
            assert "exif" not in im.info and not im.getexif()
            if derivative.name == "large":
                assert im.size == (800, 1200)
                # The stored top-left corner is now top-right: turned, not mirrored.
                r, g, b = im.convert("RGB").getpixel((im.width - 10, 10))  # type: ignore[misc]
                assert r > 180 and g < 80 and b < 80, (name, (r, g, b))
                r, g, b = im.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
                assert not (r > 180 and g < 80), (name, (r, g, b))


async def test_iphone_mov_is_a_video_with_web_renditions(
        processed: dict[str, PhotoProcessed]) -> None:
    photo = processed["mov"]
    assert (photo.media_kind, photo.original_width, photo.original_height) == (
        "video", 720, 1280)
    assert {"video", "video_small"} <= {d.name for d in photo.derivatives}
