"""Kafka producer codecs and linger, measured on the records a photo really makes.

Run: ``python -m bench.kafka_codecs`` (the local stack is started if needed).

What a processed photo costs Kafka is mostly per request, not per byte: the records are
small JSON events (the upload, the processed outcome with its derivatives, one fan-out
chunk of follower ids). This benchmark publishes the same stream of those three records
per photo, keyed by photo id, as the processors do (concurrent sends that the producer
batches), once per codec and linger setting, each into a fresh topic; then consumes it
back. It prints, per record, what the producer process, the broker and the consumer
process spent in CPU, and the bytes the broker keeps on disk. The first row (no codec,
the shipped linger) is the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.scratch import fresh_topic
from infra.connect import kafka
from infra.settings import Settings, get_settings
from operate.stack import manager
from schemas.envelope import encode, make
from schemas.fanout import FanoutChunk, chunk_id
from schemas.media import Derivative, DerivativeName, PhotoProcessed, PhotoUploaded, Placeholder
from schemas.payload import Payload
from sinks.media_keys import derivative_key, original_key

PARTITIONS = 6
#: Sends in flight at once: a processor's flush of a few partitions' outputs.
IN_FLIGHT = 64
FOLLOWERS = 20
#: (label, codec, linger_ms); the first is the baseline.
VARIANTS = (("none, linger 5 ms (shipped)", "none", 5), ("lz4, linger 5 ms", "lz4", 5),
            ("zstd, linger 5 ms", "zstd", 5), ("gzip, linger 5 ms", "gzip", 5),
            ("snappy, linger 5 ms", "snappy", 5), ("none, linger 0", "none", 0),
            ("none, linger 20 ms", "none", 20), ("lz4, linger 20 ms", "lz4", 20))
_DERIVATIVES: tuple[tuple[DerivativeName, int, int, str], ...] = (
    ("thumb", 150, 150, "image/jpeg"), ("small", 320, 400, "image/jpeg"),
    ("medium", 640, 800, "image/jpeg"), ("large", 1080, 1350, "image/jpeg"),
    ("medium_avif", 640, 800, "image/avif"), ("large_avif", 1080, 1350, "image/avif"))


def photo_records(photos: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """(key, value) of the three records each photo puts on Kafka, in publish order."""
    rng = random.Random(seed)
    owner = rng.randrange(1 << 40, 1 << 50)
    fans = tuple(sorted(rng.randrange(1 << 40, 1 << 50) for _ in range(FOLLOWERS)))
    out: list[tuple[bytes, bytes]] = []
    for i in range(photos):
        pid = (1 << 58) + i * 4_194_304 + rng.randrange(4_194_304)
        key = str(pid).encode()
        caption = " ".join(rng.choice(("sunset", "#beach", "with @ana", "golden", "hour",
                                       "on the pier", "#film", "again")) for _ in range(8))
        for payload in _photo_events(pid, owner, fans, caption, rng):
            out.append((key, encode(make(payload, producer="bench"))))
    return out


def _photo_events(pid: int, owner: int, fans: tuple[int, ...], caption: str,
                  rng: random.Random) -> Iterator[Payload]:
    yield PhotoUploaded(photo_id=pid, owner_id=owner, media_kind="photo",
                        object_key=original_key(pid), content_type="image/jpeg",
                        size_bytes=rng.randrange(150_000, 4_000_000), caption=caption,
                        title="", location=None, uploaded_at=datetime.now(UTC))
    derivatives = tuple(Derivative(name=n, key=derivative_key(pid, n), width=w, height=h,
                                   bytes=rng.randrange(5_000, 400_000), content_type=t)
                        for n, w, h, t in _DERIVATIVES)
    yield PhotoProcessed(photo_id=pid, owner_id=owner, media_kind="photo",
                         original_width=1080, original_height=1350, duration_ms=None,
                         derivatives=derivatives,
                         placeholder=Placeholder(dominant_color="#a0b0c0",
                                                 blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
                         caption=caption, title="", location=None)
    yield FanoutChunk(chunk_id=chunk_id(pid, "add", 0), action="add", photo_id=pid,
                      owner_id=owner, chunk_index=0, chunk_count=1,
                      follower_ids=(owner, *fans))


@dataclass
class Figures:
    produce_client_us: float
    produce_broker_us: float
    consume_client_us: float
    consume_broker_us: float
    disk_bytes: float
    records_per_s: float


def _log_bytes(data_dir: Path, topic: str) -> int:
    """Bytes of the topic's log segments on the broker's disk (every partition)."""
    return sum(f.stat().st_size for d in data_dir.glob(f"{topic}-*") for f in d.glob("*.log"))


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _broker_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if b"kafka.Kafka" in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
    return pids


class Meter:
    """CPU of this process and of every broker between ``start`` and ``stop``."""

    def __init__(self) -> None:
        self.brokers = _broker_pids()

    def start(self) -> None:
        self._own, self._broker = time.process_time(), sum(map(_cpu, self.brokers))
        self._wall = time.monotonic()

    def stop(self) -> tuple[float, float, float]:
        """(own CPU s, broker CPU s, wall s)."""
        return (time.process_time() - self._own,
                sum(map(_cpu, self.brokers)) - self._broker, time.monotonic() - self._wall)


async def measure(settings: Settings, records: list[tuple[bytes, bytes]], codec: str,
                  linger_ms: int, data_dir: Path) -> Figures:
    async with fresh_topic(settings, "bench-codecs", PARTITIONS) as topic:
        produce = await _produce(settings, topic, records, codec, linger_ms)
        await asyncio.sleep(1)  # the log flushed to the page cache: sizes are final
        disk = _log_bytes(data_dir, topic)
        consume = await _consume(settings, topic, len(records) + PARTITIONS)
    n = len(records)
    return Figures(produce_client_us=produce[0] / n * 1e6, produce_broker_us=produce[1] / n * 1e6,
                   consume_client_us=consume[0] / n * 1e6, consume_broker_us=consume[1] / n * 1e6,
                   disk_bytes=disk / n, records_per_s=n / produce[2])


async def _produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]],
                   codec: str, linger_ms: int) -> tuple[float, float, float]:
    producer = kafka.producer(settings, compression_type=None if codec == "none" else codec,
                              linger_ms=linger_ms)
    await producer.start()
    meter = Meter()
    try:
        for partition in range(PARTITIONS):  # leaders elected, metadata known: not measured
            await producer.send_and_wait(topic, b"warm-up", partition=partition)
        meter.start()
        for i in range(0, len(records), IN_FLIGHT):
            sent = [await producer.send(topic, value, key=key)
                    for key, value in records[i:i + IN_FLIGHT]]
            await asyncio.gather(*sent)
        return meter.stop()
    finally:
        await producer.stop()


async def _consume(settings: Settings, topic: str, count: int) -> tuple[float, float, float]:
    consumer = kafka.consumer(settings, topic, group_id=f"bench-codecs-{uuid.uuid4().hex}")
    await consumer.start()
    meter = Meter()
    try:
        meter.start()
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(r) for r in batch.values())
        return meter.stop()
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    await manager.up(settings)
    data_dir = manager.by_name(settings, "kafka").data_dir
    records = photo_records(args.photos)
    mean = sum(len(v) for _, v in records) / len(records)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{args.photos} photos = {len(records)} records (mean value {mean:.0f} B), "
          f"{IN_FLIGHT} sends in flight, {PARTITIONS} partitions, median of {args.runs} rounds")
    print(f"{'variant':<30} {'produce us/rec':>15} {'broker':>7} {'consume':>8} {'broker':>7}"
          f" {'disk B/rec':>11} {'rec/s':>7}")
    runs: dict[str, list[Figures]] = {label: [] for label, _, _ in VARIANTS}
    for _ in range(args.runs):  # rounds over every variant: drift hits them alike
        for label, codec, linger in VARIANTS:
            runs[label].append(await measure(settings, records, codec, linger, data_dir))
    for label, figures in runs.items():
        f = Figures(*(statistics.median(getattr(r, name) for r in figures)
                      for name in Figures.__dataclass_fields__))
        print(f"{label:<30} {f.produce_client_us:>15.1f} {f.produce_broker_us:>7.1f} "
              f"{f.consume_client_us:>8.1f} {f.consume_broker_us:>7.1f} "
              f"{f.disk_bytes:>11.0f} {f.records_per_s:>7.0f}")
    print("(client and broker: CPU microseconds per record; broker columns: the broker's "
          "process while producing / while consuming)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
