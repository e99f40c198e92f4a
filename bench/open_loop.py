"""Open-loop load with vegeta: a fixed arrival rate, latency from the scheduled send time.

Why open loop: a closed-loop client (N connections, each sending its next request when
the last returns) slows down exactly when the server does, so a stall delays the
requests that would have measured it and the percentiles look good ("coordinated
omission"). Here request ``i`` is due at ``start + i / rate`` whatever happened before;
its latency counts from that instant, so time it spent waiting to be sent (vegeta out of
workers, the box out of CPU) counts against the server too.

Vegeta (Go) drives the load because on a 2-core box the client shares the CPU with the
server: it costs a fraction of a Python client's CPU per request.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class Run:
    """One open-loop run: latencies from the scheduled send times, and status codes."""

    rate: float
    seconds: float
    latencies_ms: list[float]
    codes: dict[int, int] = field(default_factory=dict)
    #: API process CPU seconds (all workers) spent during the run.
    cpu_seconds: float = 0.0

    def pct(self, q: float, code: int | None = None) -> float:
        values = self.latencies_ms if code is None else self._of(code)
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    @property
    def ok(self) -> int:
        return self.codes.get(200, 0) + self.codes.get(304, 0)

    def cpu_ms_per_ok(self) -> float:
        return 1000 * self.cpu_seconds / max(self.ok, 1)

    def line(self, label: str) -> str:
        codes = " ".join(f"{c}:{n}" for c, n in sorted(self.codes.items()))
        return (f"  {label:<40} {self.rate:>6.0f}/s  p50 {self.pct(0.5):>8.2f} ms  "
                f"p99 {self.pct(0.99):>8.2f} ms  max {self.pct(1.0):>8.1f} ms  [{codes}]")

    def _of(self, code: int) -> list[float]:
        return [lat for lat, c in zip(self.latencies_ms, self._code_list, strict=True)
                if c == code]

    _code_list: list[int] = field(default_factory=list)


def attack(binary: Path, targets: Path, rate: float, seconds: float, out: Path,
           cpu_pids: list[int] | None = None) -> Run:
    """``rate`` requests/s for ``seconds`` from ``targets`` (cycled); no body captured."""
    before = cpu_seconds(cpu_pids or [])
    subprocess.run([str(binary), "attack", "-format=json", f"-targets={targets}",
                    f"-rate={rate:.0f}/s", f"-duration={seconds}s", "-workers=64",
                    "-max-workers=10000", "-keepalive=true", "-timeout=10s", "-max-body=0",
                    f"-output={out}"], check=True)
    spent = cpu_seconds(cpu_pids or []) - before
    encoded = subprocess.run([str(binary), "encode", "-to=json", str(out)],
                             capture_output=True, check=True, text=True)
    results = [json.loads(line) for line in encoded.stdout.splitlines() if line]
    results.sort(key=lambda r: r["seq"])
    run = Run(rate, seconds, [], cpu_seconds=spent)
    if not results:
        return run
    start = _ns(results[0]["timestamp"])
    interval = 1e9 / rate
    for r in results:
        due = start + r["seq"] * interval
        sent = _ns(r["timestamp"])
        run.latencies_ms.append((sent - due + r["latency"]) / 1e6)
        code = int(r["code"])
        run.codes[code] = run.codes.get(code, 0) + 1
        run._code_list.append(code)
    return run


def _ns(stamp: str) -> int:
    """Nanoseconds since the epoch of vegeta's RFC 3339 (nanosecond) timestamp."""
    main, _, rest = stamp.partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())
    zone = rest[len(digits):] if rest else main[19:]
    whole = datetime.fromisoformat(main[:19] + (zone.replace("Z", "+00:00") or "+00:00"))
    return int(whole.timestamp()) * 1_000_000_000 + int((digits or "0").ljust(9, "0")[:9])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (those still alive)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def load() -> str:
    """The box's load averages (1, 5, 15 min) and core count, to print beside figures."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"
