"""The upload write contract under the loss of a backend, against the real stack.

A 202 means the upload will appear; any error means it never will; a client that
retries after an error (with the same ``Idempotency-Key``, or without one) ends up with
exactly one photo. Each test cuts a server at a random point of many uploads, then runs
the real media and metadata processors and compares the owner's ready photos with the
202s: a ghost (an error answered, the photo published anyway), a lost 202 or a duplicate
shows up as a difference.

Cassandra and MinIO are cut through a :class:`tests.support.faultline.FaultLine` (only
this test's ingest loses them); Kafka cannot be proxied (clients connect to the address
the broker advertises), so that test freezes the shared broker with SIGSTOP, which is
also the nastiest fault: the request sits in the frozen broker's socket and is appended
when it wakes, after the ingest gave up on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cassandra.cluster import Session

from infra.connect.publisher import Publisher, PublishError
from infra.settings import Settings
from operate.stack.kafka import KafkaService
from producers.ingest import create_app
from schemas.envelope import Event, decode
from schemas.media import PhotoUploaded
from schemas.topics import MEDIA_UPLOADED
from sinks.photos import recent_photos
from tests.support.accounts import registered_user
from tests.support.faultline import FaultLine, faultline
from tests.support.images import jpeg_bytes
from tests.support.processors import running

from .kafka_tail import end_offsets, records_since
from .test_ingest import Ingest, _running, upload
from .waiting import eventually

pytestmark = pytest.mark.stack

ROUNDS = 12
RETRY_FOR = 40.0
FROZEN_FOR = 2.5


@dataclasses.dataclass
class Ledger:
    """What the client saw: the photo id each logical upload finally got, and how
    many answers were errors on the way."""

    accepted: dict[int, int] = dataclasses.field(default_factory=dict)
    errors: int = 0


async def _until_accepted(ingest: Ingest, owner: int, data: bytes, key: str | None) -> int:
    """Retry as a client would (same key, or none) until the upload is accepted."""
    deadline = asyncio.get_running_loop().time() + RETRY_FOR
    while True:
        response = await upload(ingest, owner, data, key=key)
        if response.status_code == 202:
            return int(response.json()["photo_id"])
        assert response.status_code == 503, response.text
        assert asyncio.get_running_loop().time() < deadline, "backend never came back"
        await asyncio.sleep(0.5)


async def _play(ingest: Ingest, owner: int, fail: Callable[[], None],
                heal: Callable[[], None], *, max_delay: float) -> Ledger:
    """ROUNDS uploads, each hit by ``fail`` at a random moment and then retried.

    Every fourth round meets the fault before its request starts, so the run always
    holds answered errors whatever the machine's speed; the others meet it at a random
    point of the request, where the ghosts and lost acknowledgements hide."""
    ledger = Ledger()
    for index in range(ROUNDS):
        data = jpeg_bytes(64 + index, 48)
        key = f"contract-{index}" if index % 2 == 0 else None
        if index % 4 == 0:
            fail()
            attempt = asyncio.create_task(upload(ingest, owner, data, key=key))
        else:
            attempt = asyncio.create_task(upload(ingest, owner, data, key=key))
            await asyncio.sleep(random.uniform(0, max_delay))
            fail()
        try:
            response = await attempt
        finally:
            heal()
        if response.status_code == 202:
            ledger.accepted[index] = int(response.json()["photo_id"])
            continue
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        ledger.errors += 1
        ledger.accepted[index] = await _until_accepted(ingest, owner, data, key)
    return ledger


async def _assert_exactly(settings: Settings, session: Session, owner: int,
                          ledger: Ledger) -> None:
    """The owner's ready photos are exactly the accepted ones: none lost, no ghost,
    no duplicate (each logical upload has its own id)."""
    expected = set(ledger.accepted.values())
    assert len(expected) == ROUNDS, "two logical uploads share a photo id"

    async def listed() -> set[int]:
        return set(await recent_photos(session, owner, limit=10 * ROUNDS))

    async with running(settings, "media", "metadata"):
        async def all_ready() -> bool:
            return expected <= await listed()

        await eventually(all_ready, timeout=120)
        await asyncio.sleep(3)  # a late ghost would be processed by now
        assert await listed() == expected


def _unlimited(settings: Settings) -> Settings:
    """One author uploads far more than a person would: no per-user upload limit."""
    return dataclasses.replace(settings, rate=dataclasses.replace(settings.rate, uploads=0))


def _through(settings: Settings, backend: str, line: FaultLine) -> Settings:
    settings = _unlimited(settings)
    if backend == "redis":
        return dataclasses.replace(settings, redis=dataclasses.replace(
            settings.redis, url=f"redis://127.0.0.1:{line.port}/0"))
    if backend == "cassandra":
        return dataclasses.replace(
            settings, cassandra=dataclasses.replace(settings.cassandra, port=line.port))
    return dataclasses.replace(
        settings, s3=dataclasses.replace(settings.s3, endpoint=f"127.0.0.1:{line.port}"))


@pytest.mark.parametrize("backend", ["cassandra", "minio", "redis"])
async def test_a_backend_lost_mid_upload_leaves_no_ghost_and_loses_nothing(
    stack: Settings, cassandra_session: Session, backend: str
) -> None:
    if backend == "cassandra":
        host, port = stack.cassandra.contact_points[0], stack.cassandra.port
    elif backend == "redis":
        host, port = "127.0.0.1", stack.stack.redis_port
    else:
        host, _, endpoint_port = stack.s3.endpoint.rpartition(":")
        port = int(endpoint_port)
    owner = await registered_user()
    with faultline(host, port) as line:
        async for ingest in _running(_through(stack, backend, line)):
            ledger = await _play(ingest, owner, line.cut, line.restore, max_delay=0.06)
    if backend == "redis":
        # Only caches and rate counters live there: uploads must not even notice.
        assert ledger.errors == 0, "an upload failed because Redis was down"
    else:
        assert ledger.errors > 0, "no upload met the fault: the test proved nothing"
    await _assert_exactly(stack, cassandra_session, owner, ledger)


async def test_a_frozen_broker_mid_upload_leaves_no_ghost_and_loses_nothing(
    stack: Settings, cassandra_session: Session
) -> None:
    """Not a lifecycle test: the broker is paused for seconds at a time and always
    thaws (even if this process dies), nothing restarts, so it need not run last."""
    pid = KafkaService(stack).pid()
    if pid is None:
        pytest.skip("the broker was started by another checkout: its pid is not ours")
    fast = dataclasses.replace(_unlimited(stack), kafka=dataclasses.replace(
        stack.kafka, request_timeout_ms=1500))

    def freeze() -> None:
        # The broker wakes up by itself even if this test process dies meanwhile.
        subprocess.Popen(["sh", "-c", f"sleep {FROZEN_FOR}; kill -CONT {pid}"],
                         start_new_session=True)
        os.kill(pid, signal.SIGSTOP)

    owner = await registered_user()
    try:
        async for ingest in _running(fast):
            ledger = await _play(ingest, owner, freeze, lambda: None, max_delay=0.03)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ledger.errors > 0, "no upload met the fault: the test proved nothing"
    await _assert_exactly(stack, cassandra_session, owner, ledger)



@asynccontextmanager
async def _ack_lost(settings: Settings, after_landing: Callable[[int], Awaitable[None]]
                    ) -> AsyncIterator[Ingest]:
    """An ingest whose publisher loses the broker's acknowledgement: the event really is
    appended to Kafka, then the publish fails (after ``after_landing(photo_id)``), the
    ambiguous outcome of a broker or network fault at the worst moment."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        publisher: Publisher = app.state.ingest.publisher
        real = publisher.publish

        async def publish_then_fail(event: Event[Any]) -> Any:
            await real(event)
            await after_landing(event.payload.photo_id)
            raise PublishError(MEDIA_UPLOADED.name, TimeoutError("acknowledgement lost"))

        publisher.publish = publish_then_fail  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield Ingest(client, settings)


