"""ffprobe/ffmpeg wrappers against real clips generated with lavfi (no fixtures on disk)."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from processors.media.derivatives import MediaRejected, render_photo
from processors.media.gif import scan_gif
from processors.media.video import (
    VideoInfo,
    VideoProfile,
    fit,
    poster_frame,
    probe_video,
    web_safe_audio,
    web_safe_video,
)
from tests.support.media import animated_gif, gif_with_frames, still_gif

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe not installed",
)


def _clip(
    path: Path, *, seconds: float, size: str = "320x240", extra: list[str] | None = None
) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc=duration={seconds}:size={size}:rate=25",
         "-pix_fmt", "yuv420p", *(extra or []), str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clip(tmp_path_factory.mktemp("video") / "one_second.mp4", seconds=1)


def test_probe_duration_and_size(clip: Path) -> None:
    info = probe_video(str(clip))
    assert abs(info.duration_ms - 1000) <= 50
    assert (info.width, info.height) == (320, 240)


def test_poster_frame_decodes_and_renders(clip: Path) -> None:
    png = poster_frame(str(clip))
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        assert im.size == (320, 240)
    rendition = render_photo(png, max_pixels=50_000_000)
    assert (rendition.original_width, rendition.original_height) == (320, 240)
    assert {d.name for d in rendition.derivatives} == {"large", "medium", "small", "thumb"}


def test_very_short_clip_uses_first_frame(tmp_path: Path) -> None:
    short = _clip(tmp_path / "short.mov", seconds=0.12)
    info = probe_video(str(short))
    assert info.duration_ms < 1000
    assert Image.open(io.BytesIO(poster_frame(str(short), info))).size == (320, 240)


def test_rotated_clip_reports_display_size(tmp_path: Path) -> None:
    src = _clip(tmp_path / "landscape.mp4", seconds=0.5)
    rotated = tmp_path / "portrait.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy",
         "-metadata:s:v:0", "rotate=90", str(rotated)],
        check=True, timeout=60,
    )  # fmt: skip
    info = probe_video(str(rotated))
    assert (info.width, info.height) == (240, 320)
    assert Image.open(io.BytesIO(poster_frame(str(rotated), info))).size == (240, 320)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, not a video", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64],
    ids=["empty", "text", "png"],
)
def test_non_video_rejected(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaRejected):
        probe_video(str(bad))


def test_corrupt_mp4_rejected(tmp_path: Path, clip: Path) -> None:
    data = clip.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:32] + b"\x00" * 200)  # valid ftyp, garbage after
    with pytest.raises(MediaRejected, match="video"):
        probe_video(str(broken))


# --------------------------------------------------------------------------- web renditions


def test_fit_keeps_the_aspect_in_even_sizes_and_never_upscales() -> None:
    assert fit(3840, 2160, 1920, 1080) == (1920, 1080)
    assert fit(1080, 1920, 1920, 1080) == (1080, 1920)  # portrait 1080p stays
    assert fit(2160, 3840, 1920, 1080) == (1080, 1920)
    assert fit(640, 360, 1920, 1080) == (640, 360)
    assert fit(1280, 720, 3600, 360) == (640, 360)
    assert fit(161, 121, 1920, 1080) == (160, 120)  # 4:2:0 needs even sides


def test_only_browser_ready_h264_under_the_cap_is_copied() -> None:
    ready = VideoInfo(duration_ms=1000, width=1920, height=1080, codec="h264",
                      profile="High", pix_fmt="yuv420p", bit_rate=4_000_000, fps=30.0,
                      audio_codec="aac", audio_profile="LC", audio_channels=2)
    profile = VideoProfile()
    assert web_safe_video(ready, profile) and web_safe_audio(ready)
    for change in ({"codec": "hevc"}, {"profile": "High 10"}, {"pix_fmt": "yuv420p10le"},
                   {"pix_fmt": "yuv422p"}, {"bit_rate": 9_000_000}, {"bit_rate": 0},
                   {"width": 2560, "height": 1440}, {"fps": 120.0}):
        assert not web_safe_video(replace(ready, **change), profile), change
    for change in ({"audio_codec": "pcm_s16le"}, {"audio_channels": 6},
                   {"audio_profile": "HE-AAC"}):
        assert not web_safe_audio(replace(ready, **change)), change
    assert web_safe_audio(replace(ready, audio_codec=None))


def test_gif_scan_counts_frames_and_browser_delays_without_decoding() -> None:
    assert (scan_gif(animated_gif(12, delay_ms=80)).frames,
            scan_gif(animated_gif(12, delay_ms=80)).duration_ms) == (12, 960)
    assert scan_gif(still_gif()).frames == 1
    assert scan_gif(animated_gif(3, delay_ms=0)).duration_ms == 300  # "0" plays as 100 ms
    assert scan_gif(gif_with_frames(10_000), stop_after=1000).frames == 1001
    data = animated_gif(12)
    assert 0 < scan_gif(data[: len(data) // 2]).frames < 12  # truncated: what is there
