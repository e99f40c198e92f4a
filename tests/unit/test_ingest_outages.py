"""An unreachable Kafka, MinIO or Cassandra is a 503 naming it, with the same shape from
every ingest route (the handlers of producers/ingest/outages.py)."""

from __future__ import annotations

import httpx
import pytest
from cassandra import InvalidRequest, OperationTimedOut
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown
from fastapi import FastAPI

from infra.connect.publisher import PublishError
from producers.ingest import outages
from producers.ingest.storage import StorageUnavailable


@pytest.mark.parametrize(("error", "detail"), [
    (StorageUnavailable("object store: put failed: refused"), "object store: put failed: refused"),
    (PublishError("media.uploaded", TimeoutError("no ack")),
     "event log: could not publish to media.uploaded: no ack"),
    (NoHostAvailable("none left", {}), "database: NoHostAvailable: ('none left', {})"),
    (OperationTimedOut("slow node"),
     "database: OperationTimedOut: errors=slow node, last_host=None"),
    (ConnectionShutdown("closed"), "database: ConnectionShutdown: closed"),
    # Not an outage but a bug of ours; ingest has always answered it 503 too.
    (InvalidRequest("bad statement"), "database: InvalidRequest: bad statement"),
])
async def test_each_backend_error_is_a_503_to_retry(error: Exception, detail: str) -> None:
    app = FastAPI()
    outages.install(app)

    @app.post("/write")
    async def write() -> None:
        raise error

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/write")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "type": "https://photostream.dev/problems/service-unavailable",
        "title": "Service Unavailable", "status": 503, "detail": detail}
