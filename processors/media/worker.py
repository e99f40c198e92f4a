"""The media processor's process pool: where Pillow and ffmpeg actually run.

Why a process pool: decoding and resizing hold the GIL for most of their time, so on the
event loop (or in threads) one photo would stall Kafka heartbeats and every other
partition. Worker processes give one core each to rendering while the loop keeps
fetching, uploading and publishing.

Why ``spawn`` and not the Linux default ``fork``: the parent runs an event loop and
thread-pool threads (minio calls); forking a multi-threaded process can copy a lock in
the held state into the child, which then deadlocks. Spawned workers start clean.

Why :class:`RenderPool` replaces a broken pool: if a worker dies (the kernel's OOM killer
on a hostile file, a crash in a native decoder), ``ProcessPoolExecutor`` fails every
pending and future task with ``BrokenProcessPool`` forever. Replacing it lets the
runtime's retry re-run those records on fresh workers; a record that kills the worker on
every attempt ends in the dead-letter topic instead of wedging the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from processors.media.derivatives import MediaRejected, Rendition, render_photo
from processors.media.gif import scan_gif
from processors.media.video import (
    VideoFile,
    VideoInfo,
    VideoProfile,
    check_caps,
    poster_frame,
    probe_video,
    web_renditions,
)
from schemas import media_formats

__all__ = ["RenderPool", "VideoRendition", "render_gif", "render_image", "render_video",
           "worker_count"]

log = logging.getLogger(__name__)
T = TypeVar("T")
PARENT_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class VideoRendition:
    """Derivatives of a video's poster frame plus what only the video knows: its length and
    the MP4 renditions written to files (a still GIF has neither)."""

    duration_ms: int | None
    width: int  # displayed size of the video (rotation applied)
    height: int
    rendition: Rendition
    files: tuple[VideoFile, ...] = ()


def render_image(data: bytes, max_pixels: int, quality: int, avif_quality: int = 0
                 ) -> Rendition:
    """Pool task for a photo: all of Pillow's work for one upload."""
    return render_photo(data, max_pixels=max_pixels, quality=quality,
                        avif_quality=avif_quality)


def render_video(path: str, out_dir: str, max_pixels: int, quality: int,
                 profile: VideoProfile, avif_quality: int = 0) -> VideoRendition:
    """Pool task for a video file: probe, check the caps, grab the poster and render it
    like a photo, then write the web renditions into ``out_dir``."""
    info = probe_video(path)
    check_caps(info, profile)
    poster = poster_frame(path, info)
    rendition = render_photo(poster, max_pixels=max_pixels, quality=quality,
                             avif_quality=avif_quality)
    files = web_renditions(path, info, out_dir, profile)
    return VideoRendition(info.duration_ms, info.width, info.height, rendition, files)


def render_gif(data: bytes, out_dir: str, max_pixels: int, quality: int,
               profile: VideoProfile, avif_quality: int = 0) -> VideoRendition:
    """Pool task for a GIF: its first frame renders like a photo; an animated one also
    becomes a looping MP4 (a tenth of the bytes, and smooth), as Mastodon does.

    The frame count and running time come from the block structure (:mod:`gif`), so a
    GIF over the caps is refused before anything is decoded.
    """
    scan = scan_gif(data, stop_after=profile.gif_max_frames)
    if scan.frames > profile.gif_max_frames:
        raise MediaRejected(f"animated GIF has too many frames: more than "
                            f"{profile.gif_max_frames}")
    rendition = render_photo(data, max_pixels=max_pixels, quality=quality,
                             avif_quality=avif_quality)
    width, height = rendition.original_width, rendition.original_height
    if scan.frames <= 1:  # a still image that happens to be a GIF
        return VideoRendition(None, width, height, rendition)
    info = VideoInfo(duration_ms=scan.duration_ms, width=width, height=height)
    check_caps(info, profile)
    source = Path(out_dir) / "animation.gif"
    source.write_bytes(data)
    files = web_renditions(str(source), info, out_dir, profile, gif=True)
    return VideoRendition(scan.duration_ms, width, height, rendition, files)


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group; the parent drains and stops the pool, so a
    # worker dying of KeyboardInterrupt would only break the pool mid-shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    media_formats.heif_available()  # register the HEIF opener once per worker
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """Exit when the processor that owns this worker is gone.

    A SIGKILLed (or OOM-killed) processor cannot shut its pool down, and spawned workers
    hold both ends of their task pipe, so they would never see EOF: without this they
    linger as orphans, each holding a core's worth of memory, across every restart.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os._exit(0)


def worker_count(configured: int) -> int:
    """``settings.media.workers``, where 0 means one worker per core."""
    return configured if configured > 0 else (os.cpu_count() or 1)


class RenderPool:
    """A ProcessPoolExecutor that is awaited from asyncio and replaced when it breaks."""

    def __init__(self, workers: int) -> None:
        self.workers = worker_count(workers)
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._executor is None:
            self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker; exceptions (e.g. MediaRejected) are re-raised."""
        executor = self._executor
        if executor is None:
            raise RuntimeError("RenderPool.start() was not called")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        # Several tasks see the same breakage; only the first replaces the pool.
        if self._executor is broken:
            log.warning("media worker process died; starting a fresh pool")
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
