"""Video probing and poster frames via the ffprobe/ffmpeg binaries.

Why subprocesses with a forced demuxer: ffmpeg auto-detects dozens of formats, some of which
(HLS/concat playlists) make it open other files or URLs named inside the upload. We only
accept MP4/QuickTime (sniffed from magic bytes first), force the ``mov`` demuxer, and
whitelist the ``file`` protocol, so an upload can only ever read itself. Timeouts bound a
hostile file that makes the decoder spin. The poster is returned as PNG bytes so it can go
through :func:`processors.media.derivatives.render_photo` like any photo.

Why a web rendition of every video (:func:`web_renditions`): phones record HEVC, 10-bit,
60 fps or 20 Mbit/s clips in QuickTime files, which many browsers cannot play or a slow
link cannot carry. Every accepted video (and animated GIF) gets an H.264 (yuv420p) + AAC
MP4 with its index first (faststart, so playback starts before the download ends), at
most 1080p and a bitrate cap, plus a smaller one for slow connections. A clip that
already fits that profile is remuxed (its packets copied into a fresh MP4), which takes
a fraction of a second instead of a re-encode. Both renditions come out of one ffmpeg
run, so the input is read and decoded once. Nothing of the input's metadata is carried
over (``-map_metadata -1``): a phone's QuickTime atoms hold the GPS position.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from infra.settings import MediaSettings
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
#: The GIF demuxer for animated GIFs (their bytes were sniffed as GIF first).
_GIF_INPUT = ["-protocol_whitelist", "file", "-f", "gif"]
MP4_CONTENT_TYPE = "video/mp4"
#: Names of the renditions (derivatives) a video gets besides its poster's JPEGs.
VIDEO = "video"
VIDEO_SMALL = "video_small"
#: H.264 profiles every browser decodes (not High 10 / 4:2:2 / 4:4:4).
_WEB_H264_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
MAX_FPS = 60
#: Bounds of the main rendition: 1080p, portrait or landscape.
MAX_LONG_EDGE = 1920
MAX_SHORT_EDGE = 1080
AUDIO_KBPS = 128
SMALL_AUDIO_KBPS = 96
#: A transcode may take this many times the clip's duration (plus a floor) before it is
#: killed: a loaded box encodes 1080p at about real time, a hostile file spins forever.
ENCODE_TIMEOUT_FACTOR = 10.0
ENCODE_TIMEOUT_FLOOR_S = 60.0
# What the mov demuxer says when the file ends before a sample it indexes.
_TRUNCATED_MARKERS = ("partial file",)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Display geometry (rotation applied) and length of the first video stream, and what
    decides whether it can be remuxed as it is (codec, pixel format, bitrate, audio)."""

    duration_ms: int
    width: int
    height: int
    codec: str = ""
    profile: str = ""
    pix_fmt: str = ""
    bit_rate: int = 0  # bits per second of the video stream (0: unknown)
    fps: float = 0.0
    audio_codec: str | None = None  # None: no audio stream
    audio_profile: str = ""
    audio_channels: int = 0


@dataclass(frozen=True, slots=True)
class VideoProfile:
    """The rendition every browser plays, from the ``PHOTOSTREAM_MEDIA_VIDEO_*`` settings."""

    max_seconds: int = 180
    max_edge: int = 4096
    max_kbps: int = 5000
    small_edge: int = 360
    small_kbps: int = 800
    preset: str = "superfast"
    crf: int = 23
    gif_max_frames: int = 1000

    @classmethod
    def from_settings(cls, media: MediaSettings) -> VideoProfile:
        return cls(max_seconds=media.video_max_seconds, max_edge=media.video_max_edge,
                   max_kbps=media.video_max_kbps, small_edge=media.video_small_edge,
                   small_kbps=media.video_small_kbps, preset=media.video_preset,
                   crf=media.video_crf, gif_max_frames=media.gif_max_frames)