async def test_an_event_that_landed_without_acknowledgement_is_aborted_not_a_ghost(
    stack: Settings, cassandra_session: Session
) -> None:
    async def nothing(photo_id: int) -> None:
        return None

    owner = await registered_user()
    before = await end_offsets(stack, MEDIA_UPLOADED.name)
    async with _ack_lost(stack, nothing) as ingest:
        response = await upload(ingest, owner, jpeg_bytes(), key="lost-ack")
    assert response.status_code == 503, response.text
    (landed,) = [e for r in [await records_since(stack, before)]
                 for e in _uploads_of(r, owner)]
    async with running(stack, "media", "metadata"):
        async def processed() -> bool:
            row = cassandra_session.execute(
                "SELECT status, failure_reason FROM photos WHERE photo_id = %s",
                (landed,)).one()
            return row is not None and row["status"] != "processing"

        await eventually(processed, timeout=60)
        await asyncio.sleep(2)
    assert await recent_photos(cassandra_session, owner) == []
    async for retrying in _running(_unlimited(stack)):
        again = await upload(retrying, owner, jpeg_bytes(), key="lost-ack")
    assert again.status_code == 202
    assert int(again.json()["photo_id"]) != landed, "an aborted photo id was reused"


async def test_an_event_processed_before_its_acknowledgement_was_lost_is_accepted(
    stack: Settings, cassandra_session: Session
) -> None:
    async def until_ready(photo_id: int) -> None:
        async def ready() -> bool:
            row = cassandra_session.execute(
                "SELECT status FROM photos WHERE photo_id = %s", (photo_id,)).one()
            return row is not None and row["status"] == "ready"

        await eventually(ready, timeout=60)

    owner = await registered_user()
    async with running(stack, "media", "metadata"), _ack_lost(stack, until_ready) as ingest:
        response = await upload(ingest, owner, jpeg_bytes())
    assert response.status_code == 202, response.text
    assert await recent_photos(cassandra_session, owner) == [int(response.json()["photo_id"])]


def _uploads_of(records: list[Any], owner: int) -> list[int]:
    events = (decode(r.value) for r in records)
    return [e.payload.photo_id for e in events
            if isinstance(e.payload, PhotoUploaded) and e.payload.owner_id == owner]
