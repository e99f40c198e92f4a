"""Response models of the read API: the documented shapes (``/openapi.json``, ``/docs``).

Routes build plain dicts and return them serialized by orjson
(:class:`api.routes.common.JSON`, no per-request pydantic pass over the body); these models
declare what those dicts are, and the schemathesis run checks answers against them.
Ids are strings: 64-bit ids do not fit a JavaScript number.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class UserRef(BaseModel):
    user_id: str
    username: str
    display_name: str


class Image(BaseModel):
    url: str
    width: int
    height: int
    avif: str | None = None  # the same image as AVIF (large and medium), about half the bytes


class Video(BaseModel):
    """MP4 renditions (H.264 + AAC, faststart) of a video or an animated GIF."""

    url: str
    width: int
    height: int
    small: Image | None  # for slow connections (absent when the clip is that small already)
    duration_ms: int | None
    loop: bool  # an animated GIF: loop it, muted, without controls


class Placeholder(BaseModel):
    color: str | None
    blurhash: str | None


class MediaItem(BaseModel):
    """One photo or video of an album post, in the author's order."""

    media_id: str
    media_kind: str
    width: int | None
    height: int | None
    placeholder: Placeholder
    images: dict[str, Image]
    alt_text: str


class PhotoCard(BaseModel):
    photo_id: str
    author: UserRef
    status: Literal["processing", "ready", "failed"]
    failure_reason: str | None
    media_kind: str
    caption: str
    title: str
    location: str | None
    created_at: str
    width: int | None
    height: int | None
    placeholder: Placeholder
    images: dict[str, Image]
    video: Video | None = None
    like_count: int
    comment_count: int
    liked_by_me: bool
    item_count: int
    """How many media the post holds (1: a single photo; more: an album)."""
    alt_text: str
    """The shown image's alt text (an album's: its cover's)."""
    sensitive: bool
    content_warning: str
    items: list[MediaItem] | None
    """Every item of an album, on ``GET /v1/photos/{id}`` only (null elsewhere)."""


class PostItemState(BaseModel):
    media_id: str
    status: Literal["processing", "ready", "failed"]
    reason: str | None


class PostState(BaseModel):
    """An album post's assembly, for its owner: which items made it and why not."""

    post_id: str
    status: Literal["pending", "publishing", "published", "failed"]
    ready_by: str | None
    items: list[PostItemState]


class PhotoPage(BaseModel):
    items: list[PhotoCard]
    next_cursor: str | None


class NewPosts(BaseModel):
    new_posts: bool


class UserPage(BaseModel):
    items: list[UserRef]
    next_cursor: str | None


class Comment(BaseModel):
    comment_id: str
    user: UserRef
    text: str
    created_at: str | None


class CommentPage(BaseModel):
    items: list[Comment]
    next_cursor: str | None


class Counts(BaseModel):
    photos: int
    followers: int
    following: int


class Profile(BaseModel):
    user_id: str
    username: str
    display_name: str
    bio: str
    private: bool
    counts: Counts
    follow_state: Literal["none", "requested", "following", "self"]
    can_view: bool
    #: The caller blocked / muted this account (never says whether it blocked the caller).
    blocking: bool
    muting: bool
    #: Signed URLs of the avatar (400x400, and 120x120) and header (1500x500); null
    #: until one is set (``PUT /v1/me/avatar``, ``/v1/me/header``) and rendered.
    avatar_url: str | None = None
    avatar_small_url: str | None = None
    header_url: str | None = None


class SearchResult(BaseModel):
    users: list[UserRef]
    photos: list[PhotoCard]


class Hashtag(BaseModel):
    tag: str
    count: int


class Explore(BaseModel):
    hashtags: list[Hashtag]
    photos: list[PhotoCard]


class StoryItem(BaseModel):
    story_id: str
    posted_at: str
    expires_at: str
    media_url: str


class StoryReel(BaseModel):
    user: UserRef
    stories: list[StoryItem]


class StoryTray(BaseModel):
    tray: list[StoryReel]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
    #: Read API only: ``up`` or ``down: <error>`` per store (``redis``, ``cassandra``).
    mode: dict[str, str] | None = None
