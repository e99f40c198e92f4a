"""ffprobe/ffmpeg wrappers against real clips generated with lavfi (no fixtures on disk)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from processors.media.derivatives import MediaRejected, render_photo
from processors.media.video import poster_frame, probe_video

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
