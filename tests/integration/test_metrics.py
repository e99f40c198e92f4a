"""Prometheus metrics and probes against the real stack: counters move by exactly the batch.

The processor test runs a throw-away processor (its own group and test topic) through the
real runtime, scraping ``/metrics`` over HTTP before and after a known batch: N valid
events, M invalid records and one event the handler always rejects.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.scratch import fresh_topic
from infra.connect import kafka
from infra.settings import Settings
from operate.stack.base import free_port
from processors.runtime import Message, Processor, run_processors
from schemas.engagement import LikeAdded
from schemas.envelope import encode, make
from tests.support.accounts import registered_user
from tests.support.images import jpeg_bytes

from .test_ingest import _running, auth

pytestmark = pytest.mark.stack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_ingest_metrics_count_requests_by_route_and_status_and_upload_bytes(
        stack: Settings) -> None:
    photos = [jpeg_bytes(64 + i, 48) for i in range(3)]
    async for ingest in _running(stack):
        client = ingest.client
        before = parse((await client.get("/metrics")).text)
        user = await registered_user()
        for data in photos:
            r = await client.post("/v1/media", headers=auth(stack, user),
                                  files={"file": ("p.jpg", data, "image/jpeg")})
            assert r.status_code == 202, r.text
        assert (await client.post("/v1/media", files={"file": ("p.jpg", photos[0])})
                ).status_code == 401
        assert (await client.get("/no/such/route")).status_code == 404
        response = await client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        after = parse(response.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"service": "ingest", "method": "POST", "route": "/v1/media"}
    assert delta("photostream_http_request_seconds_count", **route, status="202") == 3
    assert delta("photostream_http_request_seconds_count", **route, status="401") == 1
    assert delta("photostream_http_request_seconds_count", service="ingest", method="GET",
                 route="(unmatched)", status="404") == 1
    # Multipart framing adds a few hundred bytes per request to the file itself.
    received = delta("photostream_http_request_bytes_sum", **route)
    assert sum(map(len, photos)) < received
    assert received < sum(map(len, photos)) + 4 * 1000
    assert delta("photostream_http_request_bytes_count", **route) == 3


@pytest.fixture
async def test_topic(stack: Settings) -> AsyncIterator[str]:
    async with fresh_topic(stack, "test-metrics", 2) as name:
        yield name


REJECTED_PHOTO = 424242


def counting_processor(topic: str, batched: bool = False) -> type[Processor]:
    class Counting(Processor):
        name: ClassVar[str] = f"test-metrics-{uuid.uuid4().hex[:10]}"
        topics: ClassVar[tuple[str, ...]] = (topic,)

        async def handle(self, message: Message) -> None:
            if message.event.payload.photo_id == REJECTED_PHOTO:
                raise ValueError("this photo is always rejected")

    Counting.batched = batched
    return Counting


@pytest.mark.parametrize("batched", [False, True], ids=["per-event", "batched"])
async def test_processor_metrics_move_by_exactly_the_batch(
        stack: Settings, test_topic: str, batched: bool) -> None:
    """A batched processor (``handle_run``) whose run holds one poison event falls back
    to one event at a time: the poison is dead-lettered after its attempts, every other
    event is processed, and the counters say exactly that, as for a per-event one."""
    cls = counting_processor(test_topic, batched)
    processor = cls(stack)
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(run_processors([processor], stack,
                                              install_signal_handlers=False,
                                              metrics_port=port, stop=stop))
    base = f"http://127.0.0.1:{port}"
    valid, invalid = 7, 2
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert (await client.get("/healthz")).json()["status"] == "ok"
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text

            producer = kafka.producer(stack)
            await producer.start()
            try:
                for i in range(valid):
                    like = LikeAdded(photo_id=1000 + i, user_id=1, owner_id=2)
                    await producer.send_and_wait(test_topic, encode(make(like, producer="t")),
                                                 key=str(i).encode())
                bad = LikeAdded(photo_id=REJECTED_PHOTO, user_id=1, owner_id=2)
                await producer.send_and_wait(test_topic, encode(make(bad, producer="t")),
                                             key=b"bad")
                for i in range(invalid):
                    await producer.send_and_wait(test_topic, b"{not json", key=f"x{i}".encode())
            finally:
                await producer.stop()

            labels = {"processor": cls.name, "topic": test_topic}
            samples: Samples = {}
            for _ in range(300):
                samples = parse((await client.get("/metrics")).text)
                done = (value(samples, "photostream_events_processed_total", **labels,
                              type="like.added")
                        + value(samples, "photostream_events_dead_lettered_total", **labels,
                                type="like.added")
                        + value(samples, "photostream_events_dead_lettered_total", **labels,
                                type="invalid"))
                lag = sum(v for (n, ls), v in samples.items()
                          if n == "photostream_consumer_lag"
                          and ("processor", cls.name) in ls)
                if done >= valid + 1 + invalid and lag == 0:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)

    def v(name: str, etype: str) -> float:
        return value(samples, name, **labels, type=etype)

    assert v("photostream_events_consumed_total", "like.added") == valid + 1
    assert v("photostream_events_consumed_total", "invalid") == invalid
    assert v("photostream_events_processed_total", "like.added") == valid
    assert v("photostream_events_failed_total", "like.added") == 3  # max_attempts
    assert v("photostream_events_dead_lettered_total", "like.added") == 1
    assert v("photostream_events_dead_lettered_total", "invalid") == invalid
    assert v("photostream_processing_seconds_count", "like.added") == valid + 1
    lags = {dict(ls)["partition"]: val for (n, ls), val in samples.items()
            if n == "photostream_consumer_lag" and ("processor", cls.name) in ls}
    assert lags == {"0": 0.0, "1": 0.0}
    assert value(samples, "photostream_commits_total", processor=cls.name, outcome="ok") >= 1
