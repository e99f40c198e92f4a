"""Magic-byte sniffing decides 415s at ingest, so each accepted and refused shape is pinned."""

from __future__ import annotations

import pytest

from schemas import media_formats
from tests.support.images import image_bytes


def _encoded(fmt: str, mode: str = "RGB") -> bytes:
    return image_bytes(8, 8, "red", fmt=fmt, mode=mode)


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 16


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_sniff_real_images(fmt: str, mime: str) -> None:
    assert media_formats.sniff(_encoded(fmt)[: media_formats.SNIFF_BYTES]) == mime


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (_ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (b"\x00\x00\x00\x08wide" + b"\x00" * 16, "video/quicktime"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1"), "image/heif"),
        (_ftyp(b"avif", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"xxxx"), None),
        (b"", None),
        (b"%PDF-1.7\n", None),
        (b"%!PS-Adobe-3.0 EPSF-3.0", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"GIF8", None),
    ],
)
def test_sniff_heads(head: bytes, mime: str | None) -> None:
    assert media_formats.sniff(head) == mime


def test_accept_gates_heif_on_decoder() -> None:
    heic = _ftyp(b"heic", b"mif1", b"heic")
    expected = "image/heic" if media_formats.heif_available() else None
    assert media_formats.accept(heic) == expected
    assert media_formats.accept(_encoded("PNG")) == "image/png"
    assert media_formats.accept(b"not an image") is None


def test_accepted_types_always_has_core_set() -> None:
    accepted = media_formats.accepted_types()
    assert {"image/jpeg", "image/png", "image/gif", "image/webp"} <= accepted
    assert {"video/mp4", "video/quicktime"} <= accepted
    assert media_formats.is_video("video/mp4")
    assert not media_formats.is_video("image/png")


def test_phone_formats_are_first_class() -> None:
    """pillow-heif is a dependency and Pillow decodes AVIF: none of them is optional."""
    assert media_formats.heif_available() and media_formats.avif_available()
    assert {"image/heic", "image/heif", "image/avif", "image/webp", "image/png",
            "video/quicktime", "video/mp4"} <= media_formats.accepted_types()
