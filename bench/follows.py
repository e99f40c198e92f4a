"""Follows through the graph (+ following) processors: events/s, CPU and Paxos per event.

Run ``python -m bench.follows [--follows 10000] [--baseline REV]`` against the local
stack. Each scenario publishes ``--follows`` distinct ``follow.approved`` events, every
one of them twice (a retrying upstream), plus a ``follow.removed`` of every tenth,
straight to the follows topic as an upstream service would. One process per processor
(``photostream process graph`` and, for ours, ``photostream process following``: the
owner of the repartitioned follower side) then drains them. Rates are follow events over
the time from the first record published to the group's lag reaching zero (the graph
group; "end to end" waits for the following group too), so they include the publish.

Scenarios: ``spread`` (every follow its own followee and follower: no batching per key
helps), ``hot`` (all on one followee: a celebrity gaining followers, where per-event
LWTs queue on one partition) and ``fan`` (one follower following everyone: hot on the
follower side, which ours repartitions).

The baseline is the same benchmark against the graph processor of another git revision
(``--baseline``, default the commit before single-writer follows: LWTs on both sides),
checked out in a temporary worktree and run from it, in the same run. Printed per
implementation and scenario: events/s of the graph group and end to end, CPU ms per
follow event of each process, ``system.paxos`` writes per event, and whether every
follower and following count is exact. CPU per event depends much less on what else the
box runs than the wall rate does, so the rate one core sustains (1 / CPU per event of
the busiest process) is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from cassandra.cluster import Session

from bench.cassandra_ops import PAXOS_WRITES, table_ops
from bench.cpu import CpuMeter
from bench.engagement import checkout, cpu_seconds
from bench.synthetic import skip_synthetic
from infra.connect import cassandra
from infra.connect import kafka as kafka_connect
from infra.settings import REPO_ROOT, Settings, get_settings
from operate.ops.lag import consumer_lag
from operate.processes import stop_processes
from operate.stack.base import free_port
from schemas.envelope import encode, make
from schemas.graph import FollowApproved, FollowRemoved
from schemas.topics import FOLLOWING_GROUP, FOLLOWS, GRAPH_GROUP
from sinks import graph

TARGET_RATE = 5_000.0
BASELINE_REV = "bc7ae18"
BASE_ID = 9_000_000_000_000
SCENARIOS = ("spread", "hot", "fan")

Result = dict[str, float | bool]


def _pairs(scenario: str, follows: int, base: int) -> list[tuple[int, int]]:
    """(follower, followee) of each distinct follow of ``scenario``."""
    if scenario == "spread":
        return [(base + 5_000_000 + i, base + 1 + i) for i in range(follows)]
    if scenario == "hot":
        return [(base + 5_000_000 + i, base + 1) for i in range(follows)]
    return [(base + 5_000_000, base + 1 + i) for i in range(follows)]


def _events(scenario: str, follows: int, run: int
            ) -> tuple[list[tuple[bytes, bytes]], set[tuple[int, int]], list[tuple[int, int]]]:
    """(key, value) records, the edges that must exist at the end, and every pair."""
    pairs = _pairs(scenario, follows, BASE_ID + run * 10_000_000)
    records: list[tuple[bytes, bytes]] = []
    for copy in range(2):
        for i, (follower, followee) in enumerate(pairs):
            follow = FollowApproved(follower_id=follower, followee_id=followee)
            records.append((str(followee).encode(), encode(make(follow, producer="bench"))))
            if copy == 1 and i % 10 == 0:
                unfollow = FollowRemoved(follower_id=follower, followee_id=followee)
                records.append((str(followee).encode(),
                                encode(make(unfollow, producer="bench"))))
    wanted = {pair for i, pair in enumerate(pairs) if i % 10}
    return records, wanted, pairs


async def publish_follows(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    """Raw (key, value) records onto the follows topic, batched, all acknowledged."""
    producer: AIOKafkaProducer = kafka_connect.producer(settings, linger_ms=20,
                                                        max_batch_size=512 * 1024)
    await producer.start()
    try:
        sends = [await producer.send(FOLLOWS.name, value, key=key) for key, value in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _wait_idle(settings: Settings, group: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (await consumer_lag(settings, [group]))[0].total_lag:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not catch up")
        await asyncio.sleep(0.25)


async def _start(code: Path, name: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(code)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "operate.cli", "process", name,
        "--metrics-port", str(free_port()), cwd=str(code), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _exact(session: Session, wanted: set[tuple[int, int]],
                 pairs: list[tuple[int, int]]) -> bool:
    """Every follower count and following count equals its edges."""
    followers: dict[int, int] = {}
    following: dict[int, int] = {}
    for follower, followee in pairs:
        followers.setdefault(followee, 0)
        following.setdefault(follower, 0)
    for follower, followee in wanted:
        followers[followee] += 1
        following[follower] += 1
    gate = asyncio.Semaphore(64)

    async def right(count: Callable[[Session, int], Awaitable[int]], key: int, n: int
                    ) -> bool:
        async with gate:
            return await count(session, key) == n

    checks = [*(right(graph.follower_count, k, n) for k, n in followers.items()),
              *(right(graph.following_count, k, n) for k, n in following.items())]
    return all(await asyncio.gather(*checks))


async def scenario(settings: Settings, code: Path, name: str, follows: int, run: int,
                   *, mirrored: bool) -> Result:
    """One implementation on one scenario (``mirrored``: it has a following processor)."""
    records, wanted, pairs = _events(name, follows, run)
    procs = [await _start(code, "graph")]
    if mirrored:
        procs.append(await _start(code, "following"))
    groups = [GRAPH_GROUP.group_id, *([FOLLOWING_GROUP.group_id] if mirrored else [])]
    session = await asyncio.to_thread(cassandra.connect, settings)
    try:
        for group in groups:
            await _wait_idle(settings, group, 300)
        await asyncio.sleep(8)  # joined and assigned (the groups' rebalances settle)
        ops0, cpu0 = await table_ops(session), [cpu_seconds(p.pid) for p in procs]
        box = CpuMeter()
        box.start()
        started = time.monotonic()
        await publish_follows(settings, records)
        await _wait_idle(settings, GRAPH_GROUP.group_id, 1800)
        graph_seconds = time.monotonic() - started
        graph_cpu = cpu_seconds(procs[0].pid)
        for group in groups[1:]:
            await _wait_idle(settings, group, 1800)
        seconds = time.monotonic() - started
        box.stop()
        ops1, cpu1 = await table_ops(session), [cpu_seconds(p.pid) for p in procs]
        exact = await _exact(session, wanted, pairs)
    finally:
        await stop_processes(procs)
        await asyncio.to_thread(session.cluster.shutdown)
    n = len(records)
    return {"events": n, "graph_rate": n / graph_seconds, "rate": n / seconds,
            "graph_cpu_ms": 1000 * (graph_cpu - cpu0[0]) / n,
            "following_cpu_ms": 1000 * (cpu1[1] - cpu0[1]) / n if mirrored else 0.0,
            "paxos": (ops1.get(PAXOS_WRITES, 0) - ops0.get(PAXOS_WRITES, 0)) / n,
            "exact": exact, "servers_ms": 1000 * _servers(box) / n,
            "publisher_ms": 1000 * box.seconds.get("bench client", 0.0) / n}


def _servers(box: CpuMeter) -> float:
    """CPU seconds Cassandra, Kafka and Redis spent meanwhile (co-located servers)."""
    return sum(box.seconds.get(role, 0.0) for role in ("cassandra", "kafka", "redis"))


def _row(label: str, name: str, r: Result) -> str:
    return (f"{label:<9} {name:<7} {int(r['events']):>7} {r['graph_rate']:>9.0f} "
            f"{r['rate']:>9.0f} {r['graph_cpu_ms']:>9.3f} {r['following_cpu_ms']:>9.3f} "
            f"{r['paxos']:>9.2f}  {r['exact']}")


def _summary(results: list[tuple[str, str, Result]]) -> None:
    ours = {name: r for label, name, r in results if label == "ours"}
    base = {name: r for label, name, r in results if label == "baseline"}
    for name, r in ours.items():
        ratio = (f", {float(r['graph_rate']) / float(base[name]['graph_rate']):.1f}x baseline"
                 if name in base else "")
        busiest = max(float(r["graph_cpu_ms"]), float(r["following_cpu_ms"]))
        verdict = ("met" if float(r["graph_rate"]) >= TARGET_RATE and r["paxos"] == 0
                   and r["exact"] else "MISSED")
        print(f"{name}: graph process {r['graph_rate']:.0f} events/s{ratio} on this (shared) "
              f"box, {r['rate']:.0f}/s end to end; {1000 / busiest:.0f} events/s per core "
              f"of the busiest process; target >= {TARGET_RATE:.0f}/s per process with 0 "
              f"Paxos writes: {verdict}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--follows", type=int, default=10_000)
    parser.add_argument("--baseline", default=BASELINE_REV,
                        help="git revision of the baseline processor ('' to skip)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    settings = get_settings()
    run = int(datetime.now(UTC).timestamp()) % 100_000
    results: list[tuple[str, str, Result]] = []
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in args.scenarios.split(","):
        if args.baseline:
            with checkout(args.baseline) as code:
                results.append(("baseline", name, await scenario(
                    settings, code, name, args.follows, run, mirrored=False)))
            run += 1
        results.append(("ours", name, await scenario(settings, REPO_ROOT, name, args.follows,
                                                     run, mirrored=True)))
        run += 1
    print(f"{'code':<9} {'keys':<7} {'events':>7} {'graph/s':>9} {'e2e/s':>9} "
          f"{'graph ms':>9} {'follow ms':>9} {'paxos/ev':>9}  exact")
    for label, name, r in results:
        print(_row(label, name, r))
    print("(graph/follow ms: CPU ms per follow event of the graph / following process)")
    print("CPU ms per follow event of everything else on the box (the wall rate's limit):")
    for label, name, r in results:
        total = sum(float(r[k]) for k in ("graph_cpu_ms", "following_cpu_ms", "servers_ms",
                                          "publisher_ms"))
        print(f"  {label:<9} {name:<7} servers (Cassandra, Kafka, Redis) "
              f"{float(r['servers_ms']):.3f}, publisher {float(r['publisher_ms']):.3f}; "
              f"all {total:.3f} ms: {os.cpu_count()} cores allow "
              f"{(os.cpu_count() or 1) * 1000 / total:.0f} events/s")
    _summary(results)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    await skip_synthetic(settings, FOLLOWS, GRAPH_GROUP)


if __name__ == "__main__":
    asyncio.run(main())
