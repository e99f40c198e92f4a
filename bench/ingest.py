"""Uploads through HTTP ingest to processed photos and follower feeds, on the local stack.

    python -m bench.ingest [--photos 400] [--concurrency 16] [--paced-seconds 30]

Starts the real ingest service and processors (media; metadata, graph, fan-out) as
subprocesses, as an operator would, and drives generated 1080x1350 photographic JPEGs
over HTTP in two phases:

1. **saturation**: ``--photos`` uploads as fast as ``--concurrency`` clients can send
   them, with the ingest's admission control on (``--max-backlog``): a 503 is retried
   after its ``Retry-After``. Prints the sustained processed rate, the refusals and the
   accepted -> processed latency, which the backlog bound keeps bounded.
2. **paced**: once every processor group has drained phase 1 (the fan-out lane can lag
   the media one by seconds under saturation; the drain time is printed), an open-loop
   stream (each upload starts on schedule whatever the previous ones did) at half the
   sustained rate of phase 1, while the timelines of the author's
   followers are polled in Redis. Prints upload -> in-follower-feed latency. Then the
   same at half the render ceiling (``--overload-seconds``): when that is more than the
   pipeline sustains, it shows what the backpressure does to an open-loop client.

During phase 1 the CPU time of every process of the stack is read from ``/proc``
(:mod:`bench.cpu`) and printed per processed photo: on one box the servers share the
cores with the render workers, so that split is what bounds ``pipeline / ceiling``.

Baseline in the same run: the render ceiling, i.e. the media processor's render task
alone on every core (with its settings: JPEG quality, AVIF twins), with no HTTP, Kafka,
MinIO or Cassandra. The pipeline can never beat it on one box, so
``pipeline / ceiling`` says what the plumbing costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.cassandra_ops import PAXOS_WRITES, Counts, busiest, table_ops
from bench.cpu import CpuMeter
from bench.ingest_world import (
    FeedWatch,
    Tail,
    make_world,
    render_ceiling,
    wait_healthy,
)
from bench.media import synthetic_photo
from bench.stats import pct
from bench.world import World
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.connect.redis import RedisClient
from infra.http.auth import mint
from infra.settings import Settings, get_settings
from operate.ops.lag import consumer_lag
from operate.processes import stop_processes
from operate.stack import manager
from operate.stack.base import free_port

#: The checkout this module is in: its services run from it (``python -m operate.cli``),
#: so a benchmark of a worktree measures that worktree's code.
REPO = Path(__file__).resolve().parents[1]
#: Server-side operations counted per processed photo (keyspace, table, kind).
COUNTED_OPS = (("paxos writes (system.paxos)", PAXOS_WRITES),
               ("reads of a photo's row (photos)", ("photostream", "photos", "reads")))
#: The processors an upload passes through on its way to a follower's feed.
PROCESS_GROUPS = (["media"], ["metadata", "graph", "fanout", "fanout-worker"])
#: Followers whose timelines are polled (all of them get the fan-out).
WATCHED = 5


@dataclass
class Uploader:
    """HTTP uploads that honour 503 + Retry-After, recording what each answer said."""

    client: httpx.AsyncClient
    token: str
    photos: list[bytes]
    accepted: dict[int, tuple[float, float]] = field(default_factory=dict)
    """photo id -> (request start, 202 received), monotonic seconds."""
    refused: int = 0
    max_queued: int = 0
    run: str = field(default_factory=lambda: f"{os.getpid()}-{time.time_ns()}")

    async def one(self, index: int) -> None:
        """Upload photo ``index`` until accepted; retries are safe (Idempotency-Key)."""
        began = time.monotonic()
        headers = {"Authorization": f"Bearer {self.token}",
                   "Idempotency-Key": f"bench-{self.run}-{index}"}
        while True:
            try:
                response = await self.client.post(
                    "/v1/media", headers=headers,
                    files={"file": (f"p{index}.jpg", self.photos[index % len(self.photos)],
                                    "image/jpeg")},
                    data={"caption": f"bench photo {index} #bench"})
            except (httpx.ReadError, httpx.RemoteProtocolError):
                continue  # a keep-alive connection the server had just closed
            if response.status_code == 503 and "Retry-After" in response.headers:
                self.refused += 1
                await asyncio.sleep(float(response.headers["Retry-After"]))
                continue
            response.raise_for_status()
            body = response.json()
            self.max_queued = max(self.max_queued, body.get("queued_ahead") or 0)
            self.accepted[int(body["photo_id"])] = (began, time.monotonic())
            return

    async def closed_loop(self, count: int, concurrency: int, first: int = 0) -> None:
        """Uploads ``first`` .. ``first + count - 1``, ``concurrency`` in flight."""
        gate = asyncio.Semaphore(concurrency)

        async def gated(i: int) -> None:
            async with gate:
                await self.one(i)

        await asyncio.gather(*(gated(i) for i in range(first, first + count)))

    async def open_loop(self, rate: float, seconds: float, first: int) -> None:
        """Start upload k at ``k / rate`` whatever happened to the others."""
        began, tasks, k = time.monotonic(), [], 0
        while (due := began + k / rate) < began + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(self.one(first + k)))
            k += 1
        await asyncio.gather(*tasks)


def start(args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    """One service of the run; its warnings (retries, timeouts) go to ``logs``."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"bench-ingest-{'-'.join(args)}.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "operate.cli", *args], cwd=REPO,
                                env=env, stdout=log, stderr=log, start_new_session=True)


