"""Encoded image bytes for uploads and media tests, made with Pillow in memory."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

Color = tuple[int, ...] | str


def encoded(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """``image`` encoded as ``fmt`` (Pillow's ``save`` options pass through)."""
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def image_bytes(width: int, height: int, color: Color = (200, 40, 90), *, fmt: str = "JPEG",
                mode: str = "RGB", **options: Any) -> bytes:
    """A plain ``width`` x ``height`` image of one colour, encoded as ``fmt``."""
    return encoded(Image.new(mode, (width, height), color), fmt, **options)


def jpeg_bytes(width: int = 64, height: int = 48, color: Color = (200, 40, 90)) -> bytes:
    """A small valid JPEG: cheap to upload and to render, so tests stay fast."""
    return image_bytes(width, height, color, quality=90)


def numbered_jpeg(index: int, width: int = 480, height: int = 360) -> bytes:
    """A JPEG whose colour follows ``index``: distinct uploads (distinct bytes) in a loop."""
    return image_bytes(width, height, ((index * 37) % 256, (index * 91) % 256, 120),
                       quality=85)
