"""The media processor against the real stack: uploads in, derivatives and outcomes out.

Results are read outside any consumer group, from the end offsets of the output topics
recorded before publishing, and filtered by this run's (fresh, time-ordered) photo ids,
so reruns and other users of the shared stack do not disturb the assertions.

The in-process tests share one Runner (class-scoped); the crash test runs the real CLI as
a subprocess afterwards, when that Runner has left the consumer group.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from PIL import Image

from infra.connect import kafka
from infra.settings import Settings
from operate.processes import stop_processes
from processors.media.processor import MediaProcessor, outcome_event_id
from processors.runtime import Runner
from schemas.deadletter import DeadLetter, decode_dead_letter
from schemas.envelope import Event, InvalidEvent, decode, encode, make
from schemas.ids import IdGenerator
from schemas.media import Derivative, PhotoDeleted, PhotoFailed, PhotoProcessed, PhotoUploaded
from schemas.payload import Payload
from schemas.topics import DEADLETTERS, MEDIA_PROCESSED, MEDIA_UPLOADED, Topic, key_for
from sinks.media_keys import IMMUTABLE_CACHE_CONTROL, derivative_key, original_key
from sinks.objects import ObjectStore
from tests.support.images import encoded

pytestmark = [pytest.mark.stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OWNER = random.randrange(1, 1_000_000)
IDS = IdGenerator(worker_id=random.randrange(16))
NAMES = {"thumb", "small", "medium", "large"}
WAIT_S = 90.0


def new_photo_id() -> int:
    return IDS.next_id(OWNER)


# --------------------------------------------------------------------------- inputs


def _photo(w: int, h: int, *, grain: float = 40) -> Image.Image:
    """Gradients plus noise: real entropy, so JPEG decode costs what a photo costs."""
    grad = Image.linear_gradient("L").resize((w, h))
    return Image.merge("RGB", (grad, grad.transpose(Image.Transpose.ROTATE_90).resize((w, h)),
                               Image.effect_noise((w, h), grain)))


def _exif(**tags: Any) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[int(tag[1:], 16)] = value
    return exif.tobytes()


def big_jpeg() -> bytes:
    """2000x1500 with camera EXIF (make, model, GPS pointer) that must not survive."""
    return encoded(_photo(2000, 1500), "JPEG", quality=90,
                   exif=_exif(x010F="TestCam", x0110="Model X", x0131="secret-editor"))


def bomb_png() -> bytes:
    """A 1x1 PNG whose header claims 30000x30000 (900 MP): must be refused unread."""
    tiny = encoded(Image.new("L", (1, 1)), "PNG")
    body = b"IHDR" + struct.pack(">II", 30000, 30000) + tiny[24:29]
    return tiny[:8] + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body)) + tiny[33:]


def png16() -> bytes:
    grad = Image.linear_gradient("L").resize((640, 480)).convert("I").point(lambda v: v * 257)
    return encoded(grad.convert("I;16"), "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (300, 200), c) for c in ("red", "green", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)


def mp4(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc=duration=1:size=320x240:rate=25", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


@dataclass(frozen=True)
class Case:
    data: bytes
    kind: str = "photo"
    content_type: str = "image/jpeg"
    store_original: bool = True
    photo_id: int = field(default_factory=new_photo_id)


def build_cases(tmp: Path) -> dict[str, Case]:
    big = big_jpeg()
    return {
        "big": Case(big),
        "small": Case(encoded(Image.new("RGB", (200, 100), "orange"), "PNG"),
                      content_type="image/png"),
        "rotated": Case(encoded(_photo(1200, 800), "JPEG", exif=_exif(x0112=6, x010F="TestCam"))),
        "cmyk": Case(encoded(_photo(800, 600).convert("CMYK"), "JPEG")),
        "png16": Case(png16(), content_type="image/png"),
        "gif": Case(animated_gif(), content_type="image/gif"),
        "video": Case(mp4(tmp / "clip.mp4"), kind="video", content_type="video/mp4"),
        "corrupt": Case(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20),
        "truncated": Case(big[: len(big) // 2]),
        "empty": Case(b"", content_type="application/octet-stream"),
        "bomb": Case(bomb_png(), content_type="image/png"),
        "missing": Case(b"never stored", store_original=False),
    }  # fmt: skip


def upload_event(photo_id: int, *, kind: str = "photo", content_type: str = "image/jpeg",
                 size: int = 0) -> Event[PhotoUploaded]:
    return make(
        PhotoUploaded(
            photo_id=photo_id, owner_id=OWNER, media_kind=kind,  # type: ignore[arg-type]
            object_key=original_key(photo_id), content_type=content_type, size_bytes=size,
            caption=f"caption of {photo_id} #test", title="a title", location="Lisbon",
            uploaded_at=datetime.now(UTC),
        ),
        producer="test-media",
    )


async def store_originals(store: ObjectStore, settings: Settings,
                          items: Iterable[tuple[int, bytes]]) -> None:
    await asyncio.gather(*(
        store.put(settings.s3.originals_bucket, original_key(pid), data,
                  content_type="application/octet-stream")
        for pid, data in items
    ))


async def publish(producer: AIOKafkaProducer, events: Iterable[Event[Payload]]) -> None:
    sent = [await producer.send(MEDIA_UPLOADED.name, encode(e), key=key_for(e)) for e in events]
    await asyncio.gather(*sent)


# --------------------------------------------------------------------------- reading results


class Tail:
    """Reads a topic from its end offsets at ``open()``, outside any consumer group."""

    def __init__(self, settings: Settings, topic: Topic) -> None:
        self.settings = settings
        self.topic = topic
        self.consumer: AIOKafkaConsumer | None = None
        self.processed: dict[int, list[Event[Payload]]] = defaultdict(list)
        self.letters: list[DeadLetter] = []

    async def __aenter__(self) -> Tail:
        self.consumer = kafka.consumer(self.settings, group_id=None)  # type: ignore[arg-type]
        await self.consumer.start()
        tps = [TopicPartition(self.topic.name, p) for p in range(self.topic.partitions)]
        self.consumer.assign(tps)
        ends = await self.consumer.end_offsets(tps)
        for tp in tps:
            self.consumer.seek(tp, ends[tp])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.consumer is not None
        await self.consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> None:
        assert self.consumer is not None
        batch = await self.consumer.getmany(timeout_ms=timeout_ms)
        for records in batch.values():
            for record in records:
                if self.topic is DEADLETTERS:
                    self.letters.append(decode_dead_letter(record.value or b""))
                else:
                    try:
                        event = decode(record.value)
                    except InvalidEvent:  # someone else's garbage on a shared stack
                        continue
                    self.processed[getattr(event.payload, "photo_id", -1)].append(event)

    async def until(self, done: Callable[[], bool], timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s on {self.topic.name}; "
                                     f"got {len(self.processed)} photos, "
                                     f"{len(self.letters)} dead letters")
            await self.poll()

    async def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.poll()

    def has_all(self, ids: Iterable[int]) -> Callable[[], bool]:
        wanted = list(ids)
        return lambda: all(self.processed.get(i) for i in wanted)


async def check_derivatives(store: ObjectStore, settings: Settings,
                            event: Event[Payload]) -> dict[str, Image.Image]:
    """Every derivative exists as announced (size, type, cache header) and carries no EXIF."""
    payload = event.payload
    assert isinstance(payload, PhotoProcessed)
    # An animated GIF also gets an MP4 rendition (tests/integration/test_video.py), and
    # large and medium an AVIF twin (checked below like the JPEGs, minus the format).
    assert {d.name for d in payload.derivatives} - {"video", "video_small"} == NAMES | {
        "large_avif", "medium_avif"}
    images: dict[str, Image.Image] = {}
    for d in payload.derivatives:
        if d.name.endswith("_avif"):
            await check_avif(store, settings, d)
            continue
        if d.name not in NAMES:
            continue
        assert d.key == derivative_key(payload.photo_id, d.name)
        info = await store.stat(settings.s3.media_bucket, d.key)
        assert info is not None, d.key
        assert (info.size, info.content_type) == (d.bytes, "image/jpeg")
        assert info.cache_control == IMMUTABLE_CACHE_CONTROL
        im = Image.open(io.BytesIO(await store.get(settings.s3.media_bucket, d.key)))
        assert im.format == "JPEG" and im.size == (d.width, d.height)
        assert len(im.getexif()) == 0, f"{d.key} kept EXIF"
        assert "exif" not in im.info and "icc_profile" not in im.info
        images[d.name] = im
    return images


async def check_avif(store: ObjectStore, settings: Settings, d: Derivative) -> None:
    """An AVIF twin: stored as announced, the size of its JPEG, no metadata."""
    assert d.key == derivative_key(int(d.key.split("/")[1]), d.name)
    assert d.key.endswith(".avif") and d.content_type == "image/avif"
    info = await store.stat(settings.s3.media_bucket, d.key)
    assert info is not None and (info.size, info.content_type) == (d.bytes, "image/avif")
    with Image.open(io.BytesIO(await store.get(settings.s3.media_bucket, d.key))) as im:
        assert im.format == "AVIF" and im.size == (d.width, d.height)
        assert len(im.getexif()) == 0 and "icc_profile" not in im.info


def sizes(event: Event[Payload]) -> dict[str, tuple[int, int]]:
    assert isinstance(event.payload, PhotoProcessed), event.payload
    return {d.name: (d.width, d.height) for d in event.payload.derivatives
            if d.name in NAMES}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def producer(stack: Settings) -> AsyncIterator[AIOKafkaProducer]:
    p = kafka.producer(stack)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture(scope="module")
def store(stack: Settings) -> ObjectStore:
    return ObjectStore.from_settings(stack)


@dataclass
class Outcomes:
    cases: dict[str, Case]
    events: dict[str, Event[Payload]]
    uploads: dict[str, Event[PhotoUploaded]]


@pytest.fixture(scope="class")
async def runner(stack: Settings) -> AsyncIterator[Runner]:
    """The processor in this process; class-scoped, so it has left the consumer group
    before the crash test starts its subprocesses (they would share partitions)."""
    runner = Runner(MediaProcessor(stack), stack)
    task = asyncio.create_task(runner.run())
    yield runner
    runner.stop()
    await asyncio.wait_for(task, 60)


@pytest.fixture(scope="class")
async def outcomes(stack: Settings, runner: Runner, producer: AIOKafkaProducer,
                   store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    cases = build_cases(tmp_path_factory.mktemp("media"))
    await store_originals(store, stack, [(c.photo_id, c.data) for c in cases.values()
                                         if c.store_original])
    uploads = {name: upload_event(c.photo_id, kind=c.kind, content_type=c.content_type,
                                  size=len(c.data)) for name, c in cases.items()}
    async with Tail(stack, MEDIA_PROCESSED) as tail:
        await publish(producer, uploads.values())
        await tail.until(tail.has_all(c.photo_id for c in cases.values()))
    events = {name: tail.processed[c.photo_id][0] for name, c in cases.items()}
    return Outcomes(cases, events, uploads)


class TestInProcess:
    """One in-process Runner (class-scoped) serves every test of this class."""

    async def test_big_photo_gets_four_derivatives_without_exif(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings
    ) -> None:
        event = outcomes.events["big"]
        payload = event.payload
        assert isinstance(payload, PhotoProcessed)
        assert (payload.original_width, payload.original_height) == (2000, 1500)
        assert sizes(event) == {"large": (1080, 810), "medium": (640, 480),
                                "small": (320, 240), "thumb": (150, 150)}
        upload = outcomes.uploads["big"].payload
        assert (payload.caption, payload.title, payload.location) == (
            upload.caption, upload.title, upload.location)
        assert (payload.owner_id, payload.media_kind, payload.duration_ms) == (
            OWNER, "photo", None)
        assert payload.placeholder.dominant_color.startswith("#")
        assert payload.placeholder.blurhash
        assert event.producer == "photostream-media"
        assert event.event_id == outcome_event_id(outcomes.uploads["big"].event_id,
                                                  "photo.processed")
        await check_derivatives(store, stack, event)

    async def test_small_photo_is_never_upscaled(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings
    ) -> None:
        event = outcomes.events["small"]
        assert sizes(event) == {"large": (200, 100), "medium": (200, 100),
                                "small": (200, 100), "thumb": (100, 100)}
        await check_derivatives(store, stack, event)

    async def test_exif_rotation_is_applied_then_dropped(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings
    ) -> None:
        event = outcomes.events["rotated"]
        payload = event.payload
        assert isinstance(payload, PhotoProcessed)
        assert (payload.original_width, payload.original_height) == (800, 1200)
        assert sizes(event) == {"large": (800, 1200), "medium": (640, 960),
                                "small": (320, 480), "thumb": (150, 150)}
        await check_derivatives(store, stack, event)

    @pytest.mark.parametrize(("case", "large"), [
        ("cmyk", (800, 600)), ("png16", (640, 480)), ("gif", (300, 200)),
    ])
    async def test_unusual_but_valid_images_are_processed(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings, case: str,
        large: tuple[int, int],
    ) -> None:
        event = outcomes.events[case]
        assert sizes(event)["large"] == large
        images = await check_derivatives(store, stack, event)
        if case == "png16":  # scaled to 8 bits, not clipped to white
            lo, hi = images["medium"].convert("L").getextrema()
            assert isinstance(lo, int) and isinstance(hi, int)
            assert lo < 30 and hi > 220

    async def test_video_gets_poster_derivatives_and_duration(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings
    ) -> None:
        event = outcomes.events["video"]
        payload = event.payload
        assert isinstance(payload, PhotoProcessed)
        assert payload.media_kind == "video"
        assert payload.duration_ms is not None and 900 <= payload.duration_ms <= 1100
        assert (payload.original_width, payload.original_height) == (320, 240)
        assert sizes(event)["large"] == (320, 240)
        await check_derivatives(store, stack, event)

    @pytest.mark.parametrize(("case", "stage", "reason"), [
        ("corrupt", "render", "not an image"),
        ("truncated", "render", "truncated"),
        ("empty", "render", "empty file"),
        ("bomb", "render", "image too large"),
        ("missing", "fetch", "original not found"),
    ])
    async def test_bad_uploads_fail_with_a_reason_and_keep_the_original(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings, case: str, stage: str,
        reason: str,
    ) -> None:
        event = outcomes.events[case]
        payload = event.payload
        assert isinstance(payload, PhotoFailed), payload
        assert payload.stage == stage
        assert reason in payload.reason
        assert payload.owner_id == OWNER
        assert event.event_id == outcome_event_id(outcomes.uploads[case].event_id,
                                                  "photo.failed")
        kept = await store.exists(stack.s3.originals_bucket, original_key(payload.photo_id))
        assert kept == outcomes.cases[case].store_original
        for name in (*NAMES, "large_avif", "medium_avif"):  # nothing half-written
            assert not await store.exists(stack.s3.media_bucket,
                                          derivative_key(payload.photo_id, name))

    async def test_reprocessing_an_upload_gives_identical_keys_and_bytes(
        self, outcomes: Outcomes, store: ObjectStore, stack: Settings,
        producer: AIOKafkaProducer,
    ) -> None:
        first = outcomes.events["big"]
        assert isinstance(first.payload, PhotoProcessed)
        bucket = stack.s3.media_bucket
        etags = {d.key: (await store.stat(bucket, d.key)) for d in first.payload.derivatives}
        async with Tail(stack, MEDIA_PROCESSED) as tail:
            await publish(producer, [outcomes.uploads["big"]])  # a redelivery, byte for byte
            await tail.until(tail.has_all([first.payload.photo_id]))
        again = tail.processed[first.payload.photo_id][0]
        assert again.event_id == first.event_id
        assert again.payload == first.payload
        assert {k: await store.stat(bucket, k) for k in etags} == etags

    async def test_poison_records_are_dead_lettered_and_the_next_upload_is_processed(
        self, stack: Settings, runner: Runner, store: ObjectStore, producer: AIOKafkaProducer,
    ) -> None:
        good = new_photo_id()
        key = str(good).encode()  # same key: same partition, so "next" is well defined
        not_json = b"{not json " + uuid.uuid4().hex.encode()
        unknown_type = orjson.dumps({
            "type": "photo.exploded", "version": 1, "event_id": uuid.uuid4().hex,
            "occurred_at": "2024-05-01T12:00:00Z", "producer": "test", "payload": {},
        })
        wrong_type = encode(make(PhotoDeleted(photo_id=good, owner_id=OWNER), producer="test"))
        await store_originals(store, stack, [(good, big_jpeg())])
        async with Tail(stack, DEADLETTERS) as letters, Tail(stack, MEDIA_PROCESSED) as done:
            for value in (not_json, unknown_type, wrong_type):
                await producer.send_and_wait(MEDIA_UPLOADED.name, value, key=key)
            await publish(producer, [upload_event(good)])
            await done.until(done.has_all([good]))
            poison = {not_json, unknown_type, wrong_type}
            await letters.until(lambda: poison <= {x.value for x in letters.letters})
        by_value = {x.value: x for x in letters.letters if x.value in poison}
        for value, error_type in ((not_json, "InvalidEvent"), (unknown_type, "InvalidEvent"),
                                  (wrong_type, "UnexpectedEvent")):
            letter = by_value[value]
            assert letter.topic == MEDIA_UPLOADED.name and letter.key == key
            assert letter.processor == "photostream-media"
            assert letter.error_type.endswith(error_type), letter
        assert isinstance(done.processed[good][0].payload, PhotoProcessed)


# --------------------------------------------------------------------------- crash safety


def _start_cli(log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "photostream"), "process", "media"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
        )


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text()
        kids.update(int(c) for c in text.split())
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


async def test_sigkill_mid_stream_loses_nothing(
    stack: Settings, producer: AIOKafkaProducer, store: ObjectStore, tmp_path: Path
) -> None:
    n = 30
    data = encoded(_photo(2400, 1800, grain=60), "JPEG", quality=85)
    ids = [new_photo_id() for _ in range(n)]
    await store_originals(store, stack, [(pid, data) for pid in ids])
    log_path = tmp_path / "media.log"
    orphans: set[int] = set()
    async with Tail(stack, MEDIA_PROCESSED) as tail:
        first = _start_cli(log_path)
        try:
            await publish(producer, [upload_event(pid, size=len(data)) for pid in ids])
            await tail.until(lambda: sum(bool(tail.processed.get(p)) for p in ids) >= n // 5)
            orphans = _children(first.pid)
            first.kill()  # SIGKILL: no drain, no commit, no pool shutdown
            await asyncio.to_thread(first.wait, 10)
        finally:
            await stop_processes([first], sig=signal.SIGKILL, grace=30)
        await tail.drain(1.0)  # whatever the first run published before dying
        before = {pid for pid in ids if tail.processed.get(pid)}
        assert 0 < len(before) < n, f"not killed mid-stream: {len(before)}/{n} done\n" \
                                    f"{_log_tail(log_path)}"

        # Its render workers notice the dead parent and exit on their own.
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in orphans) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        leftover = {p for p in orphans if _alive(p)}
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
        assert not leftover, "render workers outlived their SIGKILLed processor"

        second = _start_cli(log_path)
        try:
            try:
                # The dead member keeps its partitions until its session times out (30 s).
                await tail.until(tail.has_all(ids), timeout=150)
            except AssertionError:
                print(_log_tail(log_path), file=sys.stderr)
                raise
        finally:
            await stop_processes([second], grace=30)
        assert second.returncode == 0, _log_tail(log_path)

    dupes = sum(len(tail.processed[p]) > 1 for p in ids)
    print(f"first run finished {len(before)}/{n} before SIGKILL; {dupes} redelivered")
    for pid in ids:
        events = tail.processed[pid]
        assert all(isinstance(e.payload, PhotoProcessed) for e in events), events
        assert len({e.event_id for e in events}) == 1  # duplicates are recognisable
        assert all(e.payload == events[0].payload for e in events)  # same keys and bytes
        await check_derivatives(store, stack, events[0])
    # Same input bytes, so every photo's derivatives are byte-identical in size too.
    assert len({tuple(sizes(tail.processed[p][0]).items()) for p in ids}) == 1
