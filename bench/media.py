"""Photo derivative throughput: our ``render_photo`` vs a naive Pillow pipeline (and pyvips).

Run: ``python -m bench.media``. Single process, wall time, so the figures are photos/s per
core: the media processor runs one worker process per core, so multiply by cores for a box.

Why synthetic inputs: the benchmark must run anywhere without fixtures, but flat colours
would flatter every JPEG decoder (entropy decoding of real photos dominates the cost), so
inputs mix gradients, smooth blobs, mid-frequency detail and grain, and are tuned to land
near typical upload sizes (~200 KB for 1080x1350, ~2.5 MB for 12 MP).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageOps

from processors.media.derivatives import SIZES, THUMB_EDGE, render_photo

MAX_PIXELS = 50_000_000
QUALITY = 82
BUDGET_S = 5.0  # per variant and size; keeps the whole run well under 90 s
MIN_RUNS = 3
N_INPUTS = 3  # distinct photos per size, cycled, so caches do not flatter anyone


@dataclass(frozen=True)
class Case:
    label: str
    width: int
    height: int
    grain: float  # weight of per-pixel noise; the main knob for file size
    detail_div: int  # mid-frequency detail scale (smaller = more detail = larger file)


CASES = (
    Case("1080x1350", 1080, 1350, grain=0.0, detail_div=10),
    Case("12 MP", 4000, 3000, grain=0.025, detail_div=8),
)


def synthetic_photo(w: int, h: int, *, grain: float, detail_div: int, quality: int = 90) -> bytes:
    """A photographic-looking JPEG: per-channel gradients + blobs + detail + shared grain."""
    r = Image.Resampling
    lin = Image.linear_gradient("L").resize((w, h), r.BILINEAR)
    rad = Image.radial_gradient("L").resize((w, h), r.BILINEAR)
    diag = lin.rotate(90).resize((w, h), r.BILINEAR)
    channels = []
    for g in (lin, rad, diag):
        blobs = Image.effect_noise((max(2, w // 40), max(2, h // 40)), 64).resize((w, h), r.BICUBIC)
        detail = Image.effect_noise((max(2, w // detail_div), max(2, h // detail_div)), 48)
        c = Image.blend(g, blobs, 0.5)
        channels.append(Image.blend(c, detail.resize((w, h), r.BICUBIC), 0.35))
    if grain:
        noise = Image.effect_noise((w, h), 128)
        channels = [Image.blend(c, noise, grain) for c in channels]
    buf = io.BytesIO()
    Image.merge("RGB", channels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def naive(data: bytes) -> list[bytes]:
    """What a first implementation looks like: full decode, every size from the original."""
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    outs = []
    for _, target in SIZES:
        w = min(target, im.width)
        resized = im.resize((w, round(im.height * w / im.width)), Image.Resampling.LANCZOS)
        outs.append(resized)
    outs.append(ImageOps.fit(im, (THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS))
    blobs = []
    for o in outs:
        buf = io.BytesIO()
        o.save(buf, "JPEG", quality=QUALITY)
        blobs.append(buf.getvalue())
    return blobs


def decode_floor(data: bytes) -> None:
    """Only the DCT-scaled decode render_photo needs: the floor any Pillow pipeline pays."""
    im = Image.open(io.BytesIO(data))
    large = SIZES[0][1]
    im.draft("RGB", (large, round(im.height * large / im.width)))
    im.load()


def make_pyvips() -> Callable[[bytes], object] | None:
    try:
        import pyvips
    except (ImportError, OSError):
        return None

    def run(data: bytes) -> list[bytes]:
        outs = []
        for _, target in SIZES:
            im = pyvips.Image.thumbnail_buffer(data, target, height=100_000, size="down")
            outs.append(im.jpegsave_buffer(Q=QUALITY, interlace=True, strip=True))
        thumb = pyvips.Image.thumbnail_buffer(data, THUMB_EDGE, height=THUMB_EDGE, crop="centre")
        outs.append(thumb.jpegsave_buffer(Q=QUALITY, strip=True))
        return outs

    return run


def measure(fn: Callable[[bytes], object], inputs: list[bytes]) -> tuple[float, float, int]:
    """(wall s, CPU s) per photo after one warm-up call; runs until the time budget is spent.

    CPU time is printed next to wall time because on a shared box (CI, a laptop running the
    stack) wall time mostly measures the neighbours; the ratio shows how much.
    """
    fn(inputs[0])
    runs = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while runs < MIN_RUNS or time.perf_counter() - start < BUDGET_S:
        fn(inputs[runs % len(inputs)])
        runs += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return wall / runs, cpu / runs, runs


def main() -> None:
    print(f"photostream media bench  pillow {Image.__version__}  pid {os.getpid()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    vips = make_pyvips()
    variants: list[tuple[str, Callable[[bytes], object]]] = [
        ("naive Pillow", naive),
        ("render_photo", lambda d: render_photo(d, max_pixels=MAX_PIXELS, quality=QUALITY)),
        (
            "render_photo baseline-JPEG",
            lambda d: render_photo(d, max_pixels=MAX_PIXELS, quality=QUALITY, progressive=False),
        ),
        ("decode only (floor)", decode_floor),
    ]
    if vips is not None:
        variants.append(("pyvips thumbnail", vips))
    header = (
        f"{'size':<10} {'variant':<27} {'photos/s/core':>13} {'ms/photo':>9} "
        f"{'CPU ms':>7} {'vs naive':>9} {'runs':>5}"
    )
    rows = []
    for case in CASES:
        inputs = [
            synthetic_photo(case.width, case.height, grain=case.grain, detail_div=case.detail_div)
            for _ in range(N_INPUTS)
        ]
        avg_kb = sum(map(len, inputs)) / len(inputs) / 1024
        print(f"{case.label}: {case.width}x{case.height}, avg input {avg_kb:,.0f} KB")
        naive_s = None
        for name, fn in variants:
            per_photo, cpu, runs = measure(fn, inputs)
            naive_s = naive_s or per_photo
            rows.append(
                f"{case.label:<10} {name:<27} {1 / per_photo:>13.1f} {per_photo * 1000:>9.1f} "
                f"{cpu * 1000:>7.1f} {naive_s / per_photo:>8.1f}x {runs:>5}"
            )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(row)
    if vips is None:
        print("pyvips not installed, skipped")
    print(
        "\nphotos/s/core, ms/photo, vs naive: wall time, one process. "
        "CPU ms: process CPU time per photo.\n"
        "naive = full decode, 4 sizes each resized from the original with LANCZOS, "
        "baseline JPEG q82.\nrender_photo = draft decode + chained resizes + placeholder; "
        "large/medium progressive."
    )


if __name__ == "__main__":
    main()
