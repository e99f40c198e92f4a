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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from cassandra.cluster import Session

from infra.settings import Settings
from operate.stack.kafka import KafkaService
from processors.registry import build
from processors.runtime import Runner
from sinks.photos import recent_photos
from tests.support.faultline import FaultLine, faultline

from .test_ingest import Ingest, _running, jpeg_bytes, new_user, upload
from .waiting import eventually

ROUNDS = 12
RETRY_FOR = 40.0


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
    """ROUNDS uploads, each hit by ``fail`` at a random moment and then retried."""
    ledger = Ledger()
    for index in range(ROUNDS):
        data = jpeg_bytes(64 + index, 48)
        key = f"contract-{index}" if index % 2 == 0 else None
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


@asynccontextmanager
async def _processors(settings: Settings) -> AsyncIterator[None]:
    """The media and metadata processors, which decide whether a photo appears."""
    runners = [Runner(build(name, settings), settings, backoff=0.1)
               for name in ("media", "metadata")]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)


async def _assert_exactly(settings: Settings, session: Session, owner: int,
                          ledger: Ledger) -> None:
    """The owner's ready photos are exactly the accepted ones: none lost, no ghost,
    no duplicate (each logical upload has its own id)."""
    expected = set(ledger.accepted.values())
    assert len(expected) == ROUNDS, "two logical uploads share a photo id"

    async def listed() -> set[int]:
        return set(await recent_photos(session, owner, limit=10 * ROUNDS))

    async with _processors(settings):
        async def all_ready() -> bool:
            return expected <= await listed()

        await eventually(all_ready, timeout=120)
        await asyncio.sleep(3)  # a late ghost would be processed by now
        assert await listed() == expected


def _through(settings: Settings, backend: str, line: FaultLine) -> Settings:
    if backend == "cassandra":
        return dataclasses.replace(
            settings, cassandra=dataclasses.replace(settings.cassandra, port=line.port))
    return dataclasses.replace(
        settings, s3=dataclasses.replace(settings.s3, endpoint=f"127.0.0.1:{line.port}"))


@pytest.mark.parametrize("backend", ["cassandra", "minio"])
async def test_a_backend_lost_mid_upload_leaves_no_ghost_and_loses_nothing(
    stack: Settings, cassandra_session: Session, backend: str
) -> None:
    if backend == "cassandra":
        host, port = stack.cassandra.contact_points[0], stack.cassandra.port
    else:
        host, _, endpoint_port = stack.s3.endpoint.rpartition(":")
        port = int(endpoint_port)
    owner = new_user()
    with faultline(host, port) as line:
        async for ingest in _running(_through(stack, backend, line)):
            ledger = await _play(ingest, owner, line.cut, line.restore, max_delay=0.06)
    assert ledger.errors > 0, "no upload met the fault: the test proved nothing"
    await _assert_exactly(stack, cassandra_session, owner, ledger)


@pytest.mark.lifecycle
async def test_a_frozen_broker_mid_upload_leaves_no_ghost_and_loses_nothing(
    stack: Settings, cassandra_session: Session
) -> None:
    pid = KafkaService(stack).pid()
    if pid is None:
        pytest.skip("the broker was started by another checkout: its pid is not ours")
    fast = dataclasses.replace(stack, kafka=dataclasses.replace(
        stack.kafka, request_timeout_ms=1500))

    def freeze() -> None:
        os.kill(pid, signal.SIGSTOP)

    async def thaw_later() -> None:
        await asyncio.sleep(2.5)
        os.kill(pid, signal.SIGCONT)

    thaws: list[asyncio.Task[None]] = []

    def thaw() -> None:
        thaws.append(asyncio.create_task(thaw_later()))

    owner = new_user()
    try:
        async for ingest in _running(fast):
            ledger = await _play(ingest, owner, freeze, thaw, max_delay=0.03)
            await asyncio.gather(*thaws)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ledger.errors > 0, "no upload met the fault: the test proved nothing"
    await _assert_exactly(stack, cassandra_session, owner, ledger)

