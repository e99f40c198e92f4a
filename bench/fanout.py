"""Fan-out benchmark: one post by a 100 000-follower author, ours vs sorted sets.

Run ``python -m bench.fanout`` (Redis from settings; ``PHOTOSTREAM_REDIS_URL`` points it
elsewhere). It writes only keys under a per-run prefix and deletes them at the end.

Measured, with every follower timeline full (800 entries) as in steady state:
  (a) ``RedisTimelines.deliver`` to 100 000 followers in one call, and in
      ``fanout_chunk``-sized calls as the fan-out processor makes them;
  (b) the naive baseline: per-follower ``ZADD`` + ``ZREMRANGEBYRANK``, each awaited,
      and the same pipelined (run on 2 000 followers, rate extrapolated to 100 000:
      100 000 full sorted sets would need ~8 GB);
  (c) memory per entry (``MEMORY USAGE``) of 2 000 full timelines, ours vs sorted set.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

from infra.connect import redis as redis_connect
from infra.settings import get_settings
from sinks.redis_timelines import RedisTimelines

FOLLOWERS = 100_000
CAP = 800
ZSET_USERS = 2_000
NAIVE_DELIVERIES = 5_000
TARGET_RATE = 200_000
TARGET_SECONDS = 1.0
TARGET_BYTES = 24.0


def _ids(rng: random.Random, n: int) -> list[int]:
    """Time-sortable-looking 63-bit ids, older than the ones we deliver."""
    base = 1 << 61
    return [base + rng.getrandbits(40) for _ in range(n)]


async def _cleanup(r, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in r.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await r.unlink(*batch)
            batch.clear()
    if batch:
        await r.unlink(*batch)


async def _memory(r, keys: list[str]) -> int:
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(await pipe.execute())


async def main() -> None:
    settings = get_settings()
    r = redis_connect.client(settings)
    prefix = f"bench:fanout:{os.getpid()}"
    tl = RedisTimelines(r, cap=CAP, prefix=f"{prefix}:tl")
    chunk = settings.timelines.fanout_chunk
    rng = random.Random(42)
    rows: list[tuple[str, int, float]] = []
    try:
        started = time.perf_counter()
        followers = list(range(10_000_000, 10_000_000 + FOLLOWERS))
        history = _ids(rng, CAP)
        for i in range(0, FOLLOWERS, 2_000):
            await tl.replace_many({uid: history for uid in followers[i : i + 2_000]})
        photo = (1 << 62) + 1

        t = time.perf_counter()
        delivered = await tl.deliver(followers, photo)
        rows.append(("ours: deliver(100k followers), one call", delivered, time.perf_counter() - t))
        t = time.perf_counter()
        for i in range(0, FOLLOWERS, chunk):
            delivered = await tl.deliver(followers[i : i + chunk], photo + 1)
        rows.append(
            (f"ours: deliver in {chunk}-follower chunks", FOLLOWERS, time.perf_counter() - t)
        )
        assert await tl.read(followers[-1], limit=3) == [photo + 1, photo, max(history)]
        ours_mem_keys = [tl.key(uid) for uid in followers[:ZSET_USERS]]
        # full again after the two deliveries, gap as after steady-state rewrites
        ours_bytes = await _memory(r, ours_mem_keys)
        ours_entries = ZSET_USERS * CAP

        # plain sorted sets: member = decimal id, score = id (a double, inexact > 2**53)
        zkeys = [f"{prefix}:z:{uid}" for uid in followers[:ZSET_USERS]]
        members = {str(pid): float(pid) for pid in history}
        for i in range(0, ZSET_USERS, 200):
            pipe = r.pipeline(transaction=False)
            for key in zkeys[i : i + 200]:
                pipe.zadd(key, members)
            await pipe.execute()
        zset_bytes = await _memory(r, zkeys)
        zset_encoding = (await r.object("encoding", zkeys[0])).decode()

        t = time.perf_counter()
        for n in range(NAIVE_DELIVERIES):
            key = zkeys[n % ZSET_USERS]
            pid = photo + 10 + n // ZSET_USERS
            await r.zadd(key, {str(pid): float(pid)})
            await r.zremrangebyrank(key, 0, -(CAP + 1))
        rows.append(
            ("naive: awaited ZADD+ZREMRANGEBYRANK", NAIVE_DELIVERIES, time.perf_counter() - t)
        )

        t = time.perf_counter()
        rounds = 10
        for n in range(rounds):
            pid = photo + 100 + n
            pipe = r.pipeline(transaction=False)
            for key in zkeys:
                pipe.zadd(key, {str(pid): float(pid)})
                pipe.zremrangebyrank(key, 0, -(CAP + 1))
            await pipe.execute()
        rows.append(
            ("pipelined ZADD+ZREMRANGEBYRANK", rounds * ZSET_USERS, time.perf_counter() - t)
        )
        assert await r.zcard(zkeys[0]) == CAP

        print(f"Redis fan-out, {FOLLOWERS:,} followers, timelines full ({CAP} entries)")
        print(f"{'method':44} {'deliveries':>10} {'seconds':>8} {'deliv/s':>10} {'100k in s':>9}")
        for name, count, secs in rows:
            rate = count / secs
            print(f"{name:44} {count:>10,} {secs:>8.3f} {rate:>10,.0f} {FOLLOWERS / rate:>9.3f}")
        ours_rate = rows[0][1] / rows[0][2]
        naive_rate = rows[2][1] / rows[2][2]
        piped_rate = rows[3][1] / rows[3][2]
        print(
            f"speed-up vs naive awaited loop: {ours_rate / naive_rate:.1f}x; "
            f"vs pipelined ZADD: {ours_rate / piped_rate:.1f}x"
        )
        ours_per = ours_bytes / ours_entries
        zset_per = zset_bytes / (ZSET_USERS * CAP)
        print(
            f"memory per entry over {ZSET_USERS:,} full timelines (MEMORY USAGE): "
            f"ours {ours_per:.1f} B, sorted set ({zset_encoding}) {zset_per:.1f} B "
            f"({zset_per / ours_per:.1f}x)"
        )
        ok_rate = ours_rate >= TARGET_RATE
        ok_time = rows[0][2] <= TARGET_SECONDS
        ok_mem = ours_per <= TARGET_BYTES
        print(
            f"targets: >= {TARGET_RATE:,} deliv/s {'OK' if ok_rate else 'MISSED'}; "
            f"100k fan-out <= {TARGET_SECONDS:.0f} s {'OK' if ok_time else 'MISSED'}; "
            f"<= {TARGET_BYTES:.0f} B/entry {'OK' if ok_mem else 'MISSED'}"
        )
        print(f"(total bench time {time.perf_counter() - started:.1f} s)")
    finally:
        await _cleanup(r, prefix)
        await r.aclose()


if __name__ == "__main__":
    asyncio.run(main())
