"""Accounts benchmark: the cost of a sign-in with our argon2id parameters, and sign-ups/s.

Run ``python -m bench.accounts`` against the running stack. Printed, from one run:
  (a) one password verify, our parameters (:data:`producers.ingest.passwords.CHOSEN`)
      against argon2-cffi's defaults (the baseline), sequential, p50/p99, and the
      rate with both cores busy (two verifies at a time, as :class:`Hasher` allows);
  (b) a whole HTTP sign-in (``POST /v1/sessions``: lookups in Cassandra, rate-limit
      counters in Redis, the verify, the token) against an in-process ingest, p50/p99;
  (c) sign-ups per second through the pipeline: ``POST /v1/accounts`` (claims, hash,
      credentials row, ``user.registered`` on Kafka) answered once the graph processor
      (running in-process here) has stored the ``users`` row, 8 at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from bench.stats import pct
from infra.settings import RateLimitSettings, Settings, get_settings
from processors.registry import build
from processors.runtime import Runner
from producers.ingest import create_app
from producers.ingest.passwords import CHOSEN, LIBRARY_DEFAULT, Argon2Parameters, Hasher

VERIFIES = 20
SIGN_INS = 40
SIGN_UPS = 64
CONCURRENCY = 8
PASSWORD = "benchmark passphrase 1"


def _label(parameters: Argon2Parameters) -> str:
    return (f"m={parameters.memory_kib // 1024} MiB t={parameters.time_cost} "
            f"p={parameters.parallelism}")


async def _timed(action: Callable[[], Awaitable[object]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def verifies() -> None:
    print("(a) one password verify (argon2id), sequential and 2 at a time:")
    for name, parameters in (("ours", CHOSEN), ("argon2-cffi default", LIBRARY_DEFAULT)):
        hasher = Hasher(parameters, slots=2)
        stored = await hasher.hash(PASSWORD)

        async def verify(hasher: Hasher = hasher, stored: str = stored) -> bool:
            return await hasher.verify(stored, PASSWORD)

        times = await _timed(verify, VERIFIES)
        started = time.perf_counter()
        await asyncio.gather(*(hasher.verify(stored, PASSWORD) for _ in range(VERIFIES)))
        rate = VERIFIES / (time.perf_counter() - started)
        print(f"    {name:20} {_label(parameters):22} p50 {pct(times, 50):6.1f} ms  "
              f"p99 {pct(times, 99):6.1f} ms  {rate:5.1f} verifies/s on 2 slots")


async def _sign_up(client: httpx.AsyncClient, name: str) -> float:
    started = time.perf_counter()
    answer = await client.post("/v1/accounts", json={
        "username": name, "email": f"{name}@bench.example.org", "password": PASSWORD})
    answer.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def main() -> None:
    base = get_settings()
    off = RateLimitSettings(sign_ins=0, account_sign_ins=0, sign_ups=0)
    settings: Settings = dataclasses.replace(base, rate=off)
    await verifies()
    runner = Runner(build("graph", settings), settings, backoff=0.1)
    graph = asyncio.create_task(runner.run())
    app = create_app(settings)
    run = f"b{random.getrandbits(32):08x}"
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ingest",
                timeout=60) as client:
            await _sign_up(client, f"{run}_warm")  # the processor has joined its group
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(number: int) -> float:
                async with gate:
                    return await _sign_up(client, f"{run}_{number}")

            started = time.perf_counter()
            latencies = await asyncio.gather(*(one(n) for n in range(SIGN_UPS)))
            elapsed = time.perf_counter() - started

            async def sign_in() -> None:
                answer = await client.post("/v1/sessions", json={
                    "username": f"{run}_0", "password": PASSWORD})
                answer.raise_for_status()

            sign_ins = await _timed(sign_in, SIGN_INS)
    finally:
        runner.stop()
        await asyncio.wait_for(graph, timeout=60)
    print(f"(b) HTTP sign-in (POST /v1/sessions, in-process ingest), {SIGN_INS} sequential:")
    print(f"    p50 {pct(sign_ins, 50):6.1f} ms  p99 {pct(sign_ins, 99):6.1f} ms")
    print(f"(c) sign-ups through the pipeline ({SIGN_UPS}, {CONCURRENCY} at a time, answered "
          "once the users row is stored):")
    print(f"    {SIGN_UPS / elapsed:5.1f} sign-ups/s  latency p50 {pct(latencies, 50):6.0f} ms  "
          f"p99 {pct(latencies, 99):6.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
