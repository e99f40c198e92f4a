"""Event codec throughput: decode and encode of representative events, per library.

    python -m bench.event_codec [-n 20000] [--rounds 3] [--baseline-rev REV]

Decoding runs once per Kafka record in every processor, so it is the hot path; encoding
runs once per published event. Rows, all fed the same wire bytes (``photo.uploaded``,
``photo.processed`` with two derivatives, ``like.added``, in turn):

* ``baseline``: ``schemas.envelope`` as of ``--baseline-rev`` (the home-made field
  framework), run in a subprocess against that revision's ``schemas`` package;
* ``tree``: ``schemas.envelope`` as checked out now (msgspec since the move);
* ``pydantic`` and ``msgspec (bare)``: the three events written the plain way for each
  library, with the same strictness (no coercion, bounds, closed objects, aware times)
  but the library's own, laxer, time parser. Library against library, these two rows
  decided the move (figures in ``schemas/model.py``); the tree row pays, on top of bare
  msgspec, for the strict RFC 3339 parse and for ``encode`` decoding its own output.

Each row prints events/s and the ratio to the baseline (the tree when the baseline
revision cannot be read).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "45697cb"
"""The last revision with the home-made field framework (``schemas/fields.py``)."""

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
MAX_INT64 = 2**63 - 1

Codec = tuple[Callable[[bytes], Any], Callable[[Any], bytes]]


def sample_wire() -> list[bytes]:
    """The three representative events as wire bytes (written by hand: any codec reads them)."""
    envelope = {"event_id": "0b5e1f3c9d2a4e6f8a7b6c5d4e3f2a1b",
                "occurred_at": "2024-05-01T12:00:00.123456Z", "producer": "ingest"}
    uploaded = {
        "photo_id": 1234567890123, "owner_id": 42, "media_kind": "photo",
        "object_key": "42/1234567890123/original", "content_type": "image/jpeg",
        "size_bytes": 2_000_000, "caption": "Sunset #beach", "title": "", "location": None,
        "uploaded_at": "2024-05-01T12:00:00.123456Z",
    }
    processed = {
        "photo_id": 1234567890123, "owner_id": 42, "media_kind": "photo",
        "original_width": 4032, "original_height": 3024, "duration_ms": None,
        "derivatives": [
            {"name": "thumb", "key": "42/1/thumb.jpg", "width": 150, "height": 150,
             "bytes": 4_000, "content_type": "image/jpeg"},
            {"name": "large", "key": "42/1/large.webp", "width": 1080, "height": 810,
             "bytes": 90_000, "content_type": "image/webp"},
        ],
        "placeholder": {"dominant_color": "#1a2b3c", "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"},
        "caption": "Sunset #beach", "title": "", "location": "Lisbon",
    }
    like = {"photo_id": 1234567890123, "user_id": 6, "owner_id": 42}
    return [
        orjson.dumps({"type": kind, "version": 1, **envelope, "payload": payload})
        for kind, payload in (
            ("photo.uploaded", uploaded), ("photo.processed", processed), ("like.added", like)
        )
    ]  # fmt: skip


def tree_codec() -> Codec:
    """``schemas.envelope`` of whichever ``schemas`` package is first on the path."""
    from schemas.envelope import decode, encode

    return decode, encode


# --- pydantic v2: strict models, one envelope model per event class -----------------------

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
PyId = Annotated[int, Field(ge=0, le=MAX_INT64)]
PyDim = Annotated[int, Field(ge=1, le=2**31 - 1)]
MIME = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$"
PyMime = Annotated[str, Field(min_length=3, max_length=255, pattern=MIME)]
PyKey = Annotated[str, Field(min_length=1, max_length=1024)]


class PyUploaded(BaseModel):
    model_config = _STRICT
    photo_id: PyId
    owner_id: PyId
    media_kind: Literal["photo", "video"]
    object_key: PyKey
    content_type: PyMime
    size_bytes: PyId
    caption: Annotated[str, Field(max_length=2200)]
    title: Annotated[str, Field(max_length=200)]
    location: Annotated[str, Field(max_length=200)] | None
    uploaded_at: AwareDatetime


class PyDerivative(BaseModel):
    model_config = _STRICT
    name: Literal["thumb", "small", "medium", "large"]
    key: PyKey
    width: PyDim
    height: PyDim
    bytes: PyId
    content_type: PyMime


class PyPlaceholder(BaseModel):
    model_config = _STRICT
    dominant_color: Annotated[str, Field(min_length=7, max_length=7, pattern=r"^#[0-9a-f]{6}$")]
    blurhash: Annotated[str, Field(min_length=6, max_length=128)] | None


class PyProcessed(BaseModel):
    model_config = _STRICT
    photo_id: PyId
    owner_id: PyId
    media_kind: Literal["photo", "video"]
    original_width: PyDim
    original_height: PyDim
    duration_ms: Annotated[int, Field(ge=0, le=2**31 - 1)] | None
    derivatives: Annotated[tuple[PyDerivative, ...], Field(max_length=16)]
    placeholder: PyPlaceholder
    caption: Annotated[str, Field(max_length=2200)]
    title: Annotated[str, Field(max_length=200)]
    location: Annotated[str, Field(max_length=200)] | None


class PyLike(BaseModel):
    model_config = _STRICT
    photo_id: PyId
    user_id: PyId
    owner_id: PyId


def _py_envelope(kind: str, payload: type[BaseModel]) -> type[BaseModel]:
    class Envelope(BaseModel):
        model_config = _STRICT
        type: Literal[kind]  # type: ignore[valid-type]
        version: Literal[1]
        event_id: Annotated[str, Field(min_length=1, max_length=128,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]  # fmt: skip
        occurred_at: AwareDatetime
        producer: Annotated[str, Field(min_length=1, max_length=128,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]  # fmt: skip
        payload: payload  # type: ignore[valid-type]

    return Envelope


_PY_ENVELOPES = {
    ("photo.uploaded", 1): _py_envelope("photo.uploaded", PyUploaded),
    ("photo.processed", 1): _py_envelope("photo.processed", PyProcessed),
    ("like.added", 1): _py_envelope("like.added", PyLike),
}


def pydantic_codec() -> Codec:
    """Peek at type/version with orjson, then ``model_validate_json`` of that envelope."""

    def decode(raw: bytes) -> BaseModel:
        head = orjson.loads(raw)
        return _PY_ENVELOPES[head["type"], head["version"]].model_validate_json(raw)

    def encode(event: BaseModel) -> bytes:
        return event.model_dump_json().encode()

    return decode, encode


# --- msgspec, bare: the same three events as plain Structs (native datetime parsing) -------

_MS_META = {"forbid_unknown_fields": True, "frozen": True}
MsId = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
MsDim = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
MsMime = Annotated[str, msgspec.Meta(min_length=3, max_length=255, pattern=MIME)]
MsKey = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
MsTime = Annotated[datetime, msgspec.Meta(tz=True)]
MsText = Annotated[str, msgspec.Meta(max_length=200)]


class MsUploaded(msgspec.Struct, **_MS_META):
    photo_id: MsId
    owner_id: MsId
    media_kind: Literal["photo", "video"]
    object_key: MsKey
    content_type: MsMime
    size_bytes: MsId
    caption: Annotated[str, msgspec.Meta(max_length=2200)]
    title: MsText
    location: MsText | None
    uploaded_at: MsTime


class MsDerivative(msgspec.Struct, **_MS_META):
    name: Literal["thumb", "small", "medium", "large"]
    key: MsKey
    width: MsDim
    height: MsDim
    bytes: MsId
    content_type: MsMime


class MsPlaceholder(msgspec.Struct, **_MS_META):
    dominant_color: Annotated[str, msgspec.Meta(min_length=7, max_length=7,
                                                pattern=r"^#[0-9a-f]{6}$")]  # fmt: skip
    blurhash: Annotated[str, msgspec.Meta(min_length=6, max_length=128)] | None


class MsProcessed(msgspec.Struct, **_MS_META):
    photo_id: MsId
    owner_id: MsId
    media_kind: Literal["photo", "video"]
    original_width: MsDim
    original_height: MsDim
    duration_ms: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None
    derivatives: Annotated[tuple[MsDerivative, ...], msgspec.Meta(max_length=16)]
    placeholder: MsPlaceholder
    caption: Annotated[str, msgspec.Meta(max_length=2200)]
    title: MsText
    location: MsText | None


class MsLike(msgspec.Struct, **_MS_META):
    photo_id: MsId
    user_id: MsId
    owner_id: MsId


class MsEnvelope(msgspec.Struct, **_MS_META):
    type: str
    version: int
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]  # fmt: skip
    occurred_at: MsTime
    producer: Annotated[str, msgspec.Meta(min_length=1, max_length=128,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]  # fmt: skip
    payload: msgspec.Raw


def msgspec_codec() -> Codec:
    """Decode the envelope with a Raw payload, then the payload with its class's decoder."""
    envelope = msgspec.json.Decoder(MsEnvelope)
    payloads: dict[tuple[str, int], msgspec.json.Decoder[Any]] = {
                ("photo.uploaded", 1): msgspec.json.Decoder(MsUploaded),
                ("photo.processed", 1): msgspec.json.Decoder(MsProcessed),
                ("like.added", 1): msgspec.json.Decoder(MsLike)}  # fmt: skip
    encoder = msgspec.json.Encoder()

    def decode(raw: bytes) -> tuple[MsEnvelope, msgspec.Struct]:
        head = envelope.decode(raw)
        return head, payloads[head.type, head.version].decode(head.payload)

    def encode(event: tuple[MsEnvelope, msgspec.Struct]) -> bytes:
        head, payload = event
        return encoder.encode({"type": head.type, "version": head.version,
                               "event_id": head.event_id, "occurred_at": head.occurred_at,
                               "producer": head.producer, "payload": payload})  # fmt: skip

    return decode, encode


