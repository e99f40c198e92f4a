"""Create the MinIO buckets photostream writes to (the names live in settings)."""

from __future__ import annotations

import asyncio

from infra.connect import s3
from infra.settings import Settings


def bucket_names(settings: Settings) -> list[str]:
    return [settings.s3.originals_bucket, settings.s3.media_bucket]


async def apply_buckets(settings: Settings) -> list[str]:
    """Make every missing bucket; returns the ones created."""
    client = s3.client(settings)

    def ensure(name: str) -> bool:
        if client.bucket_exists(name):
            return False
        client.make_bucket(name, location=settings.s3.region)
        return True

    created = await asyncio.gather(*(asyncio.to_thread(ensure, b) for b in bucket_names(settings)))
    return [b for b, made in zip(bucket_names(settings), created, strict=True) if made]
