"""Comments as Mastodon replies: the status id of a comment, its Status entity, and
posting one (``in_reply_to_id``).

A comment is not a status in photostream: it lives in its photo's partition
(``comments``, keyed by ``photo_id``, ``comment_id``) and nothing maps a comment id
back to its photo. So a comment's status id carries both: ``"<photo_id>-<comment_id>"``
(:func:`reply_id`). Mastodon ids are strings that clients must not parse ("cast from
an integer, but not guaranteed to be a number"), and sort by length then value, so a
reply id sorts after every photo id, which only affects where clients file replies
they never page through. A reply id is never a photo id (those are digits only), so
every photo route answers it 404 as it does any other unknown id.

Comments are flat: the reply of a reply is one more comment on the same photo, whose
``in_reply_to_id`` is the photo's. Posting one publishes ``comment.added`` through the
same write path as ``POST /v1/photos/:id/comments``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.convertors import Convertor, register_url_convertor

from api.cards import created_at
from api.views import Json
from infra.http.problems import Problem
from producers.mastodon import entities
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, text
from producers.mastodon.routes import MAX_ID
from sinks.engagement import Comment

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    from producers.ingest.writes import Writes

_REPLY = r"[0-9]{1,19}-[0-9]{1,19}"
_REPLY_ID = re.compile(rf"^{_REPLY}$")
#: The longest comment (``schemas.common.CommentText``).
MAX_TEXT = 2200


def reply_id(photo_id: int, comment_id: int) -> str:
    return f"{photo_id}-{comment_id}"


def parse_reply_id(value: str) -> tuple[int, int] | None:
    """``(photo_id, comment_id)`` of a reply id; None for anything else."""
    if not _REPLY_ID.match(value):
        return None
    photo, _, comment = value.partition("-")
    if int(photo) > MAX_ID or int(comment) > MAX_ID:
        return None
    return int(photo), int(comment)


class ReplyIdConvertor(Convertor[str]):
    """``{status_id:reply}`` in a path matches reply ids only, so a route for replies can
    sit beside the photo routes' ``{status_id}`` without shadowing them."""

    regex = _REPLY

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("reply", ReplyIdConvertor())


def reply_status(photo_id: int, comment: Comment, photo: Json, author: Json,
                 base: str) -> Json:
    """The Status of a comment on ``photo`` (the photo's Status; ``author``: the
    commenter's Account). Its visibility is the photo's: a comment is seen with it."""
    return {
        "id": reply_id(photo_id, comment.comment_id),
        "uri": f"{photo['uri']}#comment-{comment.comment_id}",
        "url": f"{photo['url']}#comment-{comment.comment_id}",
        "created_at": created_at(comment.comment_id), "account": author,
        "content": entities.content_html(comment.text, base),
        "visibility": photo["visibility"], "sensitive": False, "spoiler_text": "",
        "media_attachments": [], "application": None, "mentions": [],
        "tags": entities.tags(comment.text, base), "emojis": [], "reblogs_count": 0,
        "favourites_count": 0, "replies_count": 0, "in_reply_to_id": photo["id"],
        "in_reply_to_account_id": photo["account"]["id"], "reblog": None, "poll": None,
        "card": None, "language": None, "text": None, "edited_at": None,
        "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
        "pinned": False, "filtered": [],
    }


def replied_photo(found: dict[str, Any]) -> int | None:
    """The photo ``in_reply_to_id`` names (a reply to a comment: the comment's photo);
    None when the status is no reply."""
    value = text(found, "in_reply_to_id", limit=60)
    if not value:
        return None
    if value.isdigit() and int(value) <= MAX_ID:
        return int(value)
    parsed = parse_reply_id(value)
    if parsed is None:
        raise MastodonError(404, NOT_FOUND)
    return parsed[0]


async def post_reply(request: Request, user: int, photo_id: int,
                     found: dict[str, Any]) -> int:
    """``comment.added`` on ``photo_id`` (the ``status`` text); returns the comment id.
    A reply carries no media here: a comment is text."""
    if found.get("media_ids"):
        raise MastodonError(422, "Validation failed: a reply is a comment: it cannot "
                                 "carry media_ids")
    words = text(found, "status", limit=MAX_TEXT).strip()
    if not words:
        raise MastodonError(422, "Validation failed: Text can't be blank")
    writes: Writes = request.app.state.writes
    try:
        return await writes.posts.comment(user, photo_id, words)
    except Problem as problem:
        if problem.status == 404:
            raise MastodonError(404, NOT_FOUND) from None
        raise from_problem(problem) from None
