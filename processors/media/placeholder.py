"""Tiny placeholders shown while derivatives load: a dominant colour and a BlurHash.

Why our own BlurHash encoder instead of the ``blurhash`` package: the algorithm is short,
the input here is a ~32 px image so pure Python costs well under a millisecond or two, and it
saves a dependency in the media workers. The output follows the reference encoding
(https://github.com/woltapp/blurhash/blob/master/Algorithm.md) so any client decoder works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_SAMPLE_EDGE = 20  # long side of the image the placeholder is computed from


def _srgb_to_linear(v: int) -> float:
    c = v / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


_LINEAR = [_srgb_to_linear(v) for v in range(256)]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """What a client paints before any derivative arrives."""

    dominant_color: str  # "#rrggbb"
    blurhash: str | None


def make_placeholder(im: Image.Image) -> Placeholder:
    """Compute the placeholder from an RGB image (any size; a small derivative is cheapest)."""
    sample = im.copy()
    sample.thumbnail((_SAMPLE_EDGE, _SAMPLE_EDGE), Image.Resampling.BOX)
    sample = sample.convert("RGB")
    x_comp, y_comp = (4, 3) if sample.width >= sample.height else (3, 4)
    return Placeholder(dominant_color(sample), blurhash_encode(sample, x_comp, y_comp))


def dominant_color(im: Image.Image) -> str:
    """Most populous colour after a 5-colour median cut: a mean would turn a red flower on
    green leaves into brown, which matches neither."""
    quantized = im.convert("RGB").quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    palette: list[int] = list(quantized.getpalette() or [0, 0, 0])
    # On a P image each entry is (count, palette index); ties go to the lower index.
    counts = [(n, int(i)) for n, i in quantized.getcolors() or [] if isinstance(i, int)]
    _, index = max(counts or [(1, 0)], key=lambda c: (c[0], -c[1]))
    r, g, b = palette[3 * index : 3 * index + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def _encode83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - 1 - i)) % 83] for i in range(length))


def _linear_to_srgb(v: float) -> int:
    v = min(1.0, max(0.0, v))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(v: float, exp: float) -> float:
    return math.copysign(abs(v) ** exp, v)


def blurhash_encode(im: Image.Image, x_comp: int = 4, y_comp: int = 3) -> str:
    """Reference BlurHash of a small RGB image (separable DCT: rows first, then columns)."""
    if not (1 <= x_comp <= 9 and 1 <= y_comp <= 9):
        raise ValueError("blurhash components must be in 1..9")
    w, h = im.size
    data = im.convert("RGB").tobytes()
    cos_x = [[math.cos(math.pi * i * x / w) for x in range(w)] for i in range(x_comp)]
    cos_y = [[math.cos(math.pi * j * y / h) for y in range(h)] for j in range(y_comp)]
    lin = _LINEAR
    # row_sums[i][y] = (r, g, b) sums over x of cos_x[i][x] * linear(pixel)
    row_sums: list[list[tuple[float, float, float]]] = [[] for _ in range(x_comp)]
    for y in range(h):
        row = data[y * w * 3 : (y + 1) * w * 3]
        rs = [lin[v] for v in row[0::3]]
        gs = [lin[v] for v in row[1::3]]
        bs = [lin[v] for v in row[2::3]]
        for i in range(x_comp):
            cx = cos_x[i]
            row_sums[i].append(
                (
                    sum(c * v for c, v in zip(cx, rs, strict=True)),
                    sum(c * v for c, v in zip(cx, gs, strict=True)),
                    sum(c * v for c, v in zip(cx, bs, strict=True)),
                )
            )
    factors: list[tuple[float, float, float]] = []
    for j in range(y_comp):
        cy = cos_y[j]
        for i in range(x_comp):
            norm = (1.0 if i == 0 and j == 0 else 2.0) / (w * h)
            sr = sg = sb = 0.0
            for c, (r, g, b) in zip(cy, row_sums[i], strict=True):
                sr += c * r
                sg += c * g
                sb += c * b
            factors.append((sr * norm, sg * norm, sb * norm))

    dc, ac = factors[0], factors[1:]
    out = _encode83((x_comp - 1) + (y_comp - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for f in ac for v in f)
        quantised_max = max(0, min(82, math.floor(actual_max * 166 - 0.5)))
        max_value = (quantised_max + 1) / 166
        out += _encode83(quantised_max, 1)
    else:
        max_value = 1.0
        out += _encode83(0, 1)
    out += _encode83(
        (_linear_to_srgb(dc[0]) << 16) + (_linear_to_srgb(dc[1]) << 8) + _linear_to_srgb(dc[2]), 4
    )
    for f in ac:
        q = [max(0, min(18, math.floor(_sign_pow(v / max_value, 0.5) * 9 + 9.5))) for v in f]
        out += _encode83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return out