def row(what: str, value: float | int | str, fmt: str = "") -> None:
    text = value if isinstance(value, str) else format(value, fmt)
    print(f"{what:<52} {text:>12}")


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    await manager.up(settings)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; generating photos")
    photos = [synthetic_photo(1080, 1350, grain=0.0, detail_div=10, quality=90 - i)
              for i in range(8)]
    ceiling = render_ceiling(photos, settings.media)
    twins = (f"with AVIF twins at q{settings.media.avif_quality}" if settings.media.avif_quality
             else "JPEG only")
    print(f"render ceiling (the render task alone, all cores, {twins}): {ceiling:.1f} photos/s")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PHOTOSTREAM_INGEST_PORT": str(port), "PHOTOSTREAM_LOG_LEVEL": "WARNING",
           "PHOTOSTREAM_INGEST_MAX_BACKLOG": str(args.max_backlog),
           "PHOTOSTREAM_INGEST_BACKLOG_POLL_SECONDS": "0.5", "PHOTOSTREAM_METRICS_PORT": "0",
           "PHOTOSTREAM_RATE_UPLOADS": "0"}  # one author uploads them all
    logs = settings.stack.state_dir / "logs"
    procs = [start(["ingest"], env, logs)] + [start(["process", *names], env, logs)
                                              for names in PROCESS_GROUPS]
    session = await asyncio.to_thread(cassandra.connect, settings)
    rds = redis_connect.client(settings)
    limits = httpx.Limits(max_connections=max(args.concurrency, 64))
    client = httpx.AsyncClient(base_url=base, limits=limits, timeout=120)
    try:
        await wait_healthy(base)
        print(f"services up; {args.followers} followers follow the author")
        world = await make_world(settings, session, rds, args.followers)
        up = Uploader(client, mint(world.author, settings), photos)
        await up.closed_loop(4, 4, first=-4)  # warm-up: groups joined, pools loaded
        await asyncio.sleep(3)
        up.accepted.clear()

        # -- phase 1: saturation ---------------------------------------------------
        print(f"phase 1: {args.photos} uploads, {args.concurrency} at a time")
        tail = Tail(settings)
        await tail.start()
        tail_task = asyncio.create_task(tail.run())
        began = time.monotonic()
        status_line = asyncio.create_task(_healthz_detail(client, delay=4.0))
        cpu = CpuMeter()
        cpu.start()
        ops_before = await table_ops(session)
        await up.closed_loop(args.photos, args.concurrency)
        accept_done = time.monotonic()
        saturated = dict(up.accepted)
        tail.wanted = set(saturated)
        await asyncio.wait_for(_until(tail, tail_task, saturated), timeout=900)
        cpu.stop()
        sustained = report_saturation(args, ceiling, tail, saturated, began, accept_done, up,
                                      await status_line)
        report_cpu(cpu, len(saturated), ceiling)
        # The fan-out lane may still be behind the media one: a paced phase started now
        # would measure phase 1's leftovers, so start it from an empty pipeline.
        row("  later lanes drained, after the last processed (s)",
            await drained(settings, [g for names in PROCESS_GROUPS for g in names]), ".1f")
        report_ops(ops_before, await table_ops(session), len(saturated))

        # -- phase 2: paced, into follower feeds ----------------------------------
        first = args.photos
        for what, rate, seconds in (("half the sustained rate", sustained / 2,
                                     args.paced_seconds),
                                    ("half the render ceiling", ceiling / 2,
                                     args.overload_seconds)):
            if seconds <= 0:
                continue
            print(f"phase 2: {rate:.1f} uploads/s ({what}) for {seconds:.0f} s")
            await paced_phase(up, tail, world, rds, settings, what, rate, seconds, first)
            first += int(rate * seconds) + 1
        tail.stop()
        await tail_task
    finally:
        await client.aclose()
        await rds.aclose()
        await stop_processes(procs, group=True)
        session.cluster.shutdown()


