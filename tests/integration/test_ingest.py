"""The ingest service end to end against the real stack (Kafka, MinIO, Cassandra).

The app runs in-process (httpx ASGITransport, lifespan entered by hand); everything it
talks to is a real server. Kafka checks read exactly the records appended during a test
(end offsets snapshotted before), so "exactly one event" means exactly one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cassandra.cluster import Session
from minio import Minio

from infra.http.auth import mint
from infra.http.problems import PROBLEM_JSON
from infra.settings import AuthSettings, S3Settings, Settings
from producers.ingest import create_app
from producers.ingest.claims import idempotency_claim
from schemas.envelope import decode
from schemas.ids import IdGenerator
from schemas.media import PhotoUploaded
from schemas.topics import MEDIA_UPLOADED
from tests.support.accounts import registered_user
from tests.support.images import jpeg_bytes

from .kafka_tail import end_offsets, records_since

pytestmark = pytest.mark.stack


def auth(settings: Settings, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(user_id, settings)}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


@dataclasses.dataclass
class Ingest:
    client: httpx.AsyncClient
    settings: Settings


async def _running(settings: Settings) -> AsyncIterator[Ingest]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest",
                                     timeout=60) as client:
            yield Ingest(client, settings)


@pytest.fixture(scope="module")
async def ingest(stack: Settings) -> AsyncIterator[Ingest]:
    async for running in _running(stack):
        yield running


@pytest.fixture(scope="module")
async def small_ingest(stack: Settings) -> AsyncIterator[Ingest]:
    """An ingest whose size limit is 4 KiB (a Settings copy, nothing global changes)."""
    small = dataclasses.replace(stack, ingest=dataclasses.replace(stack.ingest,
                                                                  max_upload_bytes=4096))
    async for running in _running(small):
        yield running


async def upload(ingest: Ingest, user: int, data: bytes, *, name: str = "photo.jpg",
                 key: str | None = None, **fields: str) -> httpx.Response:
    headers = auth(ingest.settings, user)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await ingest.client.post("/v1/media", headers=headers, data=fields,
                                    files={"file": (name, data, "image/jpeg")})


def uploaded_events(records: list, photo_id: int) -> list:
    events = [decode(r.value) for r in records]
    return [e for e in events if isinstance(e.payload, PhotoUploaded)
            and e.payload.photo_id == photo_id]


def read_object(s3: Minio, settings: Settings, key: str) -> bytes:
    response = s3.get_object(settings.s3.originals_bucket, key)
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


async def test_upload_is_stored_published_and_recorded(
    ingest: Ingest, s3_client: Minio, cassandra_session: Session
) -> None:
    settings, user, original = ingest.settings, await registered_user(), jpeg_bytes()
    before = await end_offsets(settings, MEDIA_UPLOADED.name)

    response = await upload(ingest, user, original, caption="sunset", title="Evening",
                            location="Lisbon")

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "processing"
    assert isinstance(body["photo_id"], str)
    photo_id = int(body["photo_id"])
    key = f"originals/{photo_id}"
    assert read_object(s3_client, settings, key) == original

    records = await records_since(settings, before)
    (event,) = uploaded_events(records, photo_id)
    (record,) = [r for r in records if decode(r.value).event_id == event.event_id]
    assert record.key == str(photo_id).encode()
    payload = event.payload
    assert isinstance(payload, PhotoUploaded)
    assert (payload.owner_id, payload.object_key, payload.content_type, payload.media_kind) == (
        user, key, "image/jpeg", "photo")
    assert payload.size_bytes == len(original)
    assert (payload.caption, payload.title, payload.location) == ("sunset", "Evening", "Lisbon")

    row = cassandra_session.execute(
        "SELECT owner_id, status, original_key FROM photos WHERE photo_id = %s", (photo_id,)
    ).one()
    assert row == {"owner_id": user, "status": "processing", "original_key": key}


async def test_idempotency_key_retry_creates_nothing_new(
    ingest: Ingest, s3_client: Minio
) -> None:
    settings, user, original = ingest.settings, await registered_user(), jpeg_bytes(80, 60)
    before = await end_offsets(settings, MEDIA_UPLOADED.name)

    first = await upload(ingest, user, original, key="retry-1")
    again = await upload(ingest, user, original, key="retry-1")
    concurrent = await asyncio.gather(
        *(upload(ingest, user, original, key="retry-2") for _ in range(3)))

    assert first.status_code == again.status_code == 202
    assert first.json()["photo_id"] == again.json()["photo_id"]
    assert {r.status_code for r in concurrent} == {202}
    assert len({r.json()["photo_id"] for r in concurrent}) == 1
    records = await records_since(settings, before)
    for photo_id in (int(first.json()["photo_id"]), int(concurrent[0].json()["photo_id"])):
        assert len(uploaded_events(records, photo_id)) == 1
        objects = list(s3_client.list_objects(settings.s3.originals_bucket,
                                              prefix=f"originals/{photo_id}"))
        assert [o.object_name for o in objects] == [f"originals/{photo_id}"]
    # The key is per user: someone else's identical key is a different upload.
    other = await upload(ingest, await registered_user(), original, key="retry-1")
    assert other.status_code == 202
    assert other.json()["photo_id"] != first.json()["photo_id"]


async def test_retry_completes_an_attempt_that_crashed_after_claiming(
    ingest: Ingest, s3_client: Minio, cassandra_session: Session
) -> None:
    settings, user, original = ingest.settings, await registered_user(), jpeg_bytes()
    photo_id = IdGenerator(15).next_id(user)
    # What a crashed attempt leaves: a claim (lease long expired), no object, no event.
    cassandra_session.execute(
        "INSERT INTO upload_requests (owner_id, idempotency_key, photo_id, created_at) "
        "VALUES (%s, %s, %s, %s) IF NOT EXISTS",
        (user, idempotency_claim("crashed"), photo_id, datetime.now(UTC) - timedelta(hours=1)),
    )
    before = await end_offsets(settings, MEDIA_UPLOADED.name)

    response = await upload(ingest, user, original, key="crashed")

    assert response.status_code == 202, response.text
    assert response.json()["photo_id"] == str(photo_id)
    assert read_object(s3_client, settings, f"originals/{photo_id}") == original
    assert len(uploaded_events(await records_since(settings, before), photo_id)) == 1


async def test_over_the_limit_is_413_from_content_length(small_ingest: Ingest) -> None:
    response = await upload(small_ingest, await registered_user(), jpeg_bytes() + b"\0" * 100_000)
    body = assert_problem(response, 413)
    assert body["max_bytes"] == 4096


async def test_over_the_limit_is_413_while_streaming(small_ingest: Ingest) -> None:
    """No Content-Length (chunked): the limit is enforced on the bytes as they arrive."""
    request = small_ingest.client.build_request(
        "POST", "/v1/media", files={"file": ("big.jpg", jpeg_bytes() + b"\0" * 10_000)})
    body = request.read()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    headers = {**auth(small_ingest.settings, await registered_user()),
               "content-type": request.headers["content-type"]}
    response = await small_ingest.client.post("/v1/media", headers=headers, content=chunks())
    assert_problem(response, 413)


async def test_text_named_jpg_is_415(ingest: Ingest) -> None:
    text = b"just some text, not a picture\n" * 10
    response = await upload(ingest, await registered_user(), text, name="cat.jpg")
    body = assert_problem(response, 415)
    assert "image/jpeg" in body["accepted"]  # type: ignore[operator]


async def test_non_multipart_body_is_415(ingest: Ingest) -> None:
    response = await ingest.client.post(
        "/v1/media", headers=auth(ingest.settings, await registered_user()), json={"file": "x"})
    assert_problem(response, 415)


async def test_missing_file_and_bad_caption_are_422(ingest: Ingest) -> None:
    headers = auth(ingest.settings, await registered_user())
    no_file = await ingest.client.post("/v1/media", headers=headers,
                                       files={"caption": (None, b"hello")})
    assert_problem(no_file, 422)
    long_caption = await upload(ingest, await registered_user(), jpeg_bytes(), caption="x" * 2201)
    body = assert_problem(long_caption, 422)
    assert body["field"] == "caption"


async def test_missing_bad_and_expired_tokens_are_401(ingest: Ingest) -> None:
    files = {"file": ("a.jpg", jpeg_bytes(), "image/jpeg")}
    missing = await ingest.client.post("/v1/media", files=files)
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")

    forged_settings = dataclasses.replace(
        ingest.settings, auth=AuthSettings(jwt_secret="not-the-secret-of-this-deployment!!"))
    forged = await ingest.client.post(
        "/v1/media", files=files, headers=auth(forged_settings, 1))
    assert_problem(forged, 401)
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]

    expired_token = mint(1, ingest.settings, ttl_seconds=60, now=time.time() - 3600)
    expired = await ingest.client.post(
        "/v1/media", files=files, headers={"Authorization": f"Bearer {expired_token}"})
    assert "expired" in str(assert_problem(expired, 401)["detail"])
    assert expired.headers["www-authenticate"].startswith("Bearer")


async def test_presigned_upload_end_to_end(ingest: Ingest, s3_client: Minio) -> None:
    settings, user, original = ingest.settings, await registered_user(), jpeg_bytes(120, 90)
    headers = auth(settings, user)
    before = await end_offsets(settings, MEDIA_UPLOADED.name)

    started = await ingest.client.post("/v1/media/uploads", headers=headers)
    assert started.status_code == 201, started.text
    grant = started.json()
    photo_id = int(grant["photo_id"])
    commit_url = grant["commit_url"]
    assert commit_url == f"/v1/media/uploads/{photo_id}/commit"

    too_early = await ingest.client.post(commit_url, headers=headers, json={})
    assert_problem(too_early, 409)

    async with httpx.AsyncClient(timeout=30) as direct:
        put = await direct.put(grant["upload_url"], content=original)
    assert put.status_code == 200, put.text

    stranger = await ingest.client.post(commit_url, headers=auth(settings, await registered_user()),
                                        json={})
    assert_problem(stranger, 404)

    committed = await ingest.client.post(commit_url, headers=headers,
                                         json={"caption": "direct", "location": "Porto"})
    assert committed.status_code == 202, committed.text
    accepted = committed.json()
    assert (accepted["photo_id"], accepted["status"]) == (str(photo_id), "processing")
    assert isinstance(accepted["queued_ahead"], int)  # the queue it joined, told honestly
    recommit = await ingest.client.post(commit_url, headers=headers, json={})
    assert recommit.status_code == 202

    (event,) = uploaded_events(await records_since(settings, before), photo_id)
    assert isinstance(event.payload, PhotoUploaded)
    assert event.payload.caption == "direct"
    assert event.payload.location == "Porto"
    assert event.payload.size_bytes == len(original)
    assert read_object(s3_client, settings, f"originals/{photo_id}") == original


async def test_presigned_upload_of_text_is_415_and_removed(
    ingest: Ingest, s3_client: Minio
) -> None:
    headers = auth(ingest.settings, await registered_user())
    grant = (await ingest.client.post("/v1/media/uploads", headers=headers)).json()
    async with httpx.AsyncClient(timeout=30) as direct:
        assert (await direct.put(grant["upload_url"], content=b"hello")).status_code == 200
    assert_problem(await ingest.client.post(grant["commit_url"], headers=headers), 415)
    objects = list(s3_client.list_objects(ingest.settings.s3.originals_bucket,
                                          prefix=f"originals/{grant['photo_id']}"))
    assert objects == []


async def test_minio_down_is_503_and_nothing_is_accepted(
    stack: Settings, cassandra_session: Session
) -> None:
    broken = dataclasses.replace(stack, s3=S3Settings(endpoint="127.0.0.1:1"))
    user = await registered_user()
    before = await end_offsets(stack, MEDIA_UPLOADED.name)
    async for running in _running(broken):
        response = await upload(running, user, jpeg_bytes(), key="down")
        body = assert_problem(response, 503)
        assert body["type"] == "https://photostream.dev/problems/service-unavailable"
        assert str(body["detail"]).startswith("object store: put failed:")
        assert response.headers["retry-after"] == "5"
        ready = await running.client.get("/readyz")
        assert_problem(ready, 503)
        assert ready.json()["checks"]["kafka"] == "ok"
        assert ready.json()["checks"]["minio"] != "ok"
    claim = cassandra_session.execute(
        "SELECT photo_id FROM upload_requests WHERE owner_id = %s AND idempotency_key = %s",
        (user, idempotency_claim("down"))).one()
    photo_id = claim["photo_id"]
    assert cassandra_session.execute(
        "SELECT photo_id FROM photos WHERE photo_id = %s", (photo_id,)).one() is None
    assert uploaded_events(await records_since(stack, before), photo_id) == []


async def test_health_and_readiness(ingest: Ingest) -> None:
    health = (await ingest.client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["detail"].startswith("media backlog"), health
    ready = await ingest.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "minio": "ok", "cassandra": "ok"}
    assert_problem(await ingest.client.get("/v1/nothing-here"), 404)
