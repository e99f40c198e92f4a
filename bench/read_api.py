"""Read API under load over HTTP: hydrated feed pages vs a naive fan-out-on-read feed.

    python -m bench.read_api [--users 20000] [--photos 200000] [--duration 60]
                             [--clients 32] [--workers 2]

1. Seeds a realistic graph (``bench.social_seed``: power-law follower counts, a few
   celebrities above the celebrity threshold, a cohort following 500-800 accounts,
   200 000 photos) into Cassandra once, and the Redis timelines on every run.
2. Starts the real read API (``photostream api --workers N``) as its own processes.
3. Drives it with **vegeta** (Go, built from the Go module proxy into
   ``~/.cache/photostream/bin`` on first use): ``--clients`` concurrent keep-alive
   connections in a closed loop (each sends its next request when the last returns),
   every request with its own reader's bearer token, for ``--duration`` seconds after a
   warm-up. Why vegeta rather than a Python driver: on 2 cores the load generator
   shares the CPU with the server, and a Go client costs a fraction of httpx's CPU per
   request, so the figures measure the server, not the client.
4. In the same run: the same load on the naive endpoint (``/v1/bench/naive-feed``: read
   every followee's recent photos, then rows, profiles and counts from Cassandra) for
   the readers following >= 500 accounts, and ours for the same readers.

Targets (issue 7): p99 <= 20 ms at >= 500 req/s for a 20-item hydrated page, and
>= 10x lower p99 than naive; photo, profile and search p99 reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.social_seed import TAGS, WORDS, Graph, generate, seed
from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.http.auth import mint
from infra.settings import Settings, get_settings
from operate.processes import stop_processes
from operate.stack import manager
from operate.stack.base import free_port

VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.12.0"
SEED_MARKER = "bench.read_api seed v2"


def vegeta(settings: Settings) -> Path:
    """The vegeta binary, built once from the Go module proxy into the stack cache."""
    found = shutil.which("vegeta")
    if found:
        return Path(found)
    bin_dir = settings.stack.cache_dir / "bin"
    binary = bin_dir / "vegeta"
    if not binary.exists():
        print(f"building vegeta ({VEGETA_MODULE}) into {bin_dir} ...", flush=True)
        env = {**os.environ, "GOBIN": str(bin_dir), "GOFLAGS": "-mod=mod"}
        subprocess.run(["go", "install", VEGETA_MODULE], check=True, env=env)
    return binary


def start_api(workers: int, port: int, code: Path | None = None) -> subprocess.Popen[bytes]:
    """The read API as its own processes; ``code``: a checkout to run instead of ours
    (its packages come first on the path; the venv's libraries are shared)."""
    env = {**os.environ, "PHOTOSTREAM_API_NAIVE_FEED": "true", "PHOTOSTREAM_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "operate.cli", "api", "--port", str(port),
                             "--workers", str(workers)], env=env, start_new_session=True,
                            cwd=code)


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(1200):  # two minutes: a loaded box starts slowly
            if proc.poll() is not None:
                raise SystemExit("the read API exited during start-up")
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the read API did not become ready")


def targets(base: str, settings: Settings, requests: list[tuple[int, str]], path: Path) -> Path:
    """Vegeta JSON targets: one (viewer, path) per line, each with its own token."""
    tokens: dict[int, str] = {}
    with path.open("w") as out:
        for viewer, url in requests:
            token = tokens.get(viewer) or tokens.setdefault(viewer, mint(viewer, settings))
            out.write(json.dumps({"method": "GET", "url": base + url,
                                  "header": {"Authorization": [f"Bearer {token}"]}}) + "\n")
    return path


def attack(binary: Path, target_file: Path, seconds: float, clients: int) -> dict[str, Any]:
    attack_cmd = [str(binary), "attack", "-format=json", f"-targets={target_file}", "-rate=0",
                  f"-workers={clients}", f"-max-workers={clients}", f"-duration={seconds}s",
                  "-keepalive=true", "-timeout=30s"]
    attacking = subprocess.Popen(attack_cmd, stdout=subprocess.PIPE)
    report = subprocess.run([str(binary), "report", "-type=json"], stdin=attacking.stdout,
                            capture_output=True, check=True)
    attacking.wait()
    result: dict[str, Any] = json.loads(report.stdout)
    return result


