"""AVIF and WebP against today's JPEG derivative: bytes at equal quality, and encode CPU.

Run: ``python -m bench.formats`` (under the shared heavy lock). For each input, the
``large`` derivative's pixels (1080 px wide, LANCZOS from the decoded photo) are encoded
as today (JPEG, quality 82, 4:2:0, optimized tables: ``derivatives._encode_jpeg``), and
its SSIM against those pixels is the bar: WebP and AVIF qualities are then searched
(bisection) for the smallest file whose SSIM is at least the JPEG's. Bytes and encode
CPU seconds (``time.process_time``, single-threaded encoders in this process, so the
figure does not depend on the box's load) are printed against the JPEG's.

SSIM is ffmpeg's ``ssim`` filter on the decoded RGB of both (Pillow decodes every format,
ffmpeg only compares), the mean of the three planes. Inputs are the synthetic photos of
``bench.media`` (gradients, blobs, detail, grain, tuned to typical upload sizes) plus its
sharp-edged one (text, lines, checkerboard): where encoders differ most.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench.media import sharp_photo, synthetic_photo
from infra.settings import MediaSettings
from processors.media.derivatives import AVIF_SPEED, render_photo

JPEG_QUALITY = 82
WIDTH = 1080
_SSIM = re.compile(rb"All:([0-9.]+)")


@dataclass(frozen=True)
class Encoded:
    label: str
    quality: int
    size: int
    cpu_s: float
    ssim: float


def ssim(reference: Image.Image, data: bytes, workdir: Path) -> float:
    """Mean SSIM of ``data`` decoded (any format Pillow reads) against ``reference``."""
    with Image.open(io.BytesIO(data)) as im:
        test = im.convert("RGB")
    ref_path, test_path = workdir / "ref.rgb", workdir / "test.rgb"
    ref_path.write_bytes(reference.tobytes())
    test_path.write_bytes(test.tobytes())
    size = f"{reference.width}x{reference.height}"
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size]
    out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", *raw, "-i", str(ref_path),
                          *raw, "-i", str(test_path), "-lavfi", "ssim", "-f", "null", "-"],
                         capture_output=True, check=True, timeout=120).stderr
    found = _SSIM.findall(out)
    return float(found[-1])


def timed(encode: Callable[[], bytes], runs: int) -> tuple[bytes, float]:
    """The encoded bytes and the median CPU seconds of ``runs`` encodes."""
    times, data = [], b""
    for _ in range(runs):
        began = time.process_time()
        data = encode()
        times.append(time.process_time() - began)
    return data, sorted(times)[len(times) // 2]


def encoder(im: Image.Image, fmt: str, quality: int, **options: object) -> Callable[[], bytes]:
    def encode() -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, quality=quality, **options)
        return buf.getvalue()
    return encode


def matched(im: Image.Image, label: str, fmt: str, bar: float, workdir: Path, runs: int,
            **options: object) -> Encoded:
    """The lowest quality of ``fmt`` whose SSIM reaches ``bar`` (bisection over 1..100)."""
    lo, hi = 1, 100
    best: tuple[int, bytes, float] | None = None
    while lo <= hi:
        quality = (lo + hi) // 2
        data = encoder(im, fmt, quality, **options)()
        score = ssim(im, data, workdir)
        if score >= bar:
            best, hi = (quality, data, score), quality - 1
        else:
            lo = quality + 1
    if best is None:
        raise RuntimeError(f"{label} never reaches SSIM {bar:.4f}")
    quality, data, score = best
    _, cpu = timed(encoder(im, fmt, quality, **options), runs)
    return Encoded(label, quality, len(data), cpu, score)


def shipped(im: Image.Image, workdir: Path, runs: int) -> Encoded:
    """What the media processor writes: one quality for every photo (the lowest that
    reaches the JPEG's SSIM on all the inputs above), so some photos get more than needed."""
    quality = MediaSettings().avif_quality
    data, cpu = timed(encoder(im, "AVIF", quality, speed=AVIF_SPEED, max_threads=1,
                              subsampling="4:2:0"), runs)
    return Encoded(f"AVIF as shipped (speed {AVIF_SPEED}, q{quality})", quality, len(data),
                   cpu, ssim(im, data, workdir))


def per_photo(runs: int) -> None:
    """render_photo's CPU per upload with and without the AVIF twins (large + medium)."""
    print("render_photo per upload (all derivatives; CPU s, median):")
    quality = MediaSettings().avif_quality
    for label, data in (("1080x1350", synthetic_photo(1080, 1350, grain=0.0, detail_div=10)),
                        ("12 MP", synthetic_photo(4000, 3000, grain=0.025, detail_div=8))):
        cost = {}
        for avif in (0, quality):
            _, cost[avif] = timed(lambda d=data, q=avif: b"".join(  # type: ignore[misc]
                x.data for x in render_photo(d, max_pixels=50_000_000,
                                             avif_quality=q).derivatives), runs)
        print(f"  {label:<10} JPEG only {cost[0]:.3f}   with AVIF twins {cost[quality]:.3f}"
              f"   (+{cost[quality] - cost[0]:.3f} s, x{cost[quality] / cost[0]:.1f})")


def inputs() -> list[tuple[str, Image.Image]]:
    photos = [
        ("photo 1080x1350 (typical upload)",
         synthetic_photo(1080, 1350, grain=0.0, detail_div=10)),
        ("photo 12 MP, grain", synthetic_photo(4000, 3000, grain=0.025, detail_div=8)),
        ("sharp: text, lines, checkerboard", sharp_photo(2400, 1800)),
    ]
    out = []
    for label, data in photos:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        height = round(rgb.height * WIDTH / rgb.width)
        out.append((label, rgb.resize((WIDTH, height), Image.Resampling.LANCZOS)))
    return out


def run(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; encode CPU is "
          f"process time (single-threaded encoders), median of {args.runs}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-formats-"))
    totals: dict[str, list[float]] = {}
    print(f"{'input / format':<44} {'q':>4} {'SSIM':>7} {'KB':>7} {'bytes':>7} "
          f"{'enc ms':>8} {'CPU x':>6}")
    for label, im in inputs():
        jpeg_data, jpeg_cpu = timed(encoder(im, "JPEG", JPEG_QUALITY, optimize=True,
                                            subsampling="4:2:0"), args.runs)
        bar = ssim(im, jpeg_data, workdir)
        rows = [Encoded("JPEG q82 (today)", JPEG_QUALITY, len(jpeg_data), jpeg_cpu, bar)]
        rows.append(matched(im, "WebP (method 4)", "WEBP", bar, workdir, args.runs, method=4))
        for speed in args.avif_speeds:
            rows.append(matched(im, f"AVIF (speed {speed})", "AVIF", bar, workdir, args.runs,
                                speed=speed, max_threads=1))
        rows.append(shipped(im, workdir, args.runs))
        print(label)
        for row in rows:
            share, cost = row.size / rows[0].size, row.cpu_s / rows[0].cpu_s
            totals.setdefault(row.label, []).extend([share, cost])
            print(f"  {row.label:<42} {row.quality:>4} {row.ssim:>7.4f} "
                  f"{row.size / 1024:>7.1f} {share:>6.0%} {row.cpu_s * 1000:>8.1f} "
                  f"{cost:>6.1f}")
    print("mean over the inputs (bytes and encode CPU against JPEG):")
    for name, values in totals.items():
        shares, costs = values[0::2], values[1::2]
        print(f"  {name:<42} bytes {sum(shares) / len(shares):>5.0%}   "
              f"CPU x{sum(costs) / len(costs):.1f}")
    per_photo(args.runs)
    for path in workdir.iterdir():
        path.unlink()
    workdir.rmdir()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="encodes timed per format")
    parser.add_argument("--avif-speeds", type=int, nargs="+", default=[6, 9])
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
