"""strip_metadata: the coded image survives byte for byte, metadata and trailers do not, and
anything the walk does not understand is refused (None) rather than mangled."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from processors.media.derivatives import render_photo
from processors.media.jpegstrip import strip_metadata
from tests.support.images import encoded


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    return exif.tobytes()


_EXIF = _exif()


def _jpeg(**kw: object) -> bytes:
    w, h = 240, 160
    im = Image.merge("RGB", (Image.linear_gradient("L").resize((w, h)),
                             Image.effect_noise((w, h), 60).convert("L"),
                             Image.radial_gradient("L").resize((w, h))))
    return encoded(im, "JPEG", quality=85, **kw)


def _pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).tobytes()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"progressive": True},
        {"restart_marker_blocks": 4},
        {"subsampling": "4:4:4", "optimize": True},
        {"exif": _EXIF, "comment": b"hello"},
    ],
    ids=["baseline", "progressive", "restart-markers", "444-optimized", "exif-comment"],
)
def test_pixels_identical_and_metadata_gone(kw: dict[str, object]) -> None:
    data = _jpeg(**kw)
    out = strip_metadata(data + b"\x00trailer")
    assert out is not None
    assert _pixels(out) == _pixels(data)
    for secret in (b"Exif", b"PhoneMaker", b"hello", b"trailer"):
        assert secret not in out
    assert out.startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")


def test_adobe_marker_kept_so_rgb_coded_jpeg_keeps_its_colours() -> None:
    data = _jpeg(keep_rgb=True)
    out = strip_metadata(data)
    assert out is not None and b"Adobe" in out
    assert _pixels(out) == _pixels(data)


def test_rgb_coded_jpeg_is_not_passed_through_as_large() -> None:
    data = _jpeg(keep_rgb=True)
    large = render_photo(data, max_pixels=10**8).derivatives[0]
    assert large.data != strip_metadata(data)
    assert Image.open(io.BytesIO(large.data)).info.get("adobe_transform", 1) == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[:-2],  # no EOI: truncated upload
        lambda d: d[: len(d) // 2],
        lambda d: b"\x89PNG" + d[4:],
        lambda d: d.replace(b"\xff\xc0", b"\xff\xc9", 1),  # arithmetic-coded frame
    ],
    ids=["no-eoi", "half", "not-jpeg", "arithmetic"],
)
def test_unsupported_or_broken_is_refused(mangle: Callable[[bytes], bytes]) -> None:
    assert strip_metadata(mangle(_jpeg())) is None
