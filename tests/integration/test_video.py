"""Videos and animated GIFs through the real media processor: web-safe MP4 renditions out.

Every accepted video must play in any browser: H.264 4:2:0 + AAC in an MP4 whose index
comes first, at most 1080p, plus a small rendition; a clip that already is all that is
remuxed (its video packets kept bit for bit); an animated GIF becomes a looping MP4; and
nothing of a phone's metadata (its GPS position) survives. Every broken or oversized
input ends as ``photo.failed`` with its reason: never a post stuck in processing. (HEIC
grids are here too: a broken one is the photo-side case of the same rule.)
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from infra.connect import kafka
from infra.settings import Settings
from schemas.envelope import Event
from schemas.media import PhotoFailed, PhotoProcessed
from schemas.payload import Payload
from schemas.topics import MEDIA_PROCESSED
from sinks.media_keys import IMMUTABLE_CACHE_CONTROL, derivative_key, original_key
from sinks.objects import ObjectStore
from tests.integration.test_media_processor import (
    Tail,
    new_photo_id,
    publish,
    store_originals,
    upload_event,
)
from tests.support import media
from tests.support.processors import running

pytestmark = [pytest.mark.stack, pytest.mark.slow]

#: The poster's images: JPEGs, and AVIF twins of large and medium.
JPEGS = {"thumb", "small", "medium", "large", "large_avif", "medium_avif"}
WAIT_S = 240.0


@dataclass(frozen=True)
class Case:
    data: bytes
    kind: str = "video"
    content_type: str = "video/mp4"


@dataclass
class Outcomes:
    events: dict[str, Event[Payload]]
    store: ObjectStore
    settings: Settings
    tmp: Path

    def processed(self, name: str) -> PhotoProcessed:
        payload = self.events[name].payload
        assert isinstance(payload, PhotoProcessed), payload
        return payload

    def failed(self, name: str) -> PhotoFailed:
        payload = self.events[name].payload
        assert isinstance(payload, PhotoFailed), payload
        return payload

    async def download(self, photo: PhotoProcessed, name: str) -> Path:
        """The rendition ``name`` as a file, after checking what the event says of it."""
        (d,) = [d for d in photo.derivatives if d.name == name]
        assert d.key == derivative_key(photo.photo_id, name) and d.key.endswith(".mp4")
        info = await self.store.stat(self.settings.s3.media_bucket, d.key)
        assert info is not None
        assert (info.size, info.content_type) == (d.bytes, "video/mp4") == (d.bytes,
                                                                            d.content_type)
        assert info.cache_control == IMMUTABLE_CACHE_CONTROL
        path = self.tmp / f"{photo.photo_id}-{name}.mp4"
        path.write_bytes(await self.store.get(self.settings.s3.media_bucket, d.key))
        return path


def build_cases(tmp: Path) -> dict[str, Case]:
    return {
        "phone": Case(media.phone_mov(tmp / "phone.mov").read_bytes(),
                      content_type="video/quicktime"),
        "web": Case(media.web_mp4(tmp / "web.mp4").read_bytes()),
        "gif": Case(media.animated_gif(), kind="photo", content_type="image/gif"),
        "still_gif": Case(media.still_gif(), kind="photo", content_type="image/gif"),
        "truncated": Case(media.truncated_mp4(tmp / "truncated.mp4")),
        "too_long": Case(media.tiny_clip(tmp / "long.mp4", seconds=181).read_bytes()),
        "too_wide": Case(media.tiny_clip(tmp / "wide.mp4", seconds=1,
                                         size="4200x64").read_bytes()),
        "audio_only": Case(media.audio_only_m4a(tmp / "sound.m4a")),
        "gif_10k": Case(media.gif_with_frames(10_000), kind="photo", content_type="image/gif"),
        "heic_grid": Case(media.heic_grid(), kind="photo", content_type="image/heic"),
        "heic_broken_grid": Case(media.heic_grid(drop_tile=True), kind="photo",
                                 content_type="image/heic"),
    }


@pytest.fixture(scope="module")
async def outcomes(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    tmp = tmp_path_factory.mktemp("video")
    cases = build_cases(tmp)
    ids = {name: new_photo_id() for name in cases}
    store = ObjectStore.from_settings(stack)
    await store_originals(store, stack, [(ids[n], c.data) for n, c in cases.items()])
    producer: AIOKafkaProducer = kafka.producer(stack)
    await producer.start()
    try:
        async with Tail(stack, MEDIA_PROCESSED) as tail, running(stack, "media"):
            await publish(producer, [
                upload_event(ids[n], kind=c.kind, content_type=c.content_type,
                             size=len(c.data)) for n, c in cases.items()])
            await tail.until(tail.has_all(ids.values()), timeout=WAIT_S)
    finally:
        await producer.stop()
    events = {name: tail.processed[pid][0] for name, pid in ids.items()}
    return Outcomes(events, store, stack, tmp)


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)],
                         capture_output=True, check=True, timeout=60).stdout
    return json.loads(out)


def streams(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def index_first(path: Path) -> bool:
    """Faststart: the ``moov`` box (the index) comes before ``mdat`` (the samples)."""
    data = path.read_bytes()
    pos, order = 0, []
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        order.append(data[pos + 4:pos + 8])
        if size < 8:
            break
        pos += size
    return order.index(b"moov") < order.index(b"mdat")


def packets_md5(path: Path) -> str:
    """MD5 of the video stream's packets: equal only if they were copied, not re-encoded."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0",
                           "-c", "copy", "-f", "md5", "-"],
                          capture_output=True, check=True, timeout=60).stdout.decode().strip()


