"""Likes through one engagement process: events/s, CPU and Paxos per event, counts exact.

Run ``python -m bench.engagement [--likes 10000] [--baseline REV]`` against the local
stack. Each scenario publishes ``--likes`` distinct likes, every one of them twice (a
retrying upstream), plus an unlike of every tenth, straight to the likes topic as an
upstream service would (raw records, not through the ingest). One engagement process
(``photostream process engagement``, a subprocess, as in production) then drains them;
the rate is events over the time from the first record published to the group's lag
reaching zero, so it includes the publish itself and is conservative.

Scenarios: ``spread`` (every like on its own photo: no batching per key helps) and
``hot`` (all on one photo: a viral post, where per-event LWTs queue on one partition).

The baseline is the same benchmark against the processor of another git revision
(``--baseline``, default the commit before single-writer counts), checked out in a
temporary worktree and run from it with this venv (``PYTHONPATH``), in the same run.
Printed per implementation and scenario: events/s, processor CPU ms per event,
``system.paxos`` writes per event (Cassandra's own counters), and whether every count
is exact. The wall rate depends on what else the box runs (the load average is
printed); CPU per event does much less, so the rate one processor core sustains
(1 / CPU per event) is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.cassandra_ops import PAXOS_WRITES, table_ops
from bench.synthetic import skip_synthetic
from infra.connect import cassandra
from infra.connect import kafka as kafka_connect
from infra.settings import REPO_ROOT, Settings, get_settings
from operate.ops.lag import consumer_lag
from operate.processes import stop_processes
from operate.stack.base import free_port
from schemas.engagement import LikeAdded, LikeRemoved
from schemas.envelope import encode, make
from schemas.topics import ENGAGEMENT_GROUP, LIKES
from sinks import engagement

TARGET_RATE = 5_000.0
BASELINE_REV = "ada7195"
BASE_ID = 8_000_000_000_000


def _events(scenario: str, likes: int, run: int) -> tuple[list[tuple[bytes, bytes]],
                                                           dict[int, int]]:
    """(key, value) records and the exact like count each photo must end with."""
    base = BASE_ID + run * 10_000_000
    owner = base
    pairs = ([(base + 1 + i, base + 5_000_000 + i) for i in range(likes)] if scenario == "spread"
             else [(base + 1, base + 5_000_000 + i) for i in range(likes)])
    records: list[tuple[bytes, bytes]] = []
    expected: dict[int, int] = {}
    for copy in range(2):
        for i, (photo, user) in enumerate(pairs):
            like = LikeAdded(photo_id=photo, user_id=user, owner_id=owner)
            records.append((str(photo).encode(), encode(make(like, producer="bench"))))
            if copy == 0:
                expected[photo] = expected.get(photo, 0) + 1
            if copy == 1 and i % 10 == 0:
                unlike = LikeRemoved(photo_id=photo, user_id=user, owner_id=owner)
                records.append((str(photo).encode(), encode(make(unlike, producer="bench"))))
                expected[photo] -= 1
    return records, expected


async def _publish(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer: AIOKafkaProducer = kafka_connect.producer(settings, linger_ms=20,
                                                        max_batch_size=512 * 1024)
    await producer.start()
    try:
        sends = [await producer.send(LIKES.name, value, key=key) for key, value in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _lag(settings: Settings) -> int:
    groups = await consumer_lag(settings, [ENGAGEMENT_GROUP.group_id])
    return groups[0].total_lag


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` used so far (from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A temporary worktree of ``rev`` (the baseline's code)."""
    path = Path(tempfile.mkdtemp(prefix="photostream-baseline-"))
    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "-f",
                    str(path), rev], check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force",
                        str(path)], check=False, capture_output=True)


async def _start_processor(code: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", "process", "engagement",
        "--metrics-port", str(free_port()), cwd=str(code), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return proc


async def _wait_idle(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await _lag(settings):
        if time.monotonic() > deadline:
            raise TimeoutError("the engagement group did not catch up")
        await asyncio.sleep(0.25)


async def _exact(settings: Settings, expected: dict[int, int]) -> bool:
    session = await asyncio.to_thread(cassandra.connect, settings)
    try:
        found = await engagement.engagement_counts(session, list(expected))
        return all(found[p][0] == n for p, n in expected.items())
    finally:
        await asyncio.to_thread(session.cluster.shutdown)


async def scenario(settings: Settings, code: Path, name: str, likes: int, run: int
                   ) -> dict[str, float | bool]:
    records, expected = _events(name, likes, run)
    proc = await _start_processor(code)
    session = await asyncio.to_thread(cassandra.connect, settings)
    try:
        await _wait_idle(settings, 120)
        await asyncio.sleep(8)  # joined and assigned (the group's rebalance settles)
        ops0, cpu0 = await table_ops(session), cpu_seconds(proc.pid)
        started = time.monotonic()
        await _publish(settings, records)  # returns once every record is acknowledged
        await _wait_idle(settings, 1800)
        seconds = time.monotonic() - started
        ops1, cpu1 = await table_ops(session), cpu_seconds(proc.pid)
    finally:
        await stop_processes([proc])
        await asyncio.to_thread(session.cluster.shutdown)
    n = len(records)
    return {"events": n, "seconds": seconds, "rate": n / seconds,
            "cpu_ms": 1000 * (cpu1 - cpu0) / n,
            "paxos": (ops1.get(PAXOS_WRITES, 0) - ops0.get(PAXOS_WRITES, 0)) / n,
            "exact": await _exact(settings, expected)}


def _row(label: str, name: str, r: dict[str, float | bool]) -> str:
    return (f"{label:<10} {name:<7} {int(r['events']):>7} {r['seconds']:>8.1f} "
            f"{r['rate']:>9.0f} {r['cpu_ms']:>8.3f} {r['paxos']:>9.2f}  {r['exact']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--likes", type=int, default=10_000)
    parser.add_argument("--baseline", default=BASELINE_REV,
                        help="git revision of the baseline processor ('' to skip)")
    args = parser.parse_args()
    settings = get_settings()
    run = int(datetime.now(UTC).timestamp()) % 100_000
    results: list[tuple[str, str, dict[str, float | bool]]] = []
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in ("spread", "hot"):
        if args.baseline:
            with checkout(args.baseline) as code:
                results.append(("baseline", name,
                                await scenario(settings, code, name, args.likes, run)))
            run += 1
        results.append(("ours", name, await scenario(settings, REPO_ROOT, name, args.likes,
                                                     run)))
        run += 1
    print(f"{'code':<10} {'keys':<7} {'events':>7} {'seconds':>8} {'events/s':>9} "
          f"{'cpu ms/ev':>8} {'paxos/ev':>9}  exact")
    for label, name, r in results:
        print(_row(label, name, r))
    ours = {name: r for label, name, r in results if label == "ours"}
    base = {name: r for label, name, r in results if label == "baseline"}
    for name, r in ours.items():
        ratio = f", {float(r['rate']) / float(base[name]['rate']):.1f}x baseline" if base else ""
        verdict = "met" if float(r["rate"]) >= TARGET_RATE and r["paxos"] == 0 else "MISSED"
        per_core = 1000 / float(r["cpu_ms"])
        print(f"{name}: {r['rate']:.0f} events/s{ratio} on this (shared) box; "
              f"{per_core:.0f} events/s per core of processor CPU; "
              f"target >= {TARGET_RATE:.0f}/s with 0 Paxos writes: {verdict}")
    await skip_synthetic(settings, LIKES, ENGAGEMENT_GROUP)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
