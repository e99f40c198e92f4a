"""Stopping service processes we started: signal, wait, then kill.

One way for the demo, the benchmarks and the tests (it lives here, on the operator's
floor, because all three may import it), so none leaves a service running: each process
gets ``sig`` (SIGTERM: drain and commit, as in production), all of them share one
``grace`` period, and whatever still runs after it is SIGKILLed and reaped. With
``group=True`` the signal goes to the process group, for services started with
``start_new_session=True`` whose children (uvicorn workers, render pools) must go too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable

Process = subprocess.Popen[bytes] | asyncio.subprocess.Process


async def stop_processes(procs: Iterable[Process], *, group: bool = False,
                         sig: int = signal.SIGTERM, grace: float = 60.0) -> None:
    """Send ``sig`` to each of ``procs``, wait up to ``grace`` s in all, SIGKILL the rest."""
    procs = list(procs)
    for proc in procs:
        _signal(proc, sig, group)
    deadline = time.monotonic() + grace
    for proc in procs:
        if not await _exited(proc, max(0.0, deadline - time.monotonic())):
            _signal(proc, signal.SIGKILL, group)
            await _exited(proc, None)


def _signal(proc: Process, sig: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone already: nothing to stop
        if group:
            os.killpg(proc.pid, sig)
        elif proc.returncode is None:
            proc.send_signal(sig)


async def _exited(proc: Process, timeout: float | None) -> bool:
    """Wait for (and reap) ``proc``; False if it still runs after ``timeout`` seconds."""
    try:
        if isinstance(proc, subprocess.Popen):
            await asyncio.to_thread(proc.wait, timeout)
        else:
            await asyncio.wait_for(proc.wait(), timeout)
    except (TimeoutError, subprocess.TimeoutExpired):
        return False
    return True
