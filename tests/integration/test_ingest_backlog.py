"""Upload admission on the real stack: a full media backlog refuses before accepting.

The ingest's backlog is pointed at a consumer group of this test's own (a real group on
the real upload topic, never committed to at first), so its lag is every upload record
in the topic; the limit is set just above it. Committing that group's offsets is what the
media processors do when they catch up, so the test can drain the queue for real without
touching the real media group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from infra.connect import kafka
from infra.settings import Settings
from producers.ingest import create_app
from producers.ingest.backlog import Backlog
from schemas.topics import MEDIA_UPLOADED
from tests.integration.test_ingest import Ingest, assert_problem, upload
from tests.support.accounts import registered_user
from tests.support.images import jpeg_bytes

from .kafka_tail import end_offsets

pytestmark = pytest.mark.stack


@dataclasses.dataclass
class Admitting:
    ingest: Ingest
    backlog: Backlog
    group: str


async def _lag(settings: Settings, group: str) -> int:
    probe = Backlog(settings, group=group)
    try:
        await probe.refresh()
        return probe.lag or 0
    finally:
        await probe.stop()


@pytest.fixture
async def admitting(stack: Settings) -> AsyncIterator[Admitting]:
    """An ingest whose limit is 2 uploads above its (test) group's current backlog."""
    group = f"test-backlog-{uuid.uuid4().hex[:8]}"
    limit = await _lag(stack, group) + 2
    settings = dataclasses.replace(stack, ingest=dataclasses.replace(
        stack.ingest, max_backlog=limit, backlog_poll_seconds=0.2))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.backlog.stop()
        app.state.backlog = backlog = Backlog(settings, group=group)
        await backlog.start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield Admitting(Ingest(client, settings), backlog, group)


async def _commit_to_end(settings: Settings, group: str) -> None:
    """What a caught-up media processor leaves behind: the group at the log end."""
    ends = await end_offsets(settings, MEDIA_UPLOADED.name)
    consumer = kafka.consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit({TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(o, "")
                               for tp, o in ends.items()})
    finally:
        await consumer.stop()


async def _until_known(backlog: Backlog) -> None:
    for _ in range(100):
        if backlog.lag is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the backlog was never read from Kafka")


async def test_full_backlog_refuses_with_retry_after_and_stores_nothing(
        admitting: Admitting) -> None:
    ingest, user = admitting.ingest, await registered_user()
    await _until_known(admitting.backlog)
    first = await upload(ingest, user, jpeg_bytes())
    second = await upload(ingest, user, jpeg_bytes())
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    limit = admitting.backlog.limit
    assert first.json()["queued_ahead"] == limit - 2
    assert second.json()["queued_ahead"] == limit - 1

    before = await end_offsets(ingest.settings, MEDIA_UPLOADED.name)
    refused = await upload(ingest, user, jpeg_bytes())
    assert_problem(refused, 503)
    body: dict[str, Any] = refused.json()
    assert body["type"].endswith("/backlog-full")
    assert body["queued"] >= limit and body["limit"] == limit
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert await end_offsets(ingest.settings, MEDIA_UPLOADED.name) == before, \
        "a refused upload must publish nothing"
    health = (await ingest.client.get("/healthz")).json()
    assert "refusing uploads" in health["detail"], health


async def test_admission_reopens_once_the_processors_catch_up(admitting: Admitting) -> None:
    ingest, user = admitting.ingest, await registered_user()
    await _until_known(admitting.backlog)
    for _ in range(2):
        assert (await upload(ingest, user, jpeg_bytes())).status_code == 202
    await asyncio.sleep(0.5)  # a refresh has seen both
    assert_problem(await upload(ingest, user, jpeg_bytes()), 503)

    await _commit_to_end(ingest.settings, admitting.group)
    for _ in range(50):
        await asyncio.sleep(0.1)
        if (admitting.backlog.lag or 0) == 0:
            break
    again = await upload(ingest, user, jpeg_bytes())
    assert again.status_code == 202, again.text
    assert again.json()["queued_ahead"] == 0