async def first_reads(base: str, settings: Settings, requests: list[tuple[int, str]],
                      clients: int) -> dict[str, float]:
    """Each distinct request once, ``clients`` at a time: the caches' cold path (and the
    warm-up for the measured runs)."""
    unique = list(dict.fromkeys(requests))
    times: list[float] = []
    errors: list[bool] = []
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        async def one(viewer: int, url: str) -> None:
            async with gate:
                t0 = time.perf_counter()
                try:
                    r = await client.get(url, headers={
                        "Authorization": f"Bearer {mint(viewer, settings)}"})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                times.append((time.perf_counter() - t0) * 1000)
                errors.append(not ok)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(v, u) for v, u in unique))
        wall = time.perf_counter() - t0
    times.sort()
    return {"n": len(times), "rps": len(times) / wall, "p50": times[len(times) // 2],
            "p99": times[int(len(times) * 0.99)], "failed": sum(errors)}


def summary(name: str, r: dict[str, Any]) -> dict[str, Any]:
    lat = r["latencies"]
    row = {"name": name, "rps": r["throughput"], "p50": lat["50th"] / 1e6,
           "p95": lat["95th"] / 1e6, "p99": lat["99th"] / 1e6, "requests": r["requests"],
           "success": r["success"], "codes": r.get("status_codes", {})}
    print(f"  {name:<34} {row['rps']:>8.1f} req/s  p50 {row['p50']:>7.2f} ms  "
          f"p95 {row['p95']:>7.2f} ms  p99 {row['p99']:>7.2f} ms  "
          f"ok {row['success'] * 100:5.1f}%  n={row['requests']}", flush=True)
    return row


def workloads(graph: Graph, rng: random.Random) -> dict[str, list[tuple[int, str]]]:
    readers = graph.users[:]
    rng.shuffle(readers)
    all_photos = list(graph.captions)
    heavy = graph.heavy[:]
    queries = [w for w in WORDS] + [f"%23{t}" for t in TAGS] + ["bench1", "bench12", "bench99"]
    return {
        "feed": [(u, "/v1/feed?limit=20") for u in readers[:5000]],
        "feed_heavy": [(u, "/v1/feed?limit=20") for u in heavy],
        "naive_heavy": [(u, "/v1/bench/naive-feed?limit=20") for u in heavy],
        "photo": [(rng.choice(readers), f"/v1/photos/{rng.choice(all_photos)}")
                  for _ in range(5000)],
        "profile": [(rng.choice(readers), f"/v1/users/{rng.choice(graph.users)}")
                    for _ in range(5000)],
        "search": [(rng.choice(readers), f"/v1/search?q={rng.choice(queries)}")
                   for _ in range(2000)],
    }


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    await manager.up(settings)
    binary = vegeta(settings)
    t0 = time.perf_counter()
    graph = generate(args.users, args.photos,
                     threshold=settings.timelines.celebrity_threshold)
    followers = graph.followers()
    print(f"graph: {len(graph.users):,} users, {graph.photo_count:,} photos, "
          f"{sum(len(f) for f in graph.following.values()):,} follow edges, "
          f"celebrities with {[len(followers[c]) for c in graph.celebrities]} followers "
          f"(threshold {settings.timelines.celebrity_threshold:,}), {len(graph.heavy)} readers "
          f"following >= 500 ({time.perf_counter() - t0:.1f} s)", flush=True)
    session = await asyncio.to_thread(cassandra.connect, settings)
    redis = redis_connect.client(settings)
    try:
        await seed(session, redis, graph, settings.timelines.redis_cap,
                   marker=f"{SEED_MARKER} {args.users} {args.photos}")
    finally:
        await redis.aclose()
        await asyncio.to_thread(session.cluster.shutdown)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_api(args.workers, port)
    try:
        await wait_ready(base, proc)
        rng = random.Random(3)
        loads = workloads(graph, rng)
        with tempfile.TemporaryDirectory() as tmp:
            files = {name: targets(base, settings, reqs, Path(tmp) / f"{name}.json")
                     for name, reqs in loads.items()}
            print(f"\nvegeta, {args.clients} keep-alive clients (closed loop), "
                  f"read API with {args.workers} worker(s); {args.duration:.0f} s per run "
                  f"after a {args.warmup:.0f} s warm-up", flush=True)
            rows = {}
            plan = [("feed", "GET /v1/feed (20 hydrated), all readers", args.duration),
                    ("feed_heavy", "GET /v1/feed, readers following >=500", args.duration),
                    ("naive_heavy", "naive fan-out-on-read, same readers", args.duration),
                    ("photo", "GET /v1/photos/{id}", args.short),
                    ("profile", "GET /v1/users/{id}", args.short),
                    ("search", "GET /v1/search?q=", args.short)]
            for key, label, seconds in plan:
                if key != "naive_heavy":
                    cold = await first_reads(base, settings, loads[key], args.clients)
                    print(f"  {'(first read of each, cold caches)':<34} {cold['rps']:>8.1f} "
                          f"req/s  p50 {cold['p50']:>7.2f} ms  p99 {cold['p99']:>7.2f} ms  "
                          f"n={cold['n']} not-200 {cold['failed']}", flush=True)
                attack(binary, files[key], args.warmup, args.clients)
                rows[key] = summary(label, attack(binary, files[key], seconds, args.clients))
        ours, naive = rows["feed_heavy"], rows["naive_heavy"]
        feed = rows["feed"]
        print(f"\nfeed p99 {feed['p99']:.2f} ms at {feed['rps']:.0f} req/s "
              f"(target: p99 <= 20 ms at >= 500 req/s): "
              f"{'MET' if feed['p99'] <= 20 and feed['rps'] >= 500 else 'NOT met'}")
        print(f"heavy readers: naive p99 / ours p99 = {naive['p99'] / ours['p99']:.1f}x, "
              f"throughput {ours['rps'] / max(naive['rps'], 0.01):.1f}x "
              f"(target >= 10x lower p99): "
              f"{'MET' if naive['p99'] >= 10 * ours['p99'] else 'NOT met'}")
        for key, row in rows.items():
            bad = {c: n for c, n in row["codes"].items() if c != "200"}
            if bad:
                print(f"  warning: {key} answered {bad}")
    finally:
        await stop_processes([proc], group=True, grace=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-loop", action="store_true",
                        help="fixed arrival rates (bench.read_path), not closed-loop clients")
    parser.add_argument("--baseline", metavar="GIT_REV", default=None,
                        help="with --open-loop: run the same load against this revision's "
                             "read API in the same run, and quote ratios")
    parser.add_argument("--rates", default="100,250,500,750,1000,1250",
                        help="with --open-loop: feed rates stepped through (req/s)")
    parser.add_argument("--step", type=float, default=10, help="seconds per open-loop rate")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--photos", type=int, default=200_000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--short", type=float, default=20, help="seconds for photo/profile/search")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds of vegeta load before each measured run (after the "
                             "first-read pass that warms the caches)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.open_loop:
        from bench import read_path
        asyncio.run(read_path.run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