@dataclass(frozen=True, slots=True)
class VideoFile:
    """One MP4 rendition written by :func:`web_renditions`, to be uploaded from ``path``."""

    name: str  # VIDEO | VIDEO_SMALL
    path: str
    width: int
    height: int
    copied: bool  # the video packets are the input's own (remuxed, not re-encoded)


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
    landscape plus a 90 degree rotation, so width/height are swapped accordingly.

    A file with sound but no picture (an .m4a passes the MP4 sniff) is refused here.
    """
    _check_container(path)
    path = str(Path(path).resolve())  # absolute: a name like "-i" can never read as an option
    proc = _run(
        [FFPROBE, "-v", "error", *_SAFE_INPUT, "-print_format", "json",
         "-show_format", "-show_streams", path],
        PROBE_TIMEOUT_S,
    )  # fmt: skip
    if proc.returncode != 0:
        raise MediaRejected(f"corrupt video: {_stderr_reason(proc)}")
    try:
        info = json.loads(proc.stdout)
        streams = info.get("streams", [])
        videos = [st for st in streams if st.get("codec_type") == "video"
                  and not (st.get("disposition") or {}).get("attached_pic")]
        audios = [st for st in streams if st.get("codec_type") == "audio"]
        if not videos:
            kind = "an audio-only file" if audios else "no video stream"
            raise MediaRejected(f"not a video: {kind}")
        stream = videos[0]
        width, height = int(stream["width"]), int(stream["height"])
        fmt = info.get("format", {})
        duration = stream.get("duration") or fmt.get("duration")
        duration_ms = round(float(duration) * 1000) if duration is not None else 0
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MediaRejected("not a video: no decodable video stream") from exc
    if width <= 0 or height <= 0:
        raise MediaRejected(f"corrupt video: invalid dimensions {width}x{height}")
    if abs(_rotation(stream)) % 180 == 90:
        width, height = height, width
    audio = audios[0] if audios else None
    return VideoInfo(
        duration_ms=duration_ms, width=width, height=height,
        codec=str(stream.get("codec_name", "")), profile=str(stream.get("profile", "")),
        pix_fmt=str(stream.get("pix_fmt", "")),
        bit_rate=_int(stream.get("bit_rate")) or _int(fmt.get("bit_rate")),
        fps=_fps(stream.get("avg_frame_rate")) or _fps(stream.get("r_frame_rate")),
        audio_codec=str(audio.get("codec_name", "")) if audio else None,
        audio_profile=str(audio.get("profile", "")) if audio else "",
        audio_channels=_int(audio.get("channels")) if audio else 0,
    )  # fmt: skip


def _int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _fps(rate: object) -> float:
    try:
        return float(Fraction(str(rate)))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def check_caps(info: VideoInfo, profile: VideoProfile) -> None:
    """Refuse a clip over the duration or resolution cap, with the limit in the reason."""
    if info.duration_ms > profile.max_seconds * 1000:
        raise MediaRejected(f"video too long: {info.duration_ms / 1000:.0f} s exceeds the "
                            f"{profile.max_seconds} s limit")
    if max(info.width, info.height) > profile.max_edge:
        raise MediaRejected(f"video too large: {info.width}x{info.height} exceeds the "
                            f"{profile.max_edge} px limit")


def web_safe_video(info: VideoInfo, profile: VideoProfile) -> bool:
    """Whether the video stream can be copied as it is into the main rendition: H.264 in
    a profile browsers decode, 8-bit 4:2:0, at most 1080p and 60 fps, under the bitrate cap."""
    return (info.codec == "h264" and info.profile in _WEB_H264_PROFILES
            and info.pix_fmt == "yuv420p"
            and max(info.width, info.height) <= MAX_LONG_EDGE
            and min(info.width, info.height) <= MAX_SHORT_EDGE
            and 0 < info.fps <= MAX_FPS
            and 0 < info.bit_rate <= profile.max_kbps * 1000)


def web_safe_audio(info: VideoInfo) -> bool:
    """No audio, or stereo (or mono) AAC-LC: copied as it is."""
    if info.audio_codec is None:
        return True
    return info.audio_codec == "aac" and info.audio_profile == "LC" and info.audio_channels <= 2


def fit(width: int, height: int, max_long: int, max_short: int) -> tuple[int, int]:
    """The largest even size within both bounds at the same aspect ratio; never upscales
    (H.264 in 4:2:0 needs even sizes)."""
    scale = min(1.0, max_long / max(width, height), max_short / min(width, height))
    return (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))


def web_renditions(path: str, info: VideoInfo, out_dir: str, profile: VideoProfile, *,
                   gif: bool = False) -> tuple[VideoFile, ...]:
    """Write the main rendition (and the small one when the clip is bigger than it) into
    ``out_dir`` with one ffmpeg run; ``gif`` reads ``path`` as an animated GIF (no audio,
    always encoded). Raises :class:`MediaRejected` for a file ffmpeg cannot read through."""
    path = str(Path(path).resolve())
    out = Path(out_dir).resolve()
    copy_video = not gif and web_safe_video(info, profile)
    copy_audio = web_safe_audio(info)
    main_size = (info.width, info.height) if copy_video else fit(
        info.width, info.height, MAX_LONG_EDGE, MAX_SHORT_EDGE)
    small_size = fit(info.width, info.height, 10 * profile.small_edge, profile.small_edge)
    want_small = min(main_size) > profile.small_edge
    filters, labels = [], []
    encoded: list[tuple[str, tuple[int, int]]] = []
    if not copy_video:
        encoded.append(("hd", main_size))
    if want_small:
        encoded.append(("sd", small_size))
    if encoded:
        split = f"[0:v:0]split={len(encoded)}" + "".join(f"[{n}in]" for n, _ in encoded)
        filters.append(split if len(encoded) > 1 else "[0:v:0]null[" + encoded[0][0] + "in]")
        for name, (w, h) in encoded:
            filters.append(f"[{name}in]scale={w}:{h},setsar=1,format=yuv420p[{name}]")
            labels.append(name)
    # Remuxed, the decoded frames only feed the small rendition, a half-size downscale
    # that hides what the deblocking filter would have smoothed: skipping it saves a
    # quarter of that run's CPU (bench.video).
    decode = ["-skip_loop_filter", "all"] if copy_video and want_small else []
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *decode,
           *(_GIF_INPUT if gif else _SAFE_INPUT), "-i", path]
    if filters:
        cmd += ["-filter_complex", ";".join(filters)]
    files = []
    main = out / f"{VIDEO}.mp4"
    if copy_video:
        cmd += ["-map", "0:v:0", "-c:v", "copy"]
    else:
        cmd += ["-map", "[hd]", *_x264(profile, profile.max_kbps, "high")]
    cmd += _audio(gif, copy_audio, AUDIO_KBPS) + _MP4_OUT + [str(main)]
    files.append(VideoFile(VIDEO, str(main), *main_size, copied=copy_video))
    if want_small:
        small = out / f"{VIDEO_SMALL}.mp4"
        cmd += ["-map", "[sd]", *_x264(profile, profile.small_kbps, "main")]
        cmd += _audio(gif, copy_audio, SMALL_AUDIO_KBPS) + _MP4_OUT + [str(small)]
        files.append(VideoFile(VIDEO_SMALL, str(small), *small_size, copied=False))
    seconds = max(info.duration_ms / 1000, 1.0)
    proc = _run(cmd, max(ENCODE_TIMEOUT_FLOOR_S, ENCODE_TIMEOUT_FACTOR * seconds))
    stderr = proc.stderr.decode("utf-8", "replace")
    if any(marker in stderr for marker in _TRUNCATED_MARKERS):
        raise MediaRejected("truncated video: the file ends before its last frame")
    if proc.returncode != 0:
        raise MediaRejected(f"corrupt video: {_stderr_reason(proc)}")
    for file in files:
        if not Path(file.path).is_file() or Path(file.path).stat().st_size == 0:
            raise MediaRejected("corrupt video: no frame could be encoded")
    return tuple(files)


# Every MP4 we write: index first, no metadata of the input (GPS!), no encoder strings.
_MP4_OUT = ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn",
            "-fflags", "+bitexact", "-movflags", "+faststart", "-f", "mp4"]


def _x264(profile: VideoProfile, kbps: int, h264_profile: str) -> list[str]:
    return ["-c:v", "libx264", "-preset", profile.preset, "-crf", str(profile.crf),
            "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k", "-profile:v", h264_profile,
            "-pix_fmt", "yuv420p", "-fpsmax", str(MAX_FPS), "-flags:v", "+bitexact"]


def _audio(gif: bool, copy: bool, kbps: int) -> list[str]:
    if gif:
        return ["-an"]
    if copy:
        return ["-map", "0:a:0?", "-c:a", "copy"]
    return ["-map", "0:a:0?", "-c:a", "aac", "-b:a", f"{kbps}k", "-ac", "2",
            "-flags:a", "+bitexact"]


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
