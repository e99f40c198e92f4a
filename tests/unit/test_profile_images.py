"""Avatars and headers: cover_box keeps the centred box of the target's shape, and
render_profile_image cuts every upload (wide, tall, tiny, rotated) to exactly Mastodon's
sizes, refuses what is no image, and gives the same bytes on a rerun."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from processors.media.derivatives import MediaRejected
from processors.media.profile_images import (
    PROFILE_SIZES,
    check_header,
    cover_box,
    render_profile_image,
)
from tests.support.images import encoded, image_bytes

MAX = 50_000_000


@pytest.mark.parametrize(("size", "target", "box"), [
    ((1000, 500), (400, 400), (250.0, 0.0, 750.0, 500.0)),      # wide: sides trimmed
    ((500, 1000), (400, 400), (0.0, 250.0, 500.0, 750.0)),      # tall: top and bottom
    ((400, 400), (400, 400), (0.0, 0.0, 400.0, 400.0)),         # already square
    ((3000, 2000), (1500, 500), (0.0, 500.0, 3000.0, 1500.0)),  # header from a photo
    ((1000, 100), (1500, 500), (350.0, 0.0, 650.0, 100.0)),     # header from a strip
])
def test_cover_box_is_the_largest_centred_box_of_the_target_shape(
        size: tuple[int, int], target: tuple[int, int],
        box: tuple[float, float, float, float]) -> None:
    assert cover_box(*size, *target) == box
    left, top, right, bottom = box
    assert (right - left) * target[1] == pytest.approx((bottom - top) * target[0])


def test_cover_box_refuses_empty_sizes() -> None:
    with pytest.raises(ValueError):
        cover_box(0, 10, 400, 400)


def _sizes(data: bytes, kind: str) -> list[tuple[str, int, int]]:
    out = []
    for d in render_profile_image(data, kind, MAX, 82):
        with Image.open(io.BytesIO(d.data)) as im:
            assert im.format == "JPEG" and d.content_type == "image/jpeg"
            assert (im.width, im.height) == (d.width, d.height)
            out.append((d.name, im.width, im.height))
    return out


@pytest.mark.parametrize("source", [(1600, 900), (300, 1200), (50, 50), (3000, 3000)])
def test_every_upload_becomes_mastodons_exact_sizes(source: tuple[int, int]) -> None:
    data = image_bytes(*source)
    assert _sizes(data, "avatar") == [("avatar", 400, 400), ("avatar_small", 120, 120)]
    assert _sizes(data, "header") == [("header", 1500, 500)]
    assert [s[0] for s in PROFILE_SIZES["avatar"]] == ["avatar", "avatar_small"]


def test_the_crop_is_centred_on_the_upright_image() -> None:
    """A tall picture, red in the middle third, green above and blue below, stored
    sideways with EXIF orientation 6: the avatar is the red middle."""
    upright = Image.new("RGB", (300, 900), (0, 200, 0))
    upright.paste((220, 0, 0), (0, 300, 300, 600))
    upright.paste((0, 0, 220), (0, 600, 300, 900))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 undoes
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(stored, "JPEG", exif=exif.tobytes(), quality=95)
    avatar = render_profile_image(data, "avatar", MAX, 90)[0]
    with Image.open(io.BytesIO(avatar.data)) as im:
        pixel = im.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel[:3]
    assert red > 180 and green < 40 and blue < 40


def test_a_rerun_gives_the_same_bytes() -> None:
    data = image_bytes(900, 700, fmt="PNG")
    first = render_profile_image(data, "avatar", MAX, 82)
    assert [d.data for d in first] == [d.data for d in render_profile_image(
        data, "avatar", MAX, 82)]


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"%PDF-1.7 not an image at all" * 10, "not an image"),
    (image_bytes(800, 600)[:400], "truncated"),
])
def test_what_is_no_image_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MediaRejected, match=reason):
        render_profile_image(data, "avatar", MAX, 82)


def test_too_many_pixels_is_rejected_before_decoding() -> None:
    with pytest.raises(MediaRejected, match="image too large"):
        render_profile_image(image_bytes(2000, 2000), "header", 1_000_000, 82)


def test_the_door_reads_only_the_header() -> None:
    """check_header passes a sound header (and says its size), refuses a non-image, a
    mangled header and a declared size over the limit, and leaves the file at its start."""
    good = io.BytesIO(image_bytes(640, 480, fmt="PNG"))
    assert check_header(good.getvalue()[:64], good, max_pixels=MAX) == (640, 480)
    assert good.tell() == 0
    mangled = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    for data, reason in [(b"plain text, no picture" * 20, "not an image"),
                         (mangled, "corrupt image"),
                         (image_bytes(3000, 3000), "image too large")]:
        with pytest.raises(MediaRejected, match=reason):
            check_header(data[:64], io.BytesIO(data), max_pixels=1_000_000)
