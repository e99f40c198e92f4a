"""``Service.stop`` returns only when the service's ports can be bound again.

A real process group stands in for a server: a leader that exits at once on SIGTERM and
a child in its group that keeps the listening socket for a second more (as a JVM thread
or a forked helper does). Before the fix, ``stop`` returned when the leader was gone.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from infra.settings import Settings, StackSettings
from operate.stack.base import Service, Tool, free_port, port_bindable

SERVER = r"""
import os, signal, socket, sys, time
port = int(sys.argv[1])
if os.fork() == 0:  # the child holds the port and exits a second after SIGTERM
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen()
    signal.signal(signal.SIGTERM, lambda *a: (time.sleep(1.0), os._exit(0)))
    while True: time.sleep(1)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # the leader exits at once
while True: time.sleep(1)
"""


class Lingering(Service):
    name = "lingering"

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(settings)
        self.port = port

    def tools(self) -> list[Tool]:
        return []

    def ports(self) -> dict[str, int]:
        return {"api": self.port}

    async def install(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def command(self) -> list[str]:
        return [sys.executable, "-c", SERVER, str(self.port)]

    async def probe(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


async def test_stop_waits_until_every_port_is_free(tmp_path: Path) -> None:
    settings = Settings(stack=StackSettings(state_dir=tmp_path, cache_dir=tmp_path / "c"))
    svc = Lingering(settings, free_port())
    assert await svc.start()
    await svc.wait_ready(timeout=20)
    assert not port_bindable(svc.port)
    began = time.monotonic()
    assert await svc.stop()
    assert port_bindable(svc.port), "stop returned while the port was still taken"
    assert time.monotonic() - began >= 0.5  # it really waited for the lingering child
    assert not svc.is_running()


def test_progress_of_maven_and_go_steps_is_summarised() -> None:
    from operate.stack.base import describe_progress

    maven = ("[INFO] Scanning for projects...\n"
             "Downloading from central: https://repo/x.jar\n"
             "Downloaded from central: https://repo/x.jar (1.5 MB at 3 MB/s)\n"
             "Downloaded from central: https://repo/y.pom (500 kB at 1 MB/s)\n")
    assert describe_progress(maven).startswith("2 downloaded (2.0 MB)")
    go = "go: downloading github.com/minio/minio v0\ngithub.com/a/b\ngithub.com/a/c\n"
    assert describe_progress(go) == "1 downloaded; 2 build steps; last: github.com/a/c"
    assert describe_progress("") == "no output yet"
