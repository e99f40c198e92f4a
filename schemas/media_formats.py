"""Content-type sniffing from magic bytes, and the set of types we accept.

Why sniff instead of trusting the client's ``Content-Type`` or file extension: both are
attacker-controlled, and the decoders we hand bytes to (Pillow, ffmpeg) will happily parse
formats we never meant to support (EPS via Ghostscript, HLS playlists that make ffmpeg read
local files, ...). The ingest service answers 415 for anything :func:`accept` refuses, and the
media processor opens files with the decoder named by the sniffed type only.
"""

from __future__ import annotations

import functools

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"
AVIF = "image/avif"
MP4 = "video/mp4"
QUICKTIME = "video/quicktime"

IMAGE_TYPES: frozenset[str] = frozenset({JPEG, PNG, GIF, WEBP, HEIC, HEIF, AVIF})
VIDEO_TYPES: frozenset[str] = frozenset({MP4, QUICKTIME})

#: How many leading bytes :func:`sniff` needs to decide (ISO-BMFF brand lists can be long).
SNIFF_BYTES = 64

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
        b"M4V ", b"M4VH", b"M4VP", b"dash", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"mmp4",
        b"MSNV", b"XAVC", b"f4v ",
    }
)  # fmt: skip
# Pre-ftyp QuickTime files start straight with one of these atoms.
_LEGACY_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot"})


def sniff(head: bytes) -> str | None:
    """Identify a file by its first bytes (pass at least :data:`SNIFF_BYTES`).

    Returns the MIME type of a format we know, regardless of whether this deployment can
    decode it (see :func:`accepted_types`), or None for anything else.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if len(head) >= 8 and head[4:8] in _LEGACY_QT_ATOMS:
        return QUICKTIME
    return None


def _sniff_ftyp(head: bytes) -> str | None:
    """Classify an ISO base media file by its ``ftyp`` box: major brand, then compatibles."""
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    end = min(len(head), box_size) if box_size >= 16 else min(len(head), 16)
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major == b"qt  ":
        return QUICKTIME
    # An AVIF is also "mif1"-compatible: check it before HEIF (a different decoder).
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and compatible & _AVIF_BRANDS):
        return AVIF
    if major in _HEIC_BRANDS or (major in _HEIF_BRANDS and compatible & _HEIC_BRANDS):
        return HEIC
    if major in _HEIF_BRANDS:
        return HEIF
    if major in _MP4_BRANDS or brands & _MP4_BRANDS:
        return MP4
    if b"qt  " in compatible:
        return QUICKTIME
    return None


@functools.cache
def heif_available() -> bool:
    """Register a Pillow HEIF opener if one is installed; True when HEIC/HEIF can be decoded.

    Cached, so calling it from every worker task costs nothing after the first time; it must
    run in each process that decodes (plugins register per interpreter).
    """
    try:
        import pillow_heif  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@functools.cache
def avif_available() -> bool:
    """True when Pillow was built with its AVIF plugin (its wheels are, from 11.3)."""
    try:
        from PIL import features
    except ImportError:
        return False
    return bool(features.check("avif"))


def accepted_types() -> frozenset[str]:
    """Every MIME type the pipeline will take: HEIC/HEIF and AVIF only when a decoder is
    importable (pillow-heif is a dependency, so only a broken install lacks it)."""
    types = IMAGE_TYPES | VIDEO_TYPES
    if not heif_available():
        types -= {HEIC, HEIF}
    if not avif_available():
        types -= {AVIF}
    return types


def accept(head: bytes) -> str | None:
    """The sniffed MIME type if we accept it, else None (the ingest service answers 415)."""
    mime = sniff(head)
    return mime if mime is not None and mime in accepted_types() else None


def is_video(mime: str) -> bool:
    """True for container types that go through ffmpeg rather than Pillow."""
    return mime in VIDEO_TYPES
