"""S3 (MinIO) client from settings.

The ``minio`` SDK is synchronous; callers on the event loop wrap its calls in
``asyncio.to_thread`` (see ``sinks/objects.py``) so uploads never block other work.
"""

from __future__ import annotations

import urllib3
from minio import Minio

from infra.settings import Settings


def client(settings: Settings) -> Minio:
    http = urllib3.PoolManager(
        maxsize=32,
        timeout=urllib3.Timeout(connect=5, read=60),
        retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
    )
    return Minio(
        settings.s3.endpoint,
        access_key=settings.s3.access_key,
        secret_key=settings.s3.secret_key,
        secure=settings.s3.secure,
        region=settings.s3.region,
        http_client=http,
    )
