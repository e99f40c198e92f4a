"""Downscaling Pillow images with libvips' Lanczos-3: Lanczos quality at Hamming's price.

Why not Pillow's own resize: on this code path (one process per core, no SIMD in Pillow's
resampler) it is the largest cost after decoding, and its cost grows with the filter's
support: Lanczos is ~2.5x Hamming. Hamming and bilinear lose 0.6-1.1 dB PSNR against Lanczos
on sharp content (text, fine lines), past the quality bar ``bench.media`` checks. libvips'
reducers are vectorised, so Lanczos-3 there costs about what Hamming costs in Pillow
(2000x1500 -> 1080x810: ~17 ms vs Pillow Lanczos ~55 ms, bicubic ~38 ms, Hamming ~24 ms).

Pillow stays the codec (decode, colour management, encode); only pixels cross over, as one
``tobytes`` copy each way. libvips runs single-threaded with its operation cache off: the
media processor already runs one worker per core, and a cache would pin every input buffer.
"""

from __future__ import annotations

import pyvips
from PIL import Image, ImageFile

__all__ = ["downscale", "downscale_raw"]

pyvips.concurrency_set(1)
pyvips.cache_set_max(0)

_BANDS = {"L": 1, "RGB": 3, "CMYK": 4}


def downscale(im: Image.Image, width: int, height: int) -> Image.Image:
    """``im`` (L, RGB or CMYK, 8-bit) resized down to exactly ``width`` x ``height``."""
    return downscale_raw(im, width, height)[0]


def downscale_raw(
    im: Image.Image, width: int, height: int, raw: bytes | None = None
) -> tuple[Image.Image, bytes | None]:
    """:func:`downscale`, also returning the result's pixel bytes for the next step.

    ``raw`` is ``im.tobytes()`` when the caller has it (the previous step's output): Pillow's
    ``tobytes`` costs ~3 ms per megapixel here, more than the resize itself at small sizes,
    so a chain of resizes hands vips' output buffer straight to the next step. The bytes
    are ``None`` when ``im`` is returned unchanged and ``raw`` was not given.
    """
    if im.size == (width, height):
        return im, raw
    if im.width == 2 * width and im.height == 2 * height:
        # An exact halving (640 -> 320) is a 2x2 box average in Pillow: ~1 ms against ~4 ms
        # through vips, for <= 0.4 dB PSNR on sharp text (bench.media prints it).
        return im.reduce(2), None
    bands = _BANDS.get(im.mode)
    if bands is None:
        raise ValueError(f"downscale needs an L, RGB or CMYK image, not {im.mode}")
    pixels = raw if raw is not None else _tobytes(im)
    src = pyvips.Image.new_from_memory(pixels, im.width, im.height, bands, "uchar")
    out = src.resize(width / im.width, vscale=height / im.height, kernel="lanczos3")
    if (out.width, out.height) != (width, height):  # rounding of the scale; never by > 1 px
        out = out.crop(0, 0, min(width, out.width), min(height, out.height)).gravity(
            "north-west", width, height, extend="copy"
        )
    data = out.write_to_memory()
    return Image.frombytes(im.mode, (width, height), data), data


def _tobytes(im: Image.Image) -> bytes:
    """``im.tobytes()`` in one chunk: Pillow packs in ``ImageFile.MAXBLOCK`` (64 KB) pieces,
    and on a 1080x1350 RGB image the per-piece cost doubles the copy (~8 ms -> ~4 ms).

    The setting is process-wide; it only sizes buffers, so a concurrent reader (none in the
    single-threaded pool workers) would at worst use a different chunk size.
    """
    saved = ImageFile.MAXBLOCK
    ImageFile.MAXBLOCK = max(saved, im.width * im.height * len(im.getbands()))
    try:
        return im.tobytes()
    finally:
        ImageFile.MAXBLOCK = saved
