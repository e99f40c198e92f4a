"""render_photo on generated inputs: every bad shape is a MediaRejected, every good one yields
metadata-free, correctly oriented, never-upscaled, byte-identical-on-rerun derivatives."""

from __future__ import annotations

import io
import pickle
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat

from processors.media.derivatives import MediaRejected, Rendition, render_photo
from tests.support.images import encoded

MAX = 50_000_000


def _photo(w: int = 1600, h: int = 1200) -> Image.Image:
    """Gradients plus noise: enough texture that JPEG behaves as it does on real photos."""
    noise = Image.effect_noise((w, h), 40)
    lin = Image.linear_gradient("L").resize((w, h))
    rad = Image.radial_gradient("L").resize((w, h))
    return Image.merge("RGB", (Image.blend(noise, lin, 0.6), Image.blend(noise, rad, 0.6), lin))


def _render(data: bytes, *, max_pixels: int = MAX) -> Rendition:
    return render_photo(data, max_pixels=max_pixels)


def _by_name(r: Rendition) -> dict[str, Image.Image]:
    out: dict[str, Image.Image] = {}
    for d in r.derivatives:
        im = Image.open(io.BytesIO(d.data))
        im.load()
        assert im.format == "JPEG"
        assert im.size == (d.width, d.height)
        assert d.content_type == "image/jpeg"
        out[d.name] = im
    return out


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(w: int, h: int) -> bytes:
    """A ~70-byte PNG whose header claims w x h (8-bit RGB): the classic decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# --- happy path -----------------------------------------------------------------------------


def test_photo_gets_all_sizes_with_aspect_kept() -> None:
    r = _render(encoded(_photo(1600, 1200), quality=90))
    assert (r.original_width, r.original_height) == (1600, 1200)
    ims = _by_name(r)
    assert [d.name for d in r.derivatives] == ["large", "medium", "small", "thumb"]
    assert ims["large"].size == (1080, 810)
    assert ims["medium"].size == (640, 480)
    assert ims["small"].size == (320, 240)
    assert ims["thumb"].size == (150, 150)
    assert not (ims["large"].info.get("progressive") or ims["large"].info.get("progression"))
    assert r.placeholder.dominant_color.startswith("#") and len(r.placeholder.dominant_color) == 7
    assert r.placeholder.blurhash is not None and len(r.placeholder.blurhash) == 28  # 4x3


def test_portrait_and_panorama_thumbs_are_square() -> None:
    for w, h in ((900, 1600), (4000, 400)):
        ims = _by_name(_render(encoded(_photo(w, h))))
        assert ims["thumb"].size == (150, 150)
        assert ims["large"].width == min(1080, w)


def test_deterministic_bytes() -> None:
    data = encoded(_photo(1200, 900))
    assert _render(data) == _render(data)


def test_tiny_image_is_never_upscaled() -> None:
    r = _render(encoded(_photo(100, 60)))
    sizes = {d.name: (d.width, d.height) for d in r.derivatives}
    assert sizes == {"large": (100, 60), "medium": (100, 60), "small": (100, 60), "thumb": (60, 60)}


def test_500px_original_large_equals_medium_width() -> None:
    sizes = {d.name: (d.width, d.height) for d in _render(encoded(_photo(500, 400))).derivatives}
    assert sizes["large"] == sizes["medium"] == (500, 400)
    assert sizes["small"] == (320, 256)


def test_rendition_and_rejection_survive_pickling() -> None:
    r = _render(encoded(_photo(300, 200)))
    assert pickle.loads(pickle.dumps(r)) == r
    exc = pickle.loads(pickle.dumps(MediaRejected("truncated image data")))
    assert isinstance(exc, MediaRejected) and exc.reason == "truncated image data"


# --- orientation and metadata ----------------------------------------------------------------


def test_exif_orientation_6_swaps_dimensions() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    r = _render(encoded(_photo(1600, 1200), exif=exif.tobytes()))
    assert (r.original_width, r.original_height) == (1200, 1600)
    ims = _by_name(r)
    assert ims["large"].size == (1080, 1440)
    assert ims["small"].size == (320, 427)


def test_exif_gps_and_icc_are_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2024:01:01 12:00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 22.0, 1.5)
    gps[3], gps[4] = "E", (4.0, 53.0, 2.5)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(_photo(800, 600), exif=exif.tobytes(), icc_profile=srgb, comment=b"secret")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the input really has GPS
    for d in _render(data).derivatives:
        assert b"Exif" not in d.data
        assert b"secret" not in d.data and b"PhoneMaker" not in d.data
        im = Image.open(io.BytesIO(d.data))
        assert not im.getexif()
        assert "icc_profile" not in im.info and "exif" not in im.info


# --- colour modes ---------------------------------------------------------------------------


def _center(im: Image.Image) -> tuple[int, ...]:
    px = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
    assert isinstance(px, tuple)
    return px


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 20) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_cmyk_jpeg_colours_survive() -> None:
    data = encoded(Image.new("CMYK", (400, 300), (0, 255, 255, 0)))  # pure red ink
    r, g, b = _center(_by_name(_render(data))["small"])
    assert r > 200 and g < 80 and b < 80


def test_16bit_png_is_scaled_not_clipped() -> None:
    grad = Image.linear_gradient("L").resize((256, 256)).convert("I").point(lambda v: v * 257)
    data = encoded(grad.convert("I;16"), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    lo, hi = _by_name(_render(data))["medium"].convert("L").getextrema()
    assert isinstance(lo, int) and isinstance(hi, int)
    assert lo < 30 and hi > 220  # a plain convert("L") would have made this white


@pytest.mark.parametrize(
    ("mode", "scale"), [("I", 1), ("I", 257), ("I", 100_000), ("F", 1 / 255), ("F", 1000.0)]
)
def test_wide_modes_are_scaled_to_8bit(mode: str, scale: float) -> None:
    # Not reachable through PNG in every Pillow version, so exercise the normaliser directly.
    from processors.media.derivatives import _normalize_mode

    grad = Image.linear_gradient("L").resize((64, 64)).convert(mode).point(lambda v: v * scale)
    out = _normalize_mode(grad)
    assert out.mode == "L"
    lo, hi = out.getextrema()
    assert isinstance(lo, int) and isinstance(hi, int)
    assert hi - lo > 200


def test_rgba_and_palette_transparency_flatten_to_white() -> None:
    clear = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    assert _close(_center(_by_name(_render(encoded(clear, "PNG")))["thumb"]), (255, 255, 255))
    pal = Image.new("P", (200, 200), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0])
    assert _close(
        _center(_by_name(_render(encoded(pal, "PNG", transparency=0)))["thumb"]), (255,) * 3
    )
    assert _close(
        _center(_by_name(_render(encoded(pal, "GIF", transparency=0)))["thumb"]), (255,) * 3
    )
    la = Image.new("LA", (200, 200), (0, 255))
    assert _close(_center(_by_name(_render(encoded(la, "PNG")))["thumb"]), (0, 0, 0))


def test_one_bit_and_grey() -> None:
    for mode, value in (("1", 1), ("L", 128)):
        im = Image.new(mode, (300, 200), value)
        px = _center(_by_name(_render(encoded(im, "PNG")))["small"])
        assert _close(px, (255,) * 3 if mode == "1" else (128,) * 3)


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (200, 150), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    r = _render(data)
    assert _close(_center(_by_name(r)["large"]), (255, 0, 0))
    rgb = bytes.fromhex(r.placeholder.dominant_color[1:])
    assert _close(tuple(rgb), (255, 0, 0))


def test_animated_webp_and_apng_use_first_frame() -> None:
    frames = [Image.new("RGB", (120, 90), c) for c in ((0, 0, 255), (255, 255, 0))]
    for fmt in ("WEBP", "PNG"):
        data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
        assert _close(_center(_by_name(_render(data))["large"]), (0, 0, 255), tol=30)


# --- rejections -----------------------------------------------------------------------------


def _reason(data: bytes, *, max_pixels: int = MAX) -> str:
    with pytest.raises(MediaRejected) as info:
        _render(data, max_pixels=max_pixels)
    return info.value.reason


def test_zero_bytes_rejected() -> None:
    assert "empty" in _reason(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"definitely not an image",
        b"%!PS-Adobe-3.0 EPSF-3.0\n",
        b"\xff\xd8\xff" + b"\x00garbage" * 50,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        b"GIF89a" + b"\xff" * 30,
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
    ],
    ids=["text", "eps", "jpeg-garbage", "png-garbage", "gif-garbage", "webp-garbage"],
)
def test_corrupt_bytes_rejected(data: bytes) -> None:
    assert _reason(data)


def test_formats_outside_the_allowed_set_rejected() -> None:
    for fmt in ("BMP", "TIFF"):
        assert _reason(encoded(Image.new("RGB", (10, 10)), fmt)).startswith("not an image")


def test_truncated_jpeg_rejected() -> None:
    data = encoded(_photo(800, 600), quality=90)
    assert _reason(data[: len(data) // 2]) == "truncated image data"


def test_truncated_png_rejected() -> None:
    data = encoded(_photo(400, 300), "PNG")
    assert _reason(data[: len(data) // 2])


def test_decompression_bomb_rejected_before_decoding() -> None:
    bomb = _png_claiming(30_000, 30_000)
    assert len(bomb) < 200
    reason = _reason(bomb)
    assert reason == "image too large: 30000x30000 = 900 MP exceeds the 50 MP limit"


def test_pillow_bomb_guard_is_a_rejection_too() -> None:
    # With our own limit out of the way, Pillow's MAX_IMAGE_PIXELS guard must still end up as
    # MediaRejected, never DecompressionBombError/Warning.
    assert _reason(_png_claiming(100_000, 100_000), max_pixels=10**12).startswith("image too large")
    assert _reason(_png_claiming(10_000, 10_000), max_pixels=10**12).startswith("image too large")


def test_declared_size_check_uses_configured_limit() -> None:
    data = encoded(_photo(400, 300))
    assert "exceeds the 0 MP limit" in _reason(data, max_pixels=100_000)


def test_extreme_aspect_ratio_rejected() -> None:
    assert _reason(encoded(Image.new("RGB", (20, 2000)), "PNG")).startswith("unsupported aspect")
    assert _render(encoded(Image.new("RGB", (2000, 200)), "PNG")).derivatives[0].height == 108


# --- fast paths: pass-through large, deferred rotation, encode options -----------------------


def _quadrants(w: int, h: int) -> Image.Image:
    """Four flat colours, so any wrong flip or rotation moves a colour to another corner."""
    im = Image.new("RGB", (w, h), (220, 30, 30))
    im.paste((30, 200, 30), (w // 2, 0, w, h // 2))
    im.paste((30, 30, 220), (0, h // 2, w // 2, h))
    im.paste((240, 240, 40), (w // 2, h // 2, w, h))
    return im


def _corners(im: Image.Image) -> list[tuple[int, ...]]:
    w, h = im.size
    return [_px(im, x, y) for x, y in ((w // 8, h // 8), (w - w // 8, h // 8),
                                         (w // 8, h - h // 8), (w - w // 8, h - h // 8))]


def _px(im: Image.Image, x: int, y: int) -> tuple[int, ...]:
    px = im.convert("RGB").getpixel((x, y))
    assert isinstance(px, tuple)
    return px


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_displays_like_exif_transpose(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(_quadrants(1600, 1000), quality=92, exif=exif.tobytes())
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    r = _render(data)
    assert (r.original_width, r.original_height) == expected.size
    for name, im in _by_name(r).items():
        if name == "thumb":
            continue
        assert im.width / im.height == pytest.approx(expected.width / expected.height, rel=0.01)
        want = _corners(expected.resize(im.size))
        assert all(_close(a, b) for a, b in zip(_corners(im), want, strict=True)), name


def _tagged_upload(w: int, h: int, quality: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(_photo(w, h), quality=quality, exif=exif.tobytes(), icc_profile=srgb,
                 comment=b"secret")
    return data + b"TRAILER-after-EOI"  # as Samsung/MPF extras are


def test_jpeg_already_large_sized_is_passed_through_losslessly() -> None:
    data = _tagged_upload(1080, 1350, 85)
    large = _render(data).derivatives[0]
    assert (large.name, large.width, large.height) == ("large", 1080, 1350)
    assert len(large.data) < len(data)
    for secret in (b"Exif", b"PhoneMaker", b"secret", b"TRAILER", b"ICC_PROFILE"):
        assert secret not in large.data
    out, src = Image.open(io.BytesIO(large.data)), Image.open(io.BytesIO(data))
    assert out.tobytes() == src.tobytes()  # same coded image: identical pixels
    assert large.data.endswith(b"\xff\xd9")


def test_high_quality_jpeg_is_reencoded_at_the_configured_quality() -> None:
    data = _tagged_upload(1080, 1350, 97)
    large = _render(data).derivatives[0]
    assert len(large.data) < 0.7 * len(data)
    assert b"secret" not in large.data and b"PhoneMaker" not in large.data
    reference = Image.open(io.BytesIO(encoded(_photo(64, 64), quality=82)))
    out = Image.open(io.BytesIO(large.data))
    assert getattr(out, "quantization", None) == getattr(reference, "quantization", 0)


def test_progressive_is_available_for_large_and_medium() -> None:
    r = render_photo(encoded(_photo(1600, 1200)), max_pixels=MAX, progressive=True)
    ims = _by_name(r)
    for name, im in ims.items():
        prog = bool(im.info.get("progressive") or im.info.get("progression"))
        assert prog == (name in ("large", "medium")), name


def test_half_step_is_close_to_lanczos() -> None:
    src = _photo(1280, 960)
    r = _by_name(_render(encoded(src, quality=95)))
    assert r["small"].size == (320, 240)
    ref = src.resize((320, 240), Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(r["small"].convert("RGB"), ref)).rms
    assert max(diff) < 12  # q82 noise level, not a misplaced or mis-scaled image


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_downscale_hits_exact_sizes(mode: str) -> None:
    from processors.media.resample import downscale

    src = _photo(1999, 1333).convert(mode)
    for w, h in ((1080, 720), (640, 427), (333, 222), (1, 1), (1998, 1333)):
        out = downscale(src, w, h)
        assert (out.size, out.mode) == ((w, h), mode)
