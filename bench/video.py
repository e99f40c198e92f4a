"""Upload-to-ready time of videos through the real media processor, beside a still photo.

Run: ``python -m bench.video`` (under the shared heavy lock). The stack runs; the media
processor runs as its real process (``photostream process media``, one render worker per
core); each input is stored as an original and announced with ``photo.uploaded`` as
ingest would, one at a time, and timed until its ``photo.processed`` is on Kafka.

Inputs, generated on the spot with ffmpeg's lavfi sources plus temporal grain (a camera's
sensor noise: the part of a real clip an encoder cannot predict):

* a 12 MP JPEG: the still-photo baseline of the same run;
* a 15 s 1080p30 iPhone clip in its default format (HEVC in QuickTime, rotated, AAC) and
  in its "most compatible" one (H.264 at 16 Mbit/s): both are re-encoded (target: ready
  in <= 20 s);
* a 15 s 720p30 H.264 + AAC MP4 under the bitrate cap: remuxed, only the small
  rendition is encoded (target: <= 2 s).

CPU seconds are the media processor's process tree (its render workers and the ffmpeg
runs they waited for: utime + stime + cutime + cstime from /proc), so they say what a
video costs against a photo whatever else the box is doing; wall seconds depend on the
load, which is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import TopicPartition

from bench.media import synthetic_photo
from infra.connect import kafka
from infra.settings import Settings, get_settings
from operate.processes import stop_processes
from operate.stack import manager
from processors.media.video import VideoProfile, probe_video, web_renditions
from schemas.envelope import InvalidEvent, decode, encode, make
from schemas.ids import IdGenerator
from schemas.media import PhotoFailed, PhotoProcessed, PhotoUploaded
from schemas.topics import MEDIA_PROCESSED, MEDIA_UPLOADED, key_for
from sinks.media_keys import original_key
from sinks.objects import ObjectStore

PHOTOSTREAM = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "photostream")
OWNER = 4242
TARGETS = {"reencode": 20.0, "remux": 2.0}
_TICKS = os.sysconf("SC_CLK_TCK")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True,
                   timeout=900)


def _lavfi(seconds: int, size: str, grain: int) -> list[str]:
    return ["-f", "lavfi", "-i",
            f"testsrc2=size={size}:rate=30:duration={seconds},noise=alls={grain}:allf=t",
            "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}"]


def iphone_hevc(path: Path, seconds: int) -> Path:
    raw = path.with_suffix(".raw.mov")
    ffmpeg(*_lavfi(seconds, "1920x1080", 6), "-c:v", "libx265", "-preset", "ultrafast",
           "-x265-params", "log-level=error", "-b:v", "8M", "-tag:v", "hvc1",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-f", "mov", str(raw))
    # A portrait recording: the rotation is set on a copy (ffmpeg 5 drops it on an encode).
    ffmpeg("-i", str(raw), "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=90",
           "-f", "mov", str(path))
    raw.unlink()
    return path


def iphone_h264(path: Path, seconds: int) -> Path:
    ffmpeg(*_lavfi(seconds, "1920x1080", 6), "-c:v", "libx264", "-preset", "ultrafast",
           "-b:v", "16M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-f", "mov", str(path))
    return path


def web_ready(path: Path, seconds: int) -> Path:
    ffmpeg(*_lavfi(seconds, "1280x720", 3), "-c:v", "libx264", "-preset", "veryfast",
           "-profile:v", "high", "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
           str(path))
    return path


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, with their waited-for children."""
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(proc.name)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = sum(int(f) for f in fields[11:15]) / _TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


