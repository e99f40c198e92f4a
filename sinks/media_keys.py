"""The ONE place that knows where photo objects live in MinIO.

Keys are pure functions of the photo id (and derivative name), never of time or of a
random token, so that every retry and every at-least-once redelivery of an upload writes
to exactly the same objects: re-processing overwrites identical bytes instead of
leaving orphans behind. Ingest writes the original to :func:`original_key` in the
originals bucket; the media processor writes derivatives to :func:`derivative_key` in
the media bucket and publishes those keys in ``photo.processed``. Stories are stored
as uploaded (no derivatives: they live 24 hours) by ingest under :func:`story_key` in the
media bucket, and ``story.posted`` carries that key. Avatars and headers live per user
(:func:`profile_original_key`, :func:`profile_image_key`), so deleting an account removes
every image it ever had by prefix (:func:`profile_images_prefix`).
"""

from __future__ import annotations

ORIGINALS_PREFIX = "originals/"
DERIVATIVES_PREFIX = "photos/"
STORIES_PREFIX = "stories/"
PROFILES_PREFIX = "profiles/"
DERIVATIVE_EXTENSION = ".jpg"
#: Derivatives that are MP4 renditions of a video or animated GIF; every other is a JPEG.
VIDEO_DERIVATIVES = frozenset({"video", "video_small"})
VIDEO_EXTENSION = ".mp4"
#: AVIF twins of JPEG derivatives (``large_avif``: the large derivative as AVIF).
AVIF_DERIVATIVES = frozenset({"large_avif", "medium_avif"})
AVIF_EXTENSION = ".avif"
#: Derivatives are content-addressed by (photo id, name) and never change once written,
#: so browsers and CDNs may keep them for a year without revalidating.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"


def original_key(photo_id: int) -> str:
    """Key of the uploaded original in the originals bucket: ``originals/<photo_id>``."""
    _check_id(photo_id)
    return f"{ORIGINALS_PREFIX}{photo_id}"


def derivative_key(photo_id: int, name: str) -> str:
    """Key of one derivative in the media bucket: ``photos/<photo_id>/<name>.jpg``, or
    ``.mp4`` for a video rendition, ``.avif`` for an AVIF twin (the extension tells a
    download what it holds)."""
    _check_id(photo_id)
    if not name or "/" in name:
        raise ValueError(f"invalid derivative name {name!r}")
    extension = (VIDEO_EXTENSION if name in VIDEO_DERIVATIVES else
                 AVIF_EXTENSION if name in AVIF_DERIVATIVES else DERIVATIVE_EXTENSION)
    return f"{DERIVATIVES_PREFIX}{photo_id}/{name}{extension}"


def story_key(story_id: int) -> str:
    """Key of a story's image in the media bucket: ``stories/<story_id>`` (the content
    type is the object's metadata, so the key needs no extension)."""
    _check_id(story_id)
    return f"{STORIES_PREFIX}{story_id}"


def profile_original_key(user_id: int, image_id: int) -> str:
    """Key of an uploaded avatar or header in the originals bucket:
    ``originals/profiles/<user_id>/<image_id>``."""
    _check_id(user_id)
    _check_id(image_id)
    return f"{ORIGINALS_PREFIX}{PROFILES_PREFIX}{user_id}/{image_id}"


def profile_image_key(user_id: int, image_id: int, name: str) -> str:
    """Key of one rendition of a profile image in the media bucket:
    ``profiles/<user_id>/<image_id>/<name>.jpg``."""
    _check_id(image_id)
    if not name or "/" in name:
        raise ValueError(f"invalid derivative name {name!r}")
    return f"{profile_images_prefix(user_id)}{image_id}/{name}{DERIVATIVE_EXTENSION}"


def profile_images_prefix(user_id: int) -> str:
    """Prefix of every rendition of every profile image of ``user_id`` (media bucket);
    with :data:`ORIGINALS_PREFIX` in front, of their originals (originals bucket)."""
    _check_id(user_id)
    return f"{PROFILES_PREFIX}{user_id}/"


def _check_id(photo_id: int) -> None:
    # bool is an int; a True photo id is always a bug upstream.
    if isinstance(photo_id, bool) or not isinstance(photo_id, int) or photo_id < 0:
        raise ValueError(f"photo id must be a non-negative integer, got {photo_id!r}")
