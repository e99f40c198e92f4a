"""``photostream timelines rebuild [--user ID | --all]``: Redis timelines from Cassandra.

Why: Redis holds only a cache of the durable Cassandra timelines. After a Redis loss
(a flush, a failover without persistence, a changed bucket layout) readers would
rebuild lazily, one feed read at a time; this command warms every *active* user's
timeline up front (``--all``: users who read their feed within
``timelines.inactive_after_days``, from ``user_activity``; it also restores the
activity mirror), in bulk: parallel Cassandra reads and pipelined single-key ``SET``s,
so it also works against Redis Cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from infra.connect import cassandra
from infra.connect import redis as redis_connect
from infra.settings import Settings
from sinks.reader_activity import all_activity, set_mirror
from sinks.redis_timelines import RedisTimelines
from sinks.timelines import Timelines

#: Timelines per bulk step (one progress-bar tick).
STEP = 1_000


def register(sub: Any) -> None:
    timelines = sub.add_parser("timelines", help="home timeline maintenance")
    actions = timelines.add_subparsers(dest="action", required=True)
    rebuild = actions.add_parser("rebuild", help="rebuild Redis timelines from Cassandra")
    who = rebuild.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, action="append", metavar="ID",
                     help="rebuild this user's timeline (repeatable)")
    who.add_argument("--all", action="store_true",
                     help="rebuild every active user's timeline")
    rebuild.add_argument("--concurrency", type=int, default=16,
                         help="grouped Cassandra reads in flight (default 16)")
    rebuild.set_defaults(handler=cmd_rebuild)


async def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    count = await rebuild(settings, args.user, concurrency=args.concurrency, progress=True)
    elapsed = time.monotonic() - started
    print(f"rebuilt {count} timelines in {elapsed:.1f}s "
          f"({count / elapsed if elapsed else 0:.0f}/s)")
    return 0


async def rebuild(settings: Settings, user_ids: Sequence[int] | None = None, *,
                  concurrency: int = 16, progress: bool = False) -> int:
    """Rebuild these users' timelines (None: every active user); returns how many."""
    session = await asyncio.to_thread(cassandra.connect, settings)
    redis = redis_connect.client(settings)
    try:
        hot = RedisTimelines(redis, settings.timelines.redis_cap)
        timelines = Timelines(session, redis, hot,
                              inactive_after_days=settings.timelines.inactive_after_days)
        if user_ids is None:
            horizon = time.time() - settings.timelines.inactive_after_days * 86_400
            seen = {uid: at for uid, at in await all_activity(session) if at >= horizon}
            targets = sorted(seen)
        else:
            seen, targets = {}, list(user_ids)
        bar = tqdm(total=len(targets), unit="tl", disable=not progress)
        try:
            for i in range(0, len(targets), STEP):
                part = targets[i:i + STEP]
                await timelines.rebuild_many(part, concurrency=concurrency)
                await set_mirror(redis, hot, {uid: seen[uid] for uid in part if uid in seen})
                bar.update(len(part))
        finally:
            bar.close()
        return len(targets)
    finally:
        await redis.aclose()
        await asyncio.to_thread(session.cluster.shutdown)
