"""A realistic social graph for the read benchmark, bulk-loaded into Cassandra and Redis.

Why a bulk loader and not the pipeline: 200 000 photos through the media processor
would take hours of rendering on this box, and the read path does not care how rows
got there. The loader writes exactly the rows the processors would (users, usernames
and their search prefixes, both edge tables with their static counts, ready photo rows,
per-user photo lists, caption/hashtag index, like/comment counts, pull authors) and
builds every Redis timeline the way a rebuild does: the newest ``cap`` pushed photos of
the reader's followees. Cassandra is loaded once (a marker row records it); Redis is
rebuilt on every run, since it is derived state a test may have flushed.

The graph is generated deterministically (``random.Random(seed)``):

* follower counts follow a power law (Zipf-like preferential choice of followees), with
  ``celebrities`` accounts followed by more than the celebrity threshold (pulled at
  read time, as in production);
* most users follow 10-60 accounts; a ``heavy`` cohort follows 500-800 (the naive
  baseline's worst case, and the issue's "users following >= 500 accounts");
* photos are spread over authors with a heavy tail, over the last 30 days, each with
  one caption word and one hashtag from small vocabularies (so search has hits).
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.redis import RedisClient
from schemas.ids import EPOCH_MS, make_id
from sinks.media_keys import derivative_key
from sinks.pull_authors import mark_pulled
from sinks.reader_activity import set_mirror
from sinks.redis_timelines import RedisTimelines
from sinks.replica_batches import write_rows
from sinks.search_terms import fold, username_prefixes
from sinks.statements import prepared

#: The seed's "now": photos are spread over the 30 days before it.
SEED_CLOCK_MS = 1_795_000_000_000  # 2026-11-18
BASE_ID = 7_000_000_000  # bench user ids: far from the tests' random 62-bit ids
MARKER_CQL = "SELECT bio FROM users WHERE user_id = ?"
WORDS = ("sunset", "coffee", "street", "mountain", "beach", "city", "night", "forest",
         "portrait", "food", "river", "snow", "market", "garden", "bridge", "harbor")
TAGS = ("travel", "nofilter", "photooftheday", "nature", "art", "love", "summer", "bw")
SIZES = (("thumb", 150, 150), ("small", 320, 240), ("medium", 640, 480),
         ("large", 1080, 810))


@dataclass
class Graph:
    users: list[int]
    following: dict[int, list[int]]
    photos_by: dict[int, list[int]] = field(default_factory=dict)
    captions: dict[int, tuple[str, str]] = field(default_factory=dict)
    celebrities: list[int] = field(default_factory=list)
    heavy: list[int] = field(default_factory=list)

    def followers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for follower, followees in self.following.items():
            for followee in followees:
                out[followee].append(follower)
        return out

    @property
    def photo_count(self) -> int:
        return sum(len(p) for p in self.photos_by.values())


def generate(users: int, photos: int, *, celebrities: int = 3, heavy: int = 300,
             celebrity_followers: int = 12_000, threshold: int = 10_000,
             seed: int = 7) -> Graph:
    rng = random.Random(seed)
    ids = [BASE_ID + i for i in range(users)]
    stars = ids[:celebrities]
    # Popularity weights ~ 1/rank (Zipf), celebrities excluded (they are added apart).
    rest = ids[celebrities:]
    cumulative = list(itertools.accumulate(1.0 / (r + 1) ** 0.9 for r in range(len(rest))))
    total = cumulative[-1]

    def pick(n: int, me: int) -> set[int]:
        chosen: set[int] = set()
        while len(chosen) < n:
            j = bisect.bisect_left(cumulative, rng.random() * total)
            if rest[j] != me:
                chosen.add(rest[j])
        return chosen

    heavy_ids = set(rng.sample(rest, heavy))
    following: dict[int, list[int]] = {}
    for uid in ids:
        n = rng.randint(500, 800) if uid in heavy_ids else int(rng.paretovariate(1.6) * 10)
        chosen = pick(min(n, 800), uid)
        following[uid] = sorted(chosen)
    fans = rng.sample(ids[celebrities:], min(celebrity_followers, users - celebrities))
    for star in stars:
        for fan in fans[: rng.randint(celebrity_followers * 9 // 10, celebrity_followers)]:
            following[fan].append(star)
    graph = Graph(ids, following, heavy=sorted(heavy_ids))
    # Everyone above the threshold is pulled, as the fan-out planner would decide.
    graph.celebrities = sorted(u for u, f in graph.followers().items() if len(f) > threshold)
    # A fixed clock: the ids (and so every row) are the same on every run, so a seed
    # loaded once keeps matching the Redis timelines rebuilt later.
    now_ms = SEED_CLOCK_MS - EPOCH_MS
    month_ms = 30 * 86_400_000
    weights = list(itertools.accumulate(1.0 / (r + 1) ** 0.5 for r in range(users)))
    authors = ids[:]
    rng.shuffle(authors)
    authors = stars + [a for a in authors if a not in set(stars)]
    for seq in range(photos):
        author = authors[bisect.bisect_left(weights, rng.random() * weights[-1])]
        pid = make_id(now_ms - rng.randrange(month_ms), author % 8192, seq % 1024)
        graph.photos_by.setdefault(author, []).append(pid)
        graph.captions[pid] = (rng.choice(WORDS), rng.choice(TAGS))
    for plist in graph.photos_by.values():
        plist.sort(reverse=True)
    return graph


async def is_loaded(session: Session, marker: str) -> bool:
    rows = await execute(session, await prepared(session, MARKER_CQL), (BASE_ID - 1,))
    return any(row["bio"] == marker for row in rows)


async def load_cassandra(session: Session, graph: Graph, marker: str,
                         log: Any = print) -> None:
    """Every Cassandra row the processors would have written for ``graph``."""
    t0 = time.perf_counter()

    async def write(cql: str, rows: dict[int, list[tuple[Any, ...]]]) -> None:
        statement = await prepared(session, cql)
        n = await write_rows(session, statement, rows, concurrency=32, batch_rows=48)
        log(f"  {cql.split('(')[0].replace('INSERT INTO', '').strip():<18} "
            f"{n:>9,} rows  ({time.perf_counter() - t0:5.1f} s)")

    await write("INSERT INTO users (user_id, username, display_name, bio, private) "
                "VALUES (?, ?, ?, '', false)",
                {u: [(u, _name(u), f"User {u - BASE_ID}")] for u in graph.users})
    await write("INSERT INTO users_by_username (username, user_id) VALUES (?, ?)",
                {i: [(_name(u), u)] for i, u in enumerate(graph.users)})
    prefixes: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for u in graph.users:
        for p in username_prefixes(_name(u)):
            prefixes[hash(p) & 0x7FFFFFFF].append((p, fold(_name(u)), u))
    await write("INSERT INTO users_by_prefix (prefix, username, user_id) VALUES (?, ?, ?)",
                dict(prefixes))
    followers = graph.followers()
    await write("INSERT INTO followers (user_id, follower_id, follower_count) VALUES (?, ?, ?)",
                {f: [(f, x, len(xs)) for x in xs] for f, xs in followers.items()})
    await write("INSERT INTO following (user_id, followee_id, following_count) VALUES (?, ?, ?)",
                {u: [(u, f, len(fs)) for f in fs] for u, fs in graph.following.items() if fs})
    await write(_PHOTO_CQL, {pid: [_photo_row(pid, owner, graph.captions[pid])]
                             for owner, pids in graph.photos_by.items() for pid in pids})
    await write("INSERT INTO photos_by_user (owner_id, photo_id, photo_count) VALUES (?, ?, ?)",
                {o: [(o, p, len(ps)) for p in ps] for o, ps in graph.photos_by.items()})
    terms: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    tags: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for owner, pids in graph.photos_by.items():
        for pid in pids:
            word, tag = graph.captions[pid]
            terms[hash(word) & 0xFFFF].append((word, pid, owner))
            tags[hash(tag) & 0xFFFF].append((tag, pid, owner))
    await write("INSERT INTO photos_by_term (term, photo_id, owner_id) VALUES (?, ?, ?)",
                dict(terms))
    await write("INSERT INTO photos_by_hashtag (tag, photo_id, owner_id) VALUES (?, ?, ?)",
                dict(tags))
    rng = random.Random(11)
    await write("INSERT INTO likes (photo_id, like_count) VALUES (?, ?)",
                {p: [(p, rng.randint(1, 200))] for p in graph.captions if rng.random() < 0.3})
    for star in graph.celebrities:
        await mark_pulled(session, star, 0)
    await write("INSERT INTO users (user_id, username, bio) VALUES (?, 'bench_marker', ?)",
                {BASE_ID - 1: [(BASE_ID - 1, marker)]})
    log(f"  loaded in {time.perf_counter() - t0:.1f} s")


async def load_redis(redis: RedisClient, graph: Graph, cap: int) -> int:
    """Every user's hot timeline (pushed authors only) and activity: a bulk rebuild."""
    hot = RedisTimelines(redis, cap)
    stars = set(graph.celebrities)
    timelines = {}
    for uid, followees in graph.following.items():
        merged: list[int] = []
        for f in followees:
            if f not in stars:
                merged.extend(graph.photos_by.get(f, ())[:cap])
        merged.extend(graph.photos_by.get(uid, ())[:cap])
        timelines[uid] = sorted(set(merged), reverse=True)[:cap]
    items = list(timelines.items())
    for i in range(0, len(items), 500):
        await hot.replace_many(dict(items[i:i + 500]))
    now = time.time()
    await set_mirror(redis, hot, {uid: now for uid in graph.users})
    return sum(len(t) for t in timelines.values())


