"""The originals bucket as seen by ingest: async wrappers over the synchronous minio SDK.

Every SDK call runs in ``asyncio.to_thread`` so a slow upload never stalls the event loop
(other requests, Kafka heartbeats). Connection-level failures become
:class:`StorageUnavailable`, which the service reports as 503: the client must retry,
and nothing was accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import IO, Any, TypeVar

import urllib3.exceptions
from minio import Minio
from minio.error import MinioException, S3Error

from sinks.media_keys import original_key

T = TypeVar("T")
__all__ = ["Originals", "StorageUnavailable", "original_key"]


class StorageUnavailable(RuntimeError):
    """MinIO could not be reached or failed the request (after the client's retries)."""


_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)


class Originals:
    """The originals bucket: put, stat, read the head of, remove and presign objects."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except _ERRORS as exc:
            raise StorageUnavailable(f"object store: {what} failed: {exc}") from exc

    async def put(self, key: str, data: IO[bytes], size: int, content_type: str) -> None:
        """Store ``size`` bytes read from ``data`` (multipart for big files, bounded memory)."""
        await self._call(
            "put", self.client.put_object, self.bucket, key, data, size, content_type=content_type
        )

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None if there is no such object."""
        try:
            info = await asyncio.to_thread(self.client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
                return None
            raise StorageUnavailable(f"object store: stat failed: {exc}") from exc
        except _ERRORS as exc:
            raise StorageUnavailable(f"object store: stat failed: {exc}") from exc
        return int(info.size or 0)

    async def head(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes of an object (one ranged GET), for sniffing."""

        def read() -> bytes:
            response = self.client.get_object(self.bucket, key, offset=0, length=length)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return await self._call("ranged get", read)

    async def remove(self, key: str) -> None:
        await self._call("remove", self.client.remove_object, self.bucket, key)

    async def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A URL the client can PUT the object to directly, valid ``ttl_seconds``."""
        url = await self._call(
            "presign", self.client.presigned_put_object, self.bucket, key,
            expires=timedelta(seconds=ttl_seconds),
        )
        return url

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the bucket answers (readiness probe)."""
        exists = await self._call("bucket check", self.client.bucket_exists, self.bucket)
        if not exists:
            raise StorageUnavailable(f"bucket {self.bucket} does not exist")
