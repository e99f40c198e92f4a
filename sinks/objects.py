"""A small async facade over the (synchronous) minio SDK.

Why a facade: processors live on an event loop, and a blocking HTTP call there would
stall every other partition's work and the Kafka heartbeats. Each call here runs in a
worker thread (``asyncio.to_thread``). It also turns the SDK's error codes into the two
outcomes callers care about:

* :class:`ObjectNotFound`: the *record* points at nothing (an upload whose original is
  gone). That is a final answer for the record, not something to retry.
* :class:`StoreMisconfigured`: the bucket is missing or we are not allowed in. That is
  the deployment's fault; it subclasses ``ConnectionError`` so the processor runtime
  treats it as transient (retry, no commit) instead of dead-lettering good records
  while an operator fixes the configuration.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from infra.connect import s3
from infra.settings import Settings

__all__ = ["ObjectInfo", "ObjectNotFound", "ObjectStore", "StoreMisconfigured"]

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject"})
_MISCONFIGURED = frozenset({"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId",
                            "SignatureDoesNotMatch"})


class ObjectNotFound(LookupError):
    """No object under that key (the bucket itself exists)."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"s3://{bucket}/{key} not found")
        self.bucket = bucket
        self.key = key


class StoreMisconfigured(ConnectionError):
    """The bucket is missing or our credentials are refused: retry once it is fixed."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What ``stat`` tells about an object (enough to verify an upload)."""

    size: int
    content_type: str
    etag: str
    cache_control: str | None


def _translate(exc: S3Error, bucket: str, key: str) -> Exception:
    if exc.code in _NOT_FOUND:
        return ObjectNotFound(bucket, key)
    if exc.code in _MISCONFIGURED:
        return StoreMisconfigured(f"s3://{bucket}: {exc.code}: {exc.message}")
    return exc


class ObjectStore:
    """Async get/put/stat of objects in any bucket of one S3 endpoint.

    One instance per process: the underlying client keeps a connection pool and is
    thread-safe, so concurrent calls share it.
    """

    def __init__(self, client: Minio) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        return cls(s3.client(settings))

    async def get(self, bucket: str, key: str) -> bytes:
        """The whole object in memory (originals are bounded by the ingest upload limit)."""
        return await asyncio.to_thread(self._get, bucket, key)

    def _get(self, bucket: str, key: str) -> bytes:
        try:
            response = self.client.get_object(bucket, key)
        except S3Error as exc:
            raise _translate(exc, bucket, key) from exc
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    async def download(self, bucket: str, key: str, path: Path) -> None:
        """Stream the object to ``path`` (videos go to ffmpeg as files, not as bytes)."""
        await asyncio.to_thread(self._download, bucket, key, path)

    def _download(self, bucket: str, key: str, path: Path) -> None:
        try:
            self.client.fget_object(bucket, key, str(path))
        except S3Error as exc:
            raise _translate(exc, bucket, key) from exc

    async def put(self, bucket: str, key: str, data: bytes, *, content_type: str,
                  cache_control: str | None = None) -> str:
        """Write ``data`` under ``key`` (overwriting); returns the ETag.

        Overwrite is the point: keys are deterministic, so a redelivered event rewrites
        the same bytes and the store converges to one copy.
        """
        return await asyncio.to_thread(self._put, bucket, key, data, content_type,
                                       cache_control)

    def _put(self, bucket: str, key: str, data: bytes, content_type: str,
             cache_control: str | None) -> str:
        headers: dict[str, str | list[str] | tuple[str]] | None = (
            {"Cache-Control": cache_control} if cache_control else None
        )
        try:
            result = self.client.put_object(bucket, key, io.BytesIO(data), len(data),
                                            content_type=content_type, metadata=headers)
        except S3Error as exc:
            raise _translate(exc, bucket, key) from exc
        return str(result.etag)

    async def put_file(self, bucket: str, key: str, path: Path, *, content_type: str,
                       cache_control: str | None = None) -> str:
        """Write the file at ``path`` under ``key`` (overwriting), streamed in parts: video
        renditions are files, and may be larger than we want in memory."""
        return await asyncio.to_thread(self._put_file, bucket, key, path, content_type,
                                       cache_control)

    def _put_file(self, bucket: str, key: str, path: Path, content_type: str,
                  cache_control: str | None) -> str:
        headers: dict[str, str | list[str] | tuple[str]] | None = (
            {"Cache-Control": cache_control} if cache_control else None
        )
        try:
            result = self.client.fput_object(bucket, key, str(path), content_type=content_type,
                                             metadata=headers)
        except S3Error as exc:
            raise _translate(exc, bucket, key) from exc
        return str(result.etag)

    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        """Size, type, ETag and Cache-Control of the object; None when there is none."""
        return await asyncio.to_thread(self._stat, bucket, key)

    def _stat(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            st = self.client.stat_object(bucket, key)
        except S3Error as exc:
            err = _translate(exc, bucket, key)
            if isinstance(err, ObjectNotFound):
                return None
            raise err from exc
        meta = st.metadata or {}
        return ObjectInfo(
            size=int(st.size or 0),
            content_type=str(st.content_type or ""),
            etag=str(st.etag or ""),
            cache_control=meta.get("Cache-Control"),
        )

    async def exists(self, bucket: str, key: str) -> bool:
        return await self.stat(bucket, key) is not None

    async def remove(self, bucket: str, key: str) -> None:
        """Delete one object; deleting one that is not there succeeds (S3 semantics)."""
        await asyncio.to_thread(self._remove, bucket, [key])

    async def remove_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; returns how many were."""
        return await asyncio.to_thread(self._remove_prefix, bucket, prefix)

    def _remove_prefix(self, bucket: str, prefix: str) -> int:
        try:
            keys = [str(o.object_name) for o in
                    self.client.list_objects(bucket, prefix=prefix, recursive=True)]
        except S3Error as exc:
            raise _translate(exc, bucket, prefix) from exc
        self._remove(bucket, keys)
        return len(keys)

    def _remove(self, bucket: str, keys: list[str]) -> None:
        if not keys:
            return
        try:
            failed = list(self.client.remove_objects(
                bucket, [DeleteObject(key) for key in keys]))
        except S3Error as exc:
            raise _translate(exc, bucket, keys[0]) from exc
        if failed:  # the iterator yields only the objects it could not delete
            raise ConnectionError(f"s3://{bucket}: {len(failed)} objects not deleted: "
                                  f"{failed[0].code}: {failed[0].message}")
