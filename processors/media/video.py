"""Video probing and poster frames via the ffprobe/ffmpeg binaries.

Why subprocesses with a forced demuxer: ffmpeg auto-detects dozens of formats, some of which
(HLS/concat playlists) make it open other files or URLs named inside the upload. We only
accept MP4/QuickTime (sniffed from magic bytes first), force the ``mov`` demuxer, and
whitelist the ``file`` protocol, so an upload can only ever read itself. Timeouts bound a
hostile file that makes the decoder spin. The poster is returned as PNG bytes so it can go
through :func:`processors.media.derivatives.render_photo` like any photo.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.media.derivatives import MediaRejected
from schemas import media_formats

FFPROBE = "ffprobe"
FFMPEG = "ffmpeg"
PROBE_TIMEOUT_S = 15.0
POSTER_TIMEOUT_S = 30.0
POSTER_AT_S = 0.5
# Clips shorter than this get their first frame: seeking near the end can yield nothing.
MIN_SEEK_DURATION_MS = 1000

_SAFE_INPUT = ["-protocol_whitelist", "file", "-f", "mov"]


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Display geometry (rotation applied) and length of the first video stream."""

    duration_ms: int
    width: int
    height: int


def _check_container(path: str) -> None:
    try:
        with Path(path).open("rb") as f:
            head = f.read(media_formats.SNIFF_BYTES)
    except OSError as exc:
        raise MediaRejected(f"cannot read video: {exc.strerror or exc}") from exc
    if not head:
        raise MediaRejected("empty file: zero bytes")
    if media_formats.sniff(head) not in media_formats.VIDEO_TYPES:
        raise MediaRejected("not a video: expected an MP4 or QuickTime file")


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaRejected(f"video processing timed out after {timeout:.0f} s") from exc


def _stderr_reason(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _rotation(stream: dict[str, Any]) -> int:
    """Rotation in degrees from the display matrix (new ffmpeg) or the ``rotate`` tag (old)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            try:
                return int(float(side["rotation"]))
            except (TypeError, ValueError):
                return 0
    try:
        return int(stream.get("tags", {}).get("rotate", 0))
    except (TypeError, ValueError):
        return 0


def probe_video(path: str) -> VideoInfo:
    """Duration and displayed size of the first video stream; phones store portrait clips as
    landscape plus a 90 degree rotation, so width/height are swapped accordingly."""
    _check_container(path)
    path = str(Path(path).resolve())  # absolute: a name like "-i" can never read as an option
    proc = _run(
        [FFPROBE, "-v", "error", *_SAFE_INPUT, "-print_format", "json",
         "-show_format", "-show_streams", "-select_streams", "v:0", path],
        PROBE_TIMEOUT_S,
    )  # fmt: skip
    if proc.returncode != 0:
        raise MediaRejected(f"corrupt video: {_stderr_reason(proc)}")
    try:
        info = json.loads(proc.stdout)
        stream = info["streams"][0]
        width, height = int(stream["width"]), int(stream["height"])
        duration = stream.get("duration") or info.get("format", {}).get("duration")
        duration_ms = round(float(duration) * 1000) if duration is not None else 0
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MediaRejected("not a video: no decodable video stream") from exc
    if width <= 0 or height <= 0:
        raise MediaRejected(f"corrupt video: invalid dimensions {width}x{height}")
    if abs(_rotation(stream)) % 180 == 90:
        width, height = height, width
    return VideoInfo(duration_ms=duration_ms, width=width, height=height)


def poster_frame(path: str, info: VideoInfo | None = None) -> bytes:
    """PNG of the frame at ~0.5 s (the first frame of very short clips), rotation applied.

    Pass ``info`` from :func:`probe_video` to skip a second probe.
    """
    info = info or probe_video(path)
    path = str(Path(path).resolve())
    at = POSTER_AT_S if info.duration_ms >= MIN_SEEK_DURATION_MS else 0.0
    png = _grab(path, at)
    if not png and at:
        png = _grab(path, 0.0)  # duration metadata lied; take what is there
    if not png:
        raise MediaRejected("corrupt video: no frame could be decoded")
    return png


def _grab(path: str, at: float) -> bytes:
    proc = _run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
         "-ss", f"{at:.3f}", *_SAFE_INPUT, "-i", path,
         "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
         "-f", "image2pipe", "-c:v", "png", "pipe:1"],
        POSTER_TIMEOUT_S,
    )  # fmt: skip
    if proc.returncode != 0:
        raise MediaRejected(f"corrupt video: {_stderr_reason(proc)}")
    return proc.stdout