def assert_web_safe(path: Path, size: tuple[int, int], *, audio: bool) -> dict:
    info = probe(path)
    (video,) = streams(info, "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video["profile"] in {"Constrained Baseline", "Baseline", "Main", "High"}
    assert (video["width"], video["height"]) == size
    assert min(size) <= 1080 and max(size) <= 1920
    assert [a["codec_name"] for a in streams(info, "audio")] == (["aac"] if audio else [])
    assert index_first(path), f"{path.name}: moov after mdat (no faststart)"
    data = path.read_bytes()
    assert media.GPS_MARKER not in data, f"{path.name} kept the GPS position"
    assert b"com.apple" not in data and b"Lavf" not in data
    return info


async def test_phone_hevc_mov_is_transcoded_upright_with_a_small_rendition(
        outcomes: Outcomes) -> None:
    photo = outcomes.processed("phone")
    assert (photo.media_kind, photo.original_width, photo.original_height) == (
        "video", 720, 1280)  # rotation applied: a portrait clip
    assert photo.duration_ms is not None and 1900 <= photo.duration_ms <= 2100
    names = {d.name: (d.width, d.height) for d in photo.derivatives}
    assert names == {"large": (720, 1280), "medium": (640, 1138), "small": (320, 569),
                     "thumb": (150, 150), "video": (720, 1280), "video_small": (360, 640),
                     "large_avif": (720, 1280), "medium_avif": (640, 1138)}
    main = assert_web_safe(await outcomes.download(photo, "video"), (720, 1280), audio=True)
    (video,) = streams(main, "video")
    assert not video.get("side_data_list"), "the encoded rendition is upright: no rotation"
    assert_web_safe(await outcomes.download(photo, "video_small"), (360, 640), audio=True)


async def test_web_safe_mp4_is_remuxed_not_reencoded(outcomes: Outcomes) -> None:
    photo = outcomes.processed("web")
    main = await outcomes.download(photo, "video")
    assert_web_safe(main, (640, 360), audio=True)
    original = outcomes.tmp / "web.mp4"
    assert packets_md5(main) == packets_md5(original)
    # 360 px high already: no smaller rendition to make.
    assert {d.name for d in photo.derivatives} == JPEGS | {"video"}


async def test_animated_gif_becomes_a_looping_mp4(outcomes: Outcomes) -> None:
    photo = outcomes.processed("gif")
    assert photo.media_kind == "photo"  # the card loops it, muted, like a GIF
    assert photo.duration_ms == 12 * 80
    names = {d.name: (d.width, d.height) for d in photo.derivatives}
    assert set(names) == JPEGS | {"video"}  # 120 px high: no smaller rendition
    info = assert_web_safe(await outcomes.download(photo, "video"), (160, 120), audio=False)
    assert 0.8 <= float(info["format"]["duration"]) <= 1.2


async def test_a_one_frame_gif_is_a_still_photo(outcomes: Outcomes) -> None:
    photo = outcomes.processed("still_gif")
    assert {d.name for d in photo.derivatives} == JPEGS
    assert photo.duration_ms is None


async def test_an_iphone_style_tiled_heic_is_assembled(outcomes: Outcomes) -> None:
    photo = outcomes.processed("heic_grid")  # 2 x 2 tiles of 256 px, as iPhones tile
    assert (photo.original_width, photo.original_height) == (512, 512)


@pytest.mark.parametrize(("case", "stage", "reason"), [
    ("truncated", "video", "truncated video"),
    ("too_long", "video", "video too long: 181 s exceeds the 180 s limit"),
    ("too_wide", "video", "video too large: 4200x64 exceeds the 4096 px limit"),
    ("audio_only", "video", "not a video: an audio-only file"),
    ("gif_10k", "render", "animated GIF has too many frames"),
    ("heic_broken_grid", "render", "corrupt image: no decodable picture in this HEIC"),
])
async def test_bad_input_fails_with_its_reason(outcomes: Outcomes, case: str, stage: str,
                                               reason: str) -> None:
    failed = outcomes.failed(case)
    assert (failed.stage, failed.reason[:len(reason)]) == (stage, reason)
    bucket = outcomes.settings.s3.media_bucket
    for name in (*JPEGS, "video", "video_small"):  # nothing half-written
        assert not await outcomes.store.exists(bucket, derivative_key(failed.photo_id, name))
    assert await outcomes.store.exists(outcomes.settings.s3.originals_bucket,
                                       original_key(failed.photo_id))
