"""``photostream run``: one supervisor process for the chosen services, each a child process.

Why child processes and not tasks in one loop: a crash (or a memory leak, or a wedged
C extension) in one service must not take the others down, and each child is exactly
the command an operator would run alone (``photostream ingest``, ``photostream process
media``), so what runs under the supervisor is what scales out elsewhere.

* **Restart with backoff.** A child that exits while we are not stopping is restarted
  after 1 s, 2 s, 4 s ... up to ``max_backoff`` (reset once it has run ``stable_after``
  seconds), and every restart is logged with the exit code, so a crash loop is visible
  and cheap rather than silent or a busy spin.
* **Ordered stop.** On SIGTERM/SIGINT, services stop in :attr:`ServiceSpec.order`: the
  HTTP front doors first (no new uploads or reads; uvicorn finishes the requests in
  flight and flushes the Kafka producer), then the processors (each finishes its batch,
  flushes its outputs and commits its offsets, see ``processors/runtime.py``). A child
  still running after ``stop_timeout`` is killed, and the exit code says so (1).
  Children run in their own sessions so a terminal's Ctrl-C reaches only the
  supervisor, which then stops them in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from operate.services import ServiceSpec

log = logging.getLogger("photostream.supervisor")

#: Exit codes that mean "stopped as asked": 0, or death by the signal we sent, which is
#: how uvicorn ends after a graceful shutdown (it re-raises the signal; systemd counts
#: it as success for the same reason).
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


@dataclass
class Child:
    spec: ServiceSpec
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    """Consecutive quick exits: the exponent of the backoff."""
    clean: bool = True
    """False if the child had to be killed at shutdown or exited with an error then."""
    history: list[int] = field(default_factory=list)
    """Pids of every run, oldest first (for operators' logs and tests)."""


class Supervisor:
    def __init__(self, specs: list[ServiceSpec], *, backoff: float = 1.0,
                 max_backoff: float = 30.0, stable_after: float = 60.0,
                 stop_timeout: float = 45.0) -> None:
        self.children = [Child(s) for s in specs]
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.stopping = asyncio.Event()

    async def _spawn(self, child: Child) -> None:
        child.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "operate.cli", *child.spec.argv,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        child.started_at = time.monotonic()
        child.history.append(child.proc.pid)
        log.info("started %s (pid %d): photostream %s", child.spec.name, child.proc.pid,
                 " ".join(child.spec.argv))

    async def _watch(self, child: Child) -> None:
        """Restart ``child`` whenever it exits, until the supervisor stops."""
        while not self.stopping.is_set():
            assert child.proc is not None
            code = await child.proc.wait()
            if self.stopping.is_set():
                return
            ran = time.monotonic() - child.started_at
            child.failures = 0 if ran >= self.stable_after else child.failures + 1
            delay = min(self.max_backoff, self.backoff * 2 ** max(0, child.failures - 1))
            child.restarts += 1
            log.warning("%s (pid %d) exited with code %s after %.1fs; restarting in %.1fs "
                        "(restart %d)", child.spec.name, child.proc.pid, code, ran, delay,
                        child.restarts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            await self._spawn(child)

    async def _stop(self, child: Child) -> None:
        proc = child.proc
        if proc is None or proc.returncode is not None:
            return
        log.info("stopping %s (pid %d)", child.spec.name, proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), self.stop_timeout)
        except TimeoutError:
            log.error("%s (pid %d) still running %.0fs after SIGTERM; killing it",
                      child.spec.name, proc.pid, self.stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            child.clean = False
            return
        child.clean = code in CLEAN_EXITS
        log.info("%s stopped (exit %d)", child.spec.name, code)

    async def stop(self) -> None:
        """Stop children group by group, lowest ``order`` first (see the module docstring)."""
        self.stopping.set()
        for order in sorted({c.spec.order for c in self.children}):
            await asyncio.gather(*(self._stop(c) for c in self.children
                                   if c.spec.order == order))

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Start every child (highest ``order`` first), supervise, stop on a signal."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stopping.set)
        watchers = []
        try:
            for child in sorted(self.children, key=lambda c: -c.spec.order):
                await self._spawn(child)
                watchers.append(asyncio.create_task(self._watch(child)))
            await self.stopping.wait()
            log.info("supervisor: stopping %s", ", ".join(c.spec.name for c in sorted(
                self.children, key=lambda c: c.spec.order)))
        finally:
            await self.stop()
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        dirty = [c.spec.name for c in self.children if not c.clean]
        if dirty:
            log.error("supervisor: %s did not stop cleanly", ", ".join(dirty))
            return 1
        log.info("supervisor: every service stopped cleanly")
        return 0