async def drained(settings: Settings, groups: list[str], timeout: float = 600) -> float:
    """Seconds until every one of ``groups`` has committed up to the end of its topics."""
    began = time.monotonic()
    while any(group.total_lag for group in await consumer_lag(settings, groups)):
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{groups} still lagging after {timeout:.0f} s")
        await asyncio.sleep(0.25)
    return time.monotonic() - began


async def paced_phase(up: Uploader, tail: Tail, world: World, rds: RedisClient,
                      settings: Settings, what: str, rate: float, seconds: float,
                      first: int) -> None:
    """An open-loop stream at ``rate`` for ``seconds``, watched into follower feeds."""
    watch = FeedWatch(settings, rds, world.followers[:WATCHED])
    watch_task = asyncio.create_task(watch.run())
    up.accepted.clear()
    refused = up.refused
    await up.open_loop(rate, seconds, first=first)
    paced = dict(up.accepted)
    watch.wanted = set(paced)
    tail.wanted |= set(paced)
    await asyncio.wait_for(watch_task, timeout=600)
    to_feed = [watch.seen[p] - start_at for p, (start_at, _) in paced.items()]
    processed = [tail.seen[p][0] - start_at for p, (start_at, _) in paced.items()
                 if p in tail.seen]
    print(f"paced: {rate:.1f} uploads/s ({what}), open loop, {seconds:.0f} s, "
          f"author followed by {len(world.followers)}, {WATCHED} feeds watched")
    row("  photos uploaded", len(paced))
    row("  503 backlog-full answers (retried)", up.refused - refused)
    row("  upload -> processed        p50 (ms)", pct(processed, 50) * 1000, ".0f")
    row("  upload -> processed        p99 (ms)", pct(processed, 99) * 1000, ".0f")
    row("  upload -> in follower feed p50 (ms)", pct(to_feed, 50) * 1000, ".0f")
    row("  upload -> in follower feed p99 (ms)", pct(to_feed, 99) * 1000, ".0f")
    row("  upload -> in follower feed max (ms)", max(to_feed) * 1000, ".0f")


def report_cpu(cpu: CpuMeter, photos: int, ceiling: float) -> None:
    """CPU per processed photo by component, and the rate that CPU allows on this box."""
    cores = os.cpu_count() or 1
    print(f"CPU during phase 1 ({cpu.wall:.0f} s, {100 * cpu.total / cpu.wall / cores:.0f}% "
          f"of {cores} cores), per processed photo:")
    for role, seconds in cpu.by_cost():
        row(f"  {role} (ms)", 1000 * seconds / photos, ".1f")
    # The bench client is the load generator (the upstream apps), not the stack.
    per_photo = (cpu.total - cpu.seconds.get("bench client", 0.0)) / photos
    row("  all of the stack, bench client aside (ms)", 1000 * per_photo, ".1f")
    row("  render alone in the ceiling run (ms)", 1000 * cores / ceiling, ".1f")
    row("  rate this CPU allows: cores / all (photos/s)", cores / per_photo, ".1f")