def _name(user_id: int) -> str:
    return f"bench{user_id - BASE_ID}"


_PHOTO_CQL = (
    "INSERT INTO photos (photo_id, owner_id, media_kind, status, width, height, derivatives, "
    "dominant_color, blurhash, caption, title) VALUES (?, ?, 'photo', 'ready', 1600, 1200, ?, "
    "'#6a8caf', 'LEHV6nWB2yk8pyo0adR*.7kCMdnj', ?, '')"
)


def _photo_row(pid: int, owner: int, caption: tuple[str, str]) -> tuple[Any, ...]:
    derivatives = orjson.dumps([
        {"name": n, "key": derivative_key(pid, n), "width": w, "height": h, "bytes": 20_000,
         "content_type": "image/jpeg"} for n, w, h in SIZES]).decode()
    return (pid, owner, derivatives, f"{caption[0]} #{caption[1]}")


async def seed(session: Session, redis: RedisClient, graph: Graph, cap: int, *,
               marker: str, log: Any = print) -> None:
    if await is_loaded(session, marker):
        log("  Cassandra already holds this seed (marker found): skipping the bulk load")
    else:
        await load_cassandra(session, graph, marker, log)
    t0 = time.perf_counter()
    entries = await load_redis(redis, graph, cap)
    log(f"  Redis timelines: {len(graph.users):,} users, {entries:,} entries "
        f"({time.perf_counter() - t0:.1f} s)")
