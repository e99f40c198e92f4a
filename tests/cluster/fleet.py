"""Service processes for the cluster tests: started, SIGKILLed and scraped by name.

Each copy is a real ``photostream`` sub-command in its own session (so a SIGKILL takes
exactly that copy), with its own /metrics port, so a test can count what each copy did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from operate.processes import stop_processes
from operate.stack.base import free_port


@dataclass
class Copy:
    name: str
    proc: asyncio.subprocess.Process
    port: int

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None


@dataclass
class Fleet:
    """The service copies of one test; ``close`` SIGTERMs whatever is still alive."""

    env: dict[str, str]
    log_dir: Path
    copies: dict[str, Copy] = field(default_factory=dict)

    async def start(self, name: str, *args: str, port: int | None = None) -> Copy:
        exe = str(Path(sys.executable).with_name("photostream"))
        port = port or free_port()
        argv = list(args)
        if args[0] == "process":
            argv += ["--metrics-port", str(port)]
        elif args[0] == "api":
            argv += ["--port", str(port)]
        env = {**self.env, "PHOTOSTREAM_INGEST_PORT": str(port)} if args[0] == "ingest" \
            else self.env
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                exe, *argv, env=env, stdout=log, stderr=log, start_new_session=True)
        copy = self.copies[name] = Copy(name, proc, port)
        await eventually(f"{name} ready", lambda: self._ready(copy), timeout=120)
        return copy

    async def _ready(self, copy: Copy) -> bool:
        if not copy.alive:
            raise AssertionError(f"{copy.name} exited ({copy.proc.returncode}); see "
                                 f"{self.log_dir / (copy.name + '.log')}")
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"http://127.0.0.1:{copy.port}/readyz")).is_success
        return False

    def kill(self, name: str) -> None:
        """SIGKILL: no drain, no commit, no goodbye to the group coordinator."""
        os.killpg(self.copies[name].proc.pid, signal.SIGKILL)

    async def metric(self, name: str, metric: str, **labels: str) -> float:
        """Sum of ``metric`` samples of one copy matching ``labels`` (0 if absent)."""
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"http://127.0.0.1:{self.copies[name].port}/metrics")).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(metric + "{") and not line.startswith(metric + " "):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    async def close(self) -> None:
        await stop_processes([c.proc for c in self.copies.values() if c.alive], group=True)


async def eventually(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 120,
                     interval: float = 0.25) -> float:
    """Poll ``check`` until true; returns the seconds it took, fails naming ``what``."""
    began = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - began
        except AssertionError:
            raise
        except Exception:  # a node is down: the check itself may fail for a while
            pass
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not true within {timeout:.0f}s: {what}")
        await asyncio.sleep(interval)


async def upload(client: httpx.AsyncClient, token: str, data: bytes,
                 caption: str) -> httpx.Response:
    return await client.post("/v1/media", headers={"Authorization": f"Bearer {token}"},
                             files={"file": ("photo.jpg", data, "image/jpeg")},
                             data={"caption": caption})
