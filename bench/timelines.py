"""Durable timeline benchmark: Cassandra fan-out writes, and Redis rebuilds from Cassandra.

Run ``python -m bench.timelines`` against the stack from settings. Measured in one run,
each against its naive baseline:

  (a) durable fan-out writes (one photo into N users' ``timelines`` rows): one
      statement per row at concurrency 1, the same at concurrency 128, and what the
      fan-out does (replica-grouped unlogged batches, bounded concurrency);
  (b) hot timelines rebuilt from Cassandra (2 000 users x 200 entries): one by one
      (``Timelines.rebuild``: read, ``SET``, awaited per user) vs the bulk path of
      ``photostream timelines rebuild`` (``rebuild_many``: parallel reads, pipelined
      ``SET``s), and the same bulk path with one point read per timeline.

Everything uses fresh random user ids and a per-run Redis key prefix; the Cassandra
partitions and the Redis keys are deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import UTC, datetime

from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import get_settings
from sinks.durable_timelines import (
    BATCH_ROWS,
    WRITE_CONCURRENCY,
    add_entries,
    add_to_timelines,
    delete_timelines,
    newest_ids,
)
from sinks.durable_timelines import Entry as TimelineEntry
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines

WRITE_ROWS = 20_000
SERIAL_ROWS = 2_000
REBUILD_USERS = 2_000
NAIVE_REBUILDS = 300
ENTRIES = 200
TARGET_REBUILDS = 1_000.0


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def main() -> None:
    settings = get_settings()
    session = await asyncio.to_thread(cassandra.connect, settings)
    r = redis_connect.client(settings)
    prefix = f"bench:timelines:{os.getpid()}"
    hot = RedisTimelines(r, settings.timelines.redis_cap, prefix=f"{prefix}:tl")
    timelines = Timelines(session, r, hot)
    rng = random.Random()
    author = rng.getrandbits(62)
    photo = (1 << 61) + rng.getrandbits(40)
    writers = [rng.getrandbits(62) for _ in range(2 * WRITE_ROWS + SERIAL_ROWS)]
    readers = [rng.getrandbits(62) for _ in range(REBUILD_USERS)]
    rows: list[tuple[str, int, float, str]] = []
    now = datetime.now(UTC)
    started = time.perf_counter()
    try:
        await add_to_timelines(session, writers[:10], photo, author, now)  # warm up

        t = time.perf_counter()
        await add_to_timelines(session, writers[:SERIAL_ROWS], photo, author, now,
                               concurrency=1, batch_rows=1)
        rows.append(("writes: per row, concurrency 1", SERIAL_ROWS, time.perf_counter() - t,
                     "rows"))
        part = writers[SERIAL_ROWS:SERIAL_ROWS + WRITE_ROWS]
        t = time.perf_counter()
        await add_to_timelines(session, part, photo, author, now, concurrency=128,
                               batch_rows=1)
        rows.append(("writes: per row, concurrency 128", WRITE_ROWS, time.perf_counter() - t,
                     "rows"))
        t = time.perf_counter()
        await add_to_timelines(session, writers[SERIAL_ROWS + WRITE_ROWS:], photo, author, now)
        rows.append((f"writes: ours, batches of {BATCH_ROWS} x {WRITE_CONCURRENCY}",
                     WRITE_ROWS, time.perf_counter() - t, "rows"))

        history = [TimelineEntry(photo - i * 1_000, author) for i in range(ENTRIES)]
        gate = asyncio.Semaphore(16)

        async def seed(uid: int) -> None:
            async with gate:
                await add_entries(session, uid, history, now)
        seeded = time.perf_counter()
        await asyncio.gather(*(seed(uid) for uid in readers))
        seed_secs = time.perf_counter() - seeded

        t = time.perf_counter()
        for uid in readers[:NAIVE_REBUILDS]:
            await timelines.rebuild(uid)
        rows.append(("rebuild one by one (awaited)", NAIVE_REBUILDS, time.perf_counter() - t,
                     "timelines"))
        t = time.perf_counter()
        await timelines.rebuild_many(readers, group=1, concurrency=64)
        rows.append(("rebuild bulk, point reads x 64", REBUILD_USERS, time.perf_counter() - t,
                     "timelines"))
        t = time.perf_counter()
        await timelines.rebuild_many(readers)
        rows.append(("rebuild bulk, ours (grouped IN)", REBUILD_USERS, time.perf_counter() - t,
                     "timelines"))
        sample = readers[-1]
        assert await hot.read(sample, ENTRIES) == await newest_ids(session, sample, ENTRIES)

        print(f"Durable timelines (Cassandra) and rebuilds into Redis "
              f"({ENTRIES} entries per rebuilt timeline)")
        print(f"{'method':38} {'count':>8} {'seconds':>8} {'per second':>11}")
        for name, count, secs, unit in rows:
            print(f"{name:38} {count:>8,} {secs:>8.3f} {_rate(count, secs):>11,.0f} {unit}")
        rate = [_rate(count, secs) for _name, count, secs, _unit in rows]
        bulk = rate[5]
        print(f"writes: ours vs per-row concurrency 1: {rate[2] / rate[0]:.1f}x, "
              f"vs per-row concurrency 128: {rate[2] / rate[1]:.1f}x")
        print(f"rebuilds: ours vs one by one: {bulk / rate[3]:.1f}x, "
              f"vs bulk with point reads: {bulk / rate[4]:.1f}x")
        print(f"target: >= {TARGET_REBUILDS:,.0f} timelines rebuilt/s "
              f"{'OK' if bulk >= TARGET_REBUILDS else 'MISSED'} ({bulk:,.0f}/s)")
        print(f"(seeding {REBUILD_USERS * ENTRIES:,} rows took {seed_secs:.1f} s; "
              f"total bench time {time.perf_counter() - started:.1f} s)")
    finally:
        await delete_timelines(session, writers + readers)
        pipe = r.pipeline(transaction=False)
        for uid in readers:
            pipe.unlink(hot.key(uid))
        await pipe.execute()
        await r.aclose()
        await asyncio.to_thread(session.cluster.shutdown)


if __name__ == "__main__":
    asyncio.run(main())
