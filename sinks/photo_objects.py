"""A deleted photo's objects in MinIO (its original and every derivative), and a deleted
account's avatars and headers, removed.

Why a photo's deletion reaches MinIO at all: the read side stops showing a deleted
photo at once, but derivative keys are public paths of the media bucket, and a deleted
account's pictures must not outlive it anywhere. Keys are deterministic
(:mod:`sinks.media_keys`), so removal is idempotent and needs no record of what was
written: the derivatives are everything under the photo's prefix, whatever renditions
(video posters included) the media processor made.
"""

from __future__ import annotations

from infra.settings import Settings
from sinks.media_keys import (
    DERIVATIVES_PREFIX,
    ORIGINALS_PREFIX,
    original_key,
    profile_images_prefix,
)
from sinks.objects import ObjectStore


def derivatives_prefix(photo_id: int) -> str:
    """The prefix under which every derivative of ``photo_id`` lives."""
    return f"{DERIVATIVES_PREFIX}{int(photo_id)}/"


async def remove_photo_objects(store: ObjectStore, settings: Settings, photo_id: int) -> int:
    """Delete the original and the derivatives of ``photo_id``; returns derivatives removed.

    Safe to repeat (nothing there is success) and to run before the media processor
    has written anything: a ``photo.processed`` that meets the deletion's tombstone runs
    this again (:mod:`processors.metadata`).
    """
    await store.remove(settings.s3.originals_bucket, original_key(photo_id))
    return await store.remove_prefix(settings.s3.media_bucket, derivatives_prefix(photo_id))


async def remove_profile_images(store: ObjectStore, settings: Settings, user_id: int) -> int:
    """Delete every avatar and header of ``user_id``, originals and renditions; returns
    renditions removed. For a deleted account: idempotent like :func:`remove_photo_objects`."""
    prefix = profile_images_prefix(user_id)
    await store.remove_prefix(settings.s3.originals_bucket, f"{ORIGINALS_PREFIX}{prefix}")
    return await store.remove_prefix(settings.s3.media_bucket, prefix)
