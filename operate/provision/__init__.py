"""Schema bootstrap (``photostream stack init``): topics, CQL migrations, buckets.

Each step is declarative and idempotent, so running it on every ``up`` is safe and a
second run changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from infra.settings import Settings

log = logging.getLogger(__name__)


async def apply_all(settings: Settings) -> dict[str, list[str]]:
    """Apply topics, migrations and buckets concurrently; returns what each step changed."""
    from operate.provision.buckets import apply_buckets
    from operate.provision.migrations import apply_migrations
    from operate.provision.topics import apply_topics

    topics, migrations, buckets = await asyncio.gather(
        apply_topics(settings), apply_migrations(settings), apply_buckets(settings)
    )
    return {"topics": topics, "migrations": migrations, "buckets": buckets}
