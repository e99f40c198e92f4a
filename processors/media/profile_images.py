"""Avatars and headers: an uploaded image cut to the fixed sizes a profile shows.

Sizes are Mastodon's defaults, because Mastodon clients lay profiles out for them: an
avatar is 400x400 (``Account::AVATAR_GEOMETRY``) and a header 1500x500
(``HEADER_GEOMETRY``), both cut to fill (a centred crop of the largest box of the
target's shape, then scaled), so every derivative has exactly its nominal size whatever
was uploaded. The avatar also gets a 120 px copy: feeds and lists show avatars at 30-60
CSS px, and 120 covers that on a 2x screen for a tenth of the bytes. A small upload is
scaled up (as Mastodon's ``400x400#`` does): a client can trust the size.

Pure functions of picklable values, run in the media processor's process pool like the
photo pipeline (:mod:`processors.media.worker`); same bytes in, same bytes out, so a
redelivered upload overwrites its derivatives with identical ones.
"""

from __future__ import annotations

from typing import IO

from PIL import Image

from processors.media.derivatives import (
    JPEG_CONTENT_TYPE,
    Derivative,
    MediaRejected,
    check_pixels,
    decode_upright,
    encode_jpeg,
    image_decoders,
)

__all__ = ["PROFILE_SIZES", "check_header", "cover_box", "render_profile_image"]

#: Derivatives of each kind of profile image, largest first: (name, width, height).
PROFILE_SIZES: dict[str, tuple[tuple[str, int, int], ...]] = {
    "avatar": (("avatar", 400, 400), ("avatar_small", 120, 120)),
    "header": (("header", 1500, 500),),
}


def cover_box(width: int, height: int, target_width: int, target_height: int
              ) -> tuple[float, float, float, float]:
    """The centred box of a ``width`` x ``height`` image with the target's aspect ratio,
    as large as fits: what "cover" keeps (left, top, right, bottom)."""
    if width <= 0 or height <= 0 or target_width <= 0 or target_height <= 0:
        raise ValueError("sizes must be positive")
    if width * target_height > height * target_width:  # wider than the target: trim sides
        kept = height * target_width / target_height
        left = (width - kept) / 2
        return (left, 0.0, left + kept, float(height))
    kept = width * target_height / target_width
    top = (height - kept) / 2
    return (0.0, top, float(width), top + kept)


def render_profile_image(data: bytes, kind: str, max_pixels: int, quality: int
                         ) -> list[Derivative]:
    """The JPEG derivatives of an avatar or header (:data:`PROFILE_SIZES`); raises
    :class:`MediaRejected` for input that is no usable image."""
    sizes = PROFILE_SIZES.get(kind)
    if sizes is None:
        raise ValueError(f"unknown profile image kind {kind!r}")
    _, width, height = sizes[0]
    image = decode_upright(data, max_pixels=max_pixels, cover=(width, height))
    derivatives = []
    for name, width, height in sizes:
        try:
            box = cover_box(image.width, image.height, width, height)
            cut = image.resize((width, height), Image.Resampling.LANCZOS, box=box,
                               reducing_gap=3.0)
        except (OSError, ValueError) as exc:
            raise MediaRejected(f"corrupt image: {exc}") from exc
        derivatives.append(Derivative(name, width, height, JPEG_CONTENT_TYPE,
                                      encode_jpeg(cut, quality)))
        image = cut  # the next, smaller size is cut from this one: same centre, cheaper
    return derivatives


def check_header(head: bytes, file: IO[bytes], *, max_pixels: int) -> tuple[int, int]:
    """What the door can know without decoding a pixel, so that ingest answers it at once:
    the file is an image type we decode, its header parses, and the size it declares
    passes the pixel and aspect limits. Returns that size; raises :class:`MediaRejected`.

    Reads only the header (microseconds, a few KB): a file whose header is sound and
    whose pixel data is not is found by the render, which leaves the old image shown.
    """
    _, allowed = image_decoders(head)
    file.seek(0)
    try:
        with Image.open(file, formats=allowed) as probe:
            size = probe.size
    except Image.DecompressionBombError as exc:
        raise MediaRejected(f"image too large: {exc}") from exc
    except Exception as exc:  # Pillow reports a bad header with many exception types
        raise MediaRejected(f"corrupt image: the {allowed[0]} header cannot be read") from exc
    finally:
        file.seek(0)
    check_pixels(size, max_pixels)
    return size
