"""A small social world built through the pipeline: one public author and their followers.

The cluster tests and ``bench.ingest`` both need it (users registered and follows made by
publishing events, as upstream apps do, then waiting until the graph processor has stored
every edge), so it is written once. It lives in ``bench`` because that is the lowest floor
both callers may import: tests may import benchmarks, benchmarks may not import tests
(``tests/unit/test_layers.py``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cassandra.cluster import Session

from infra.connect.publisher import Publisher
from infra.settings import Settings
from schemas.envelope import Event, Payload, make
from schemas.graph import FollowRequested
from schemas.users import UserRegistered
from sinks.graph import is_following

#: Users per world: ids are ``<run> * WORLD_SPAN + n``, so two runs never share a user.
WORLD_SPAN = 1_000_000


@dataclass(frozen=True)
class World:
    author: int
    followers: tuple[int, ...]


async def follow_world(settings: Settings, session: Session, followers: int, *,
                       producer: str, username_prefix: str = "u",
                       timeout: float = 120) -> World:
    """One public author followed by ``followers`` users, every edge visible in Cassandra.

    Needs the graph processor running (it is what turns the events into edges). Raises
    AssertionError naming what is missing after ``timeout`` seconds.
    """
    run = int(time.time() * 1000) % 10**9
    author = run * WORLD_SPAN + 1
    fans = tuple(author + 1 + i for i in range(followers))
    events: list[Event[Payload]] = [
        make(UserRegistered(user_id=u, username=f"{username_prefix}{u}",
                            display_name=f"{username_prefix.upper()} {u}", bio="",
                            private=False), producer=producer)
        for u in (author, *fans)]
    events += [make(FollowRequested(follower_id=f, followee_id=author), producer=producer)
               for f in fans]
    async with Publisher(settings) as publisher:
        await publisher.publish_many(events)
    deadline = time.monotonic() + timeout
    while not await _all_follow(session, fans, author):
        if time.monotonic() > deadline:
            raise AssertionError(f"the graph processor did not record {followers} follows "
                                 f"of {author} within {timeout:.0f}s")
        await asyncio.sleep(0.3)
    return World(author, fans)


async def _all_follow(session: Session, fans: tuple[int, ...], author: int) -> bool:
    try:
        return all([await is_following(session, f, author) for f in fans])
    except Exception:  # a node may be restarting (cluster tests): ask again
        return False
