"""Mastodon entities (Account, Status, MediaAttachment) made from photostream's own views.

A Status is made from the card :class:`api.cards.Cards` built (so the visibility rule
and the hydration are exactly those of ``/v1/feed``: one path, two shapes); an Account
from the cached profile of :class:`api.views.Views`. Ids are strings, as Mastodon's are.
``content`` is the caption as HTML: escaped, line breaks as ``<br>``, hashtags linked.
"""

from __future__ import annotations

import html
import re
import time
from functools import lru_cache
from typing import Any

from api.cards import created_at
from api.profiles import image_urls
from sinks.media_urls import MediaUrls

Json = dict[str, Any]

_HASHTAG = re.compile(r"(?<![\w&])#(\w{1,100})")


@lru_cache(maxsize=16_384)
def content_html(caption: str, base: str) -> str:
    """The caption as sanitised HTML (everything escaped; only our own markup added).
    Memoised: a timeline page shows the same captions and bios again and again."""
    escaped = html.escape(caption or "")

    def tag(match: re.Match[str]) -> str:
        name = match.group(1)
        return (f'<a href="{base}/tags/{name.lower()}" class="mention hashtag" rel="tag">'
                f"#<span>{name}</span></a>")

    paragraphs = [_HASHTAG.sub(tag, part).replace("\n", "<br>")
                  for part in escaped.split("\n\n") if part]
    return "".join(f"<p>{part}</p>" for part in paragraphs)


@lru_cache(maxsize=16_384)
def tags(caption: str, base: str) -> list[Json]:
    """The hashtags of a caption (memoised like :func:`content_html`: callers must not
    mutate the list)."""
    names = dict.fromkeys(name.lower() for name in _HASHTAG.findall(caption or ""))
    return [{"name": name, "url": f"{base}/tags/{name}"} for name in names]


def account(profile: Json, counts: dict[str, int], base: str, urls: MediaUrls) -> Json:
    """The Account entity of a cached profile (``counts`` from ``Views.user_counts``).

    ``avatar`` and ``header`` are the renditions' signed URLs (Mastodon's sizes, JPEG,
    never animated, so the ``_static`` ones are the same); Mastodon's placeholder paths
    until the account has set and rendered one."""
    user_id = str(profile["id"])
    images = image_urls(profile, urls, time.time())
    avatar = images["avatar"] or f"{base}/avatars/original/missing.png"
    header = images["header"] or f"{base}/headers/original/missing.png"
    return {
        "id": user_id, "username": profile["username"], "acct": profile["username"],
        "display_name": profile["display_name"] or "", "locked": bool(profile["private"]),
        "bot": False, "discoverable": not profile["private"], "group": False,
        "indexable": not profile["private"], "noindex": bool(profile["private"]),
        "created_at": created_at(int(profile["id"]))[:10] + "T00:00:00.000Z",
        "note": content_html(profile.get("bio") or "", base),
        "url": f"{base}/@{profile['username']}", "uri": f"{base}/users/{profile['username']}",
        "avatar": avatar, "avatar_static": avatar, "header": header, "header_static": header,
        "followers_count": counts.get("followers", 0),
        "following_count": counts.get("following", 0),
        "statuses_count": counts.get("photos", 0), "last_status_at": None,
        "emojis": [], "fields": [], "roles": [],
    }


def source(profile: Json) -> Json:
    """``source`` of verify_credentials: what the account's own edit form shows."""
    return {"privacy": "private" if profile["private"] else "public", "sensitive": False,
            "language": None, "note": profile.get("bio") or "", "fields": [],
            "follow_requests_count": 0}


def media_attachment(media_id: str, images: Json, video: Json | None, alt: str,
                     blurhash: str | None, width: int | None, height: int | None) -> Json:
    """A MediaAttachment from a card's images (or video) and placeholder."""
    large = images.get("large") or images.get("medium") or next(iter(images.values()), None)
    small = images.get("small") or images.get("thumb") or large

    def meta(image: Json | None) -> Json | None:
        if image is None or not image.get("width"):
            return None
        w, h = int(image["width"]), int(image["height"])
        return {"width": w, "height": h, "size": f"{w}x{h}", "aspect": w / h if h else 1}

    if video is not None:
        kind, url = ("gifv" if video.get("loop") else "video"), video["url"]
        original = meta(video)
    else:
        kind, url = "image", large["url"] if large else None
        original = meta(large) or (
            {"width": width, "height": height, "size": f"{width}x{height}",
             "aspect": width / height} if width and height else None)
    return {
        "id": media_id, "type": kind, "url": url,
        "preview_url": small["url"] if small else None,
        "remote_url": None, "preview_remote_url": None, "text_url": None,
        "meta": {"original": original, "small": meta(small)},
        "description": alt or None, "blurhash": blurhash,
    }


def status(card: Json, author: Json, base: str) -> Json:
    """The Status entity of a card (``author``: the Account entity of its author)."""
    photo_id = card["photo_id"]
    attachments = [media_attachment(
        item["media_id"], item["images"], item.get("video"), item.get("alt_text") or "",
        item["placeholder"]["blurhash"], item["width"], item["height"])
        for item in card.get("items") or ()] or [media_attachment(
        photo_id, card["images"], card.get("video"), card.get("alt_text") or "",
        card["placeholder"]["blurhash"], card["width"], card["height"])]
    caption = card.get("caption") or ""
    url = f"{base}/@{author['username']}/{photo_id}"
    return {
        "id": photo_id, "uri": url, "url": url, "created_at": card["created_at"],
        "account": author, "content": content_html(caption, base),
        "visibility": "private" if author["locked"] else "public",
        "sensitive": bool(card.get("sensitive")),
        "spoiler_text": card.get("content_warning") or "",
        "media_attachments": attachments, "application": None,
        "mentions": [], "tags": tags(caption, base), "emojis": [],
        "reblogs_count": 0, "favourites_count": card["like_count"],
        "replies_count": card["comment_count"], "in_reply_to_id": None,
        "in_reply_to_account_id": None, "reblog": None, "poll": None, "card": None,
        "language": None, "text": None, "edited_at": None,
        "favourited": card["liked_by_me"], "reblogged": False, "muted": False,
        "bookmarked": False, "pinned": False, "filtered": [],
    }
