"""A small social world on the cluster: users, follows, uploads, and what to check."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from cassandra.cluster import Session

from infra.connect.publisher import Publisher
from infra.http.auth import mint
from infra.settings import Settings
from schemas.envelope import Event, Payload, make
from schemas.graph import FollowRequested
from schemas.users import UserRegistered
from sinks import photos as photo_rows
from sinks.graph import is_following
from tests.cluster.fleet import eventually, small_jpeg, upload

PRODUCER = "photostream-cluster-tests"


@dataclass(frozen=True)
class World:
    author: int
    followers: tuple[int, ...]


async def make_world(settings: Settings, session: Session, followers: int = 3) -> World:
    """One public author followed by ``followers`` users, edges visible in Cassandra."""
    run = int(time.time() * 1000) % 10**9
    author = run * 100 + 1
    fans = tuple(run * 100 + 2 + i for i in range(followers))
    events: list[Event[Payload]] = [
        make(UserRegistered(user_id=u, username=f"u{u}", display_name=f"U {u}", bio="",
                            private=False), producer=PRODUCER)
        for u in (author, *fans)]
    events += [make(FollowRequested(follower_id=f, followee_id=author), producer=PRODUCER)
               for f in fans]
    async with Publisher(settings) as publisher:
        await publisher.publish_many(events)
    await eventually("follow edges", lambda: _all_follow(session, fans, author))
    return World(author, fans)


async def _all_follow(session: Session, fans: tuple[int, ...], author: int) -> bool:
    return all([await is_following(session, f, author) for f in fans])


async def upload_one(client: httpx.AsyncClient, settings: Settings, author: int,
                     index: int) -> int | None:
    """One upload; its photo id if accepted (202), None if refused or unreachable."""
    try:
        response = await upload(client, mint(author, settings), small_jpeg(index),
                                f"cluster #{index}")
    except httpx.HTTPError:
        return None
    return int(response.json()["photo_id"]) if response.status_code == 202 else None


async def all_ready(session: Session, photo_ids: list[int]) -> bool:
    rows = await photo_rows.get_photos(session, photo_ids)
    return len(rows) == len(photo_ids) and all(r.ready for r in rows.values())
