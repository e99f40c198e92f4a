"""``photostream run`` against the real stack: restart after a kill, clean ordered stop.

The supervised service is the ingest service on a free port (it consumes nothing, so
no processor group of the shared stack is disturbed). Logs are JSON, so the test reads
the supervisor's own lines (pids, restarts) and checks that every line parses.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from infra.settings import REPO_ROOT, Settings
from operate.stack.base import free_port
from schemas.envelope import decode
from schemas.media import PhotoUploaded
from schemas.topics import MEDIA_UPLOADED
from tests.support.accounts import registered_user
from tests.support.images import jpeg_bytes

from .kafka_tail import end_offsets, records_since
from .test_ingest import auth

pytestmark = pytest.mark.stack


class Supervised:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.lines: list[dict[str, object]] = []
        self.raw: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            text = raw.decode().rstrip("\n")
            self.raw.append(text)
            self.lines.append(json.loads(text))  # every line must be JSON

    def pids(self) -> list[int]:
        return [int(str(m["message"]).split("(pid ")[1].split(")")[0]) for m in self.lines
                if str(m.get("message", "")).startswith("started ingest")]

    async def until(self, predicate, timeout: float = 60.0) -> None:
        async def wait() -> None:
            while not predicate():
                if self._reader.done():
                    self._reader.result()
                    raise AssertionError("supervisor output ended:\n" + "\n".join(self.raw))
                await asyncio.sleep(0.1)
        await asyncio.wait_for(wait(), timeout)

    async def healthy(self, timeout: float = 60.0) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            async def up() -> None:
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{self.port}/healthz")
                                ).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            await asyncio.wait_for(up(), timeout)


async def start(stack: Settings) -> Supervised:
    port = free_port()
    env = {**os.environ, "PHOTOSTREAM_LOG_FORMAT": "json",
           "PHOTOSTREAM_INGEST_PORT": str(port), "PHOTOSTREAM_STATE_DIR":
           str(stack.stack.state_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", "run", "ingest", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Supervised(proc, port)


async def slow_body(data: bytes, first_sent: asyncio.Event) -> AsyncIterator[bytes]:
    """A multipart body sent in pieces, the rest only after the test has sent SIGTERM."""
    boundary = "photostream-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    yield head + data[:100]
    first_sent.set()
    await asyncio.sleep(1.5)
    yield data[100:] + f"\r\n--{boundary}--\r\n".encode()


async def test_supervisor_restarts_a_killed_child_and_stops_cleanly_mid_upload(
        stack: Settings) -> None:
    sup = await start(stack)
    try:
        await sup.until(lambda: len(sup.pids()) == 1)
        await sup.healthy()
        os.kill(sup.pids()[0], signal.SIGKILL)
        await sup.until(lambda: any("restarting in" in str(m["message"]) for m in sup.lines))
        await sup.until(lambda: len(sup.pids()) == 2)
        await sup.healthy()
        restart = next(m for m in sup.lines if "restarting in" in str(m["message"]))
        assert restart["level"] == "WARNING" and "code -9" in str(restart["message"])
        status = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "operate.cli", "status", cwd=REPO_ROOT,
            env={**os.environ, "PHOTOSTREAM_INGEST_PORT": str(sup.port)},
            stdout=asyncio.subprocess.PIPE)
        table = (await asyncio.wait_for(status.communicate(), 60))[0].decode()
        assert status.returncode == 0
        [ingest_row] = [r for r in table.splitlines() if r.startswith("ingest ")]
        assert ingest_row.split()[1] == "up" and f":{sup.port}/healthz" in ingest_row
        assert "photostream.deadletters" in table and "photostream-media" in table

        # SIGTERM while an upload is half sent: it must still be accepted and published.
        before = await end_offsets(stack, MEDIA_UPLOADED.name)
        user, data, first_sent = await registered_user(), jpeg_bytes(800, 600), asyncio.Event()
        async with httpx.AsyncClient(timeout=60) as client:
            upload = asyncio.create_task(client.post(
                f"http://127.0.0.1:{sup.port}/v1/media", content=slow_body(data, first_sent),
                headers={**auth(stack, user), "Content-Type":
                         "multipart/form-data; boundary=photostream-test-boundary"}))
            await asyncio.wait_for(first_sent.wait(), 30)
            await asyncio.sleep(0.3)
            sup.proc.send_signal(signal.SIGTERM)
            response = await upload
        assert response.status_code == 202, response.text
        photo_id = int(response.json()["photo_id"])
        code = await asyncio.wait_for(sup.proc.wait(), 90)
        await sup._reader
    finally:
        if sup.proc.returncode is None:
            sup.proc.kill()
    assert code == 0, "\n".join(sup.raw)
    messages = [str(m["message"]) for m in sup.lines]
    assert "ingest stopped (exit 0)" in messages
    assert messages[-1] == "supervisor: every service stopped cleanly"
    assert {m["service"] for m in sup.lines} >= {"run", "ingest"}
    assert all({"timestamp", "level", "service", "message"} <= m.keys() for m in sup.lines)
    events = [decode(r.value) for r in await records_since(stack, before)]
    assert [e.payload.photo_id for e in events if isinstance(e.payload, PhotoUploaded)
            and e.payload.photo_id == photo_id] == [photo_id]
