"""A small social world on the cluster: users, follows, uploads, and what to check."""

from __future__ import annotations

import httpx
from cassandra.cluster import Session

from bench.world import World, follow_world
from infra.http.auth import mint
from infra.settings import Settings
from sinks import photos as photo_rows
from tests.cluster.fleet import upload
from tests.support.images import numbered_jpeg

PRODUCER = "photostream-cluster-tests"


async def make_world(settings: Settings, session: Session, followers: int = 3) -> World:
    """One public author followed by ``followers`` users, edges visible in Cassandra."""
    return await follow_world(settings, session, followers, producer=PRODUCER)


async def upload_one(client: httpx.AsyncClient, settings: Settings, author: int,
                     index: int) -> int | None:
    """One upload; its photo id if accepted (202), None if refused or unreachable."""
    try:
        response = await upload(client, mint(author, settings), numbered_jpeg(index),
                                f"cluster #{index}")
    except httpx.HTTPError:
        return None
    return int(response.json()["photo_id"]) if response.status_code == 202 else None


async def all_ready(session: Session, photo_ids: list[int]) -> bool:
    rows = await photo_rows.get_photos(session, photo_ids)
    return len(rows) == len(photo_ids) and all(r.ready for r in rows.values())