class Processed:
    """photo.processed / photo.failed events from the end of the topic at ``start``."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = kafka.consumer(settings, group_id=None)  # type: ignore[arg-type]
        self.seen: dict[int, PhotoProcessed | PhotoFailed] = {}

    async def start(self) -> None:
        await self.consumer.start()
        tps = [TopicPartition(MEDIA_PROCESSED.name, p) for p in range(MEDIA_PROCESSED.partitions)]
        self.consumer.assign(tps)
        ends = await self.consumer.end_offsets(tps)
        for tp in tps:
            self.consumer.seek(tp, ends[tp])

    async def wait(self, photo_id: int, timeout: float = 600) -> PhotoProcessed | PhotoFailed:
        deadline = time.monotonic() + timeout
        while photo_id not in self.seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"photo {photo_id} not processed in {timeout:.0f} s")
            batch = await self.consumer.getmany(timeout_ms=50)
            for records in batch.values():
                for record in records:
                    try:
                        payload = decode(record.value).payload
                    except InvalidEvent:
                        continue
                    if isinstance(payload, PhotoProcessed | PhotoFailed):
                        self.seen[payload.photo_id] = payload
        return self.seen[photo_id]


async def one(settings: Settings, store: ObjectStore, producer, processed: Processed,
              ids: IdGenerator, data: bytes, kind: str, mime: str, pid: int
              ) -> tuple[float, float, PhotoProcessed | PhotoFailed]:
    """(wall s from the upload event to the outcome, CPU s of the processor tree, outcome)."""
    photo_id = ids.next_id(OWNER)
    await store.put(settings.s3.originals_bucket, original_key(photo_id), data,
                    content_type=mime)
    event = make(PhotoUploaded(
        photo_id=photo_id, owner_id=OWNER, media_kind=kind,  # type: ignore[arg-type]
        object_key=original_key(photo_id), content_type=mime, size_bytes=len(data),
        caption="bench", title="", location=None, uploaded_at=datetime.now(UTC)),
        producer="bench-video")
    cpu = tree_cpu(pid)
    began = time.monotonic()
    await producer.send_and_wait(MEDIA_UPLOADED.name, encode(event), key=key_for(event))
    outcome = await processed.wait(photo_id)
    return time.monotonic() - began, tree_cpu(pid) - cpu, outcome


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    await manager.up(settings)
    tmp = Path(tempfile.mkdtemp(prefix="bench-video-"))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} "
          f"(1 min average); generating inputs in {tmp}")
    s = args.seconds
    inputs = [
        ("12 MP JPEG (still-photo baseline)", "photo", "image/jpeg", None,
         synthetic_photo(4000, 3000, grain=0.025, detail_div=8)),
        (f"{s} s 1080p30 HEVC MOV, rotated (iPhone default)", "video", "video/quicktime",
         "reencode", iphone_hevc(tmp / "hevc.mov", s).read_bytes()),
        (f"{s} s 1080p30 H.264 16 Mbit/s MOV (iPhone compatible)", "video",
         "video/quicktime", "reencode", iphone_h264(tmp / "h264.mov", s).read_bytes()),
        (f"{s} s 720p30 H.264 3 Mbit/s + AAC MP4 (remux only)", "video", "video/mp4",
         "remux", web_ready(tmp / "web.mp4", s).read_bytes()),
    ]
    env = {**os.environ, "PHOTOSTREAM_LOG_LEVEL": "WARNING", "PHOTOSTREAM_METRICS_PORT": "0"}
    if args.preset:
        env["PHOTOSTREAM_MEDIA_VIDEO_PRESET"] = args.preset
        print(f"x264 preset {args.preset} (PHOTOSTREAM_MEDIA_VIDEO_PRESET)")
    logs = settings.stack.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    proc = start_media(env, logs / "bench-video-media.log")
    store = ObjectStore.from_settings(settings)
    producer = kafka.producer(settings)
    processed = Processed(settings)
    ids = IdGenerator(worker_id=random.randrange(16))
    await producer.start()
    await processed.start()
    try:
        # Warm-up: the consumer group joined and the pool's workers spawned.
        await one(settings, store, producer, processed, ids, inputs[0][4], "photo",
                  "image/jpeg", proc.pid)
        print(f"load when measuring: {os.getloadavg()[0]:.1f}; {args.repeat} run(s) each, "
              "one upload at a time")
        print(f"{'input':<52} {'MB':>6} {'wall s':>7} {'CPU s':>7} {'x photo':>8} "
              f"{'target':>7}  renditions")
        baseline_cpu = 0.0
        for label, kind, mime, target, data in inputs:
            for _ in range(args.repeat):
                wall, cpu, outcome = await one(settings, store, producer, processed, ids,
                                               data, kind, mime, proc.pid)
                if kind == "photo":
                    baseline_cpu = baseline_cpu or cpu
                if isinstance(outcome, PhotoFailed):
                    what = f"FAILED: {outcome.reason}"
                else:
                    what = ", ".join(f"{d.name} {d.width}x{d.height} {d.bytes / 1e6:.1f} MB"
                                     for d in outcome.derivatives if d.name.startswith("video"))
                goal = "" if target is None else (
                    f"{'ok' if wall <= TARGETS[target] else 'MISS'} {TARGETS[target]:.0f}")
                ratio = cpu / baseline_cpu if baseline_cpu else 0.0
                print(f"{label:<52} {len(data) / 1e6:>6.1f} {wall:>7.2f} {cpu:>7.2f} "
                      f"{ratio:>8.1f} {goal:>7}  {what}")
        remux_alone(inputs[-1][4], tmp)
        print(f"load at the end: {os.getloadavg()[0]:.1f}")
    finally:
        await processed.consumer.stop()
        await producer.stop()
        await stop_processes([proc], group=True)
        await asyncio.to_thread(shutil.rmtree, tmp, True)


def remux_alone(data: bytes, tmp: Path) -> None:
    """The remux-only clip's main rendition by itself (no small rendition, no poster):
    what copying the packets into a fresh faststart MP4 costs, in this process's children."""
    path = tmp / "remux-input.mp4"
    path.write_bytes(data)
    info = probe_video(str(path))
    profile = VideoProfile(small_edge=max(info.width, info.height))  # nothing smaller
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    (file,) = web_renditions(str(path), info, str(tmp), profile)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{'  of which the remux alone (ffmpeg, copied: ' + str(file.copied) + ')':<52} "
          f"{'':>6} {wall:>7.2f} {cpu:>7.2f}")


def start_media(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The real media processor, as ``photostream run`` starts it."""
    with log_path.open("wb") as log:
        return subprocess.Popen([PHOTOSTREAM, "process", "media"], env=env, stdout=log,
                                stderr=log, start_new_session=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="length of the clips")
    parser.add_argument("--repeat", type=int, default=2, help="runs per input")
    parser.add_argument("--preset", help="x264 preset of the processor (default: settings)")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
