"""CPU time per component of the local stack, read from ``/proc`` (Linux).

Why a benchmark needs it: on one box the servers (Kafka, Cassandra, MinIO, Redis), the
services and the render workers share the same cores, so the pipeline's rate is the
cores divided by the CPU *all* of them spend per photo. Printing that split per photo
says measurably what limits the rate, instead of guessing.

Processes are classified by their command line; children of the media processor's
process pool count as ``render workers``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

#: (label, substring of the command line), first match wins.
ROLES: tuple[tuple[str, str], ...] = (
    ("render workers", "multiprocessing"),
    ("kafka", "kafka.Kafka"),
    ("cassandra", "CassandraDaemon"),
    ("minio", "minio server"),
    ("redis", "redis-server"),
    ("ingest service", " ingest"),  # `photostream ingest` or `python -m operate.cli ingest`
    ("media processor", "process media"),
    ("metadata/graph/fan-out processors", "process metadata"),
    ("bench client", "bench."),
)

_TICKS = os.sysconf("SC_CLK_TCK")


def classify(cmdline: str) -> str | None:
    """The role of a process with this command line, or None if it is not ours."""
    for label, needle in ROLES:
        if needle in cmdline:
            return label
    return None


def _snapshot() -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds so far) for every process of the stack."""
    found: dict[int, tuple[str, float]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        role = classify(cmdline)
        if role is not None:
            found[int(proc.name)] = (role, (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


@dataclass
class CpuMeter:
    """CPU seconds each role spent between :meth:`start` and :meth:`stop`."""

    began: dict[int, tuple[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    _t0: float = 0.0

    def start(self) -> None:
        self.began, self._t0 = _snapshot(), time.monotonic()

    def stop(self) -> None:
        ended, self.wall = _snapshot(), time.monotonic() - self._t0
        self.seconds = {}
        for pid, (role, cpu) in ended.items():
            spent = cpu - self.began.get(pid, (role, 0.0))[1]
            self.seconds[role] = self.seconds.get(role, 0.0) + spent

    def by_cost(self) -> list[tuple[str, float]]:
        return sorted(self.seconds.items(), key=lambda item: -item[1])

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