# --- measurement ---------------------------------------------------------------------------


def measure(codec: Codec, wire: Sequence[bytes], count: int) -> tuple[float, float]:
    """(decoded events/s, encoded events/s), best of three runs of ``count`` events each."""
    decode, encode = codec
    batch = [wire[i % len(wire)] for i in range(count)]
    events = [decode(raw) for raw in batch]
    for event, raw in zip(events[: len(wire)], wire, strict=True):  # the codec really works
        if orjson.loads(encode(event)) != orjson.loads(raw):
            raise AssertionError(f"round trip changed {raw[:60]!r}")
    return _rate(decode, batch), _rate(encode, events)


def _rate(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def baseline_rates(rev: str, count: int) -> tuple[float, float] | None:
    """The tree row measured against ``schemas/`` as of ``rev``, in a subprocess.

    The subprocess runs this file from a scratch directory holding that revision's
    ``schemas`` package, so the import finds the old package before the current one.
    None when the revision cannot be read (a shallow clone, a tarball).
    """
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "schemas"],
                             capture_output=True, check=False)  # fmt: skip
    if archive.returncode != 0:
        print(f"baseline: cannot read schemas/ at {rev}: {archive.stderr.decode().strip()}")
        return None
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(scratch, filter="data")
        script = Path(scratch) / "event_codec_tree.py"
        script.write_text(Path(__file__).read_text(encoding="utf-8"), encoding="utf-8")
        out = subprocess.run([sys.executable, str(script), "--tree-only", "-n", str(count)],
                             cwd=scratch, capture_output=True, text=True, check=True)  # fmt: skip
    rates = json.loads(out.stdout)
    return rates["decode"], rates["encode"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--events", type=int, default=20_000)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    wire = sample_wire()
    if args.tree_only:
        decode_rate, encode_rate = measure(tree_codec(), wire, args.events)
        print(json.dumps({"decode": decode_rate, "encode": encode_rate}))
        return 0
    # Rounds interleave the rows, so a burst of load from a neighbour (the dev box is
    # shared) costs one row one round instead of skewing the ratios; best round wins.
    rows: dict[str, tuple[float, float]] = {}
    codecs = {"tree": tree_codec(), "pydantic": pydantic_codec(),
              "msgspec (bare)": msgspec_codec()}  # fmt: skip
    for _ in range(args.rounds):
        rates: dict[str, tuple[float, float] | None] = {
            f"baseline ({args.baseline_rev})": baseline_rates(args.baseline_rev, args.events)
        }
        rates.update((name, measure(codec, wire, args.events)) for name, codec in codecs.items())
        for name, rate in rates.items():
            if rate is not None:
                best = rows.get(name, (0.0, 0.0))
                rows[name] = (max(best[0], rate[0]), max(best[1], rate[1]))
    base_decode, base_encode = next(iter(rows.values()))
    print(f"{args.events} events (photo.uploaded, photo.processed, like.added in turn), "
          f"best of {3 * args.rounds} runs in {args.rounds} interleaved rounds")  # fmt: skip
    print(f"{'codec':<20} {'decode ev/s':>12} {'x':>6} {'encode ev/s':>12} {'x':>6}")
    for name, (decode_rate, encode_rate) in rows.items():
        print(f"{name:<20} {decode_rate:>12,.0f} {decode_rate / base_decode:>6.2f} "
              f"{encode_rate:>12,.0f} {encode_rate / base_encode:>6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