def report_ops(before: Counts, after: Counts, photos: int) -> None:
    """Cassandra's own counts over phase 1, every lane drained: what a photo costs in
    Paxos rounds and in reads of its row (the write-path issue's targets: 0 and <= 1;
    the ingest's Idempotency-Key claim, one LWT per upload, is in the Paxos figure)."""
    print("Cassandra operations during phase 1 (server-side counts), per processed photo:")
    for label, table in COUNTED_OPS:
        row(f"  {label}", (after.get(table, 0) - before.get(table, 0)) / photos, ".2f")
    print("  by table (where Cassandra's CPU per photo goes), at least 0.05 per photo:")
    for (keyspace, name, kind), n in busiest(before, after):
        if n / photos >= 0.05:
            row(f"    {kind} {keyspace}.{name}", n / photos, ".2f")


def report_saturation(args: argparse.Namespace, ceiling: float, tail: Tail,
                      accepted: dict[int, tuple[float, float]], began: float,
                      accept_done: float, up: Uploader, detail: str) -> float:
    seen = sorted(tail.seen[p][0] for p in accepted)
    n = len(seen)
    warm = min(10, n - 2)
    sustained = (n - 1 - warm) / (seen[-1] - seen[warm])
    latency = [tail.seen[p][0] - acc for p, (_, acc) in accepted.items()]
    failed = sum(1 for p in accepted if tail.seen[p][1] != "photo.processed")
    print()
    print(f"{'what':<52} {'value':>12}")
    print("-" * 65)
    row("baseline: render ceiling, all cores (photos/s)", ceiling, ".1f")
    print("saturation: 1080x1350 JPEG (~200 KB) uploads, closed loop")
    row("  photos uploaded", n)
    row("  upload concurrency", args.concurrency)
    row("  accepted (202) per second", n / (accept_done - began), ".1f")
    row("  processed per second, sustained", sustained, ".1f")
    row("  processed per second, first upload to last", n / (seen[-1] - began), ".1f")
    row("  sustained / render ceiling", sustained / ceiling, ".2f")
    row(f"  503 backlog-full answers (limit {args.max_backlog})", up.refused)
    row("  largest queued_ahead in a 202", up.max_queued)
    row("  accepted -> processed  p50 (s)", pct(latency, 50), ".2f")
    row("  accepted -> processed  p99 (s)", pct(latency, 99), ".2f")
    row("  accepted -> processed  max (s)", max(latency), ".2f")
    row("  failed events", failed)
    print(f"  ingest /healthz mid-burst: {detail}")
    return sustained


async def _until(tail: Tail, task: asyncio.Task[None],
                 wanted: dict[int, tuple[float, float]]) -> None:
    last = time.monotonic()
    while set(wanted) - set(tail.seen):
        if time.monotonic() - last > 5:
            last = time.monotonic()
            missing = set(wanted) - set(tail.seen)
            print(f"  ... {len(wanted) - len(missing)} of {len(wanted)} processed"
                  + (f"; waiting for {sorted(missing)}" if len(missing) <= 5 else ""))
        if task.done():
            task.result()  # the tail died: raise why
            raise RuntimeError("the tail of media.processed stopped early")
        await asyncio.sleep(0.1)


async def _healthz_detail(client: httpx.AsyncClient, delay: float) -> str:
    """What ``photostream status`` would print for ingest, a few seconds into the burst."""
    await asyncio.sleep(delay)
    try:
        return str((await client.get("/healthz")).json().get("detail"))
    except (httpx.HTTPError, ValueError) as exc:
        return f"unreadable: {exc}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--paced-seconds", type=float, default=30.0)
    parser.add_argument("--overload-seconds", type=float, default=10.0,
                        help="paced at half the render ceiling (0: skip)")
    parser.add_argument("--followers", type=int, default=20)
    parser.add_argument("--max-backlog", type=int, default=120,
                        help="the ingest's admission limit during the run")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
