"""Mastodon status routes beyond reading and favouriting one: ``DELETE``,
``favourited_by``, ``context``, a reply's ``GET`` and the answer to posting a reply.

A status is a photo post, or a comment on one (its id a reply id, :mod:`.replies`).
Every read hydrates the photo through :meth:`api.cards.Cards.cards`, the one visibility
rule, so a reply is seen exactly when its photo is, and likers and commenters blocked
either way with the caller are left out as ``/v1/photos/:id/likes|comments`` leave
them out. Deletion publishes ``/v1``'s events: ``photo.deleted`` for a post (its owner
only), ``comment.deleted`` for a reply (its author or the photo's owner, as ``/v1``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.views import Json
from api.visibility import can_see_user, visible_users
from infra.http.problems import Problem
from producers.mastodon import replies
from producers.mastodon.accounts import account_page, accounts_by_id, after_of, list_limit
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import base_url, read_service, record_id, writes_of
from producers.mastodon.routes import account_of, statuses_of
from sinks import engagement
from sinks.engagement import Comment

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    pass

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadStatuses = Annotated[Caller, needs("read:statuses")]
ReadAccounts = Annotated[Caller, needs("read:accounts")]
WriteStatuses = Annotated[Caller, needs("write:statuses")]

#: The newest comments a context lists (Mastodon lists a whole thread; ours are flat).
CONTEXT_REPLIES = 200


async def photo_status(request: Request, viewer: int, photo_id: int) -> tuple[Json, Json]:
    """The card and Status of a photo ``viewer`` may see; 404 as if absent otherwise."""
    cards = await read_service(request).cards.cards(viewer, [photo_id], with_items=True)
    found = await statuses_of(request, viewer, cards)
    if not found:
        raise MastodonError(404, NOT_FOUND)
    return cards[0], found[0]


async def _reply(request: Request, viewer: int, status_id: str
                 ) -> tuple[Json, Comment, Json]:
    """The photo Status, the comment and its Status of a reply id ``viewer`` may see."""
    parsed = replies.parse_reply_id(status_id)
    if parsed is None:
        raise MastodonError(404, NOT_FOUND)
    photo_id, comment_id = parsed
    _, photo = await photo_status(request, viewer, photo_id)
    svc = read_service(request)
    comment, relations = await asyncio.gather(
        engagement.get_comment(svc.session, photo_id, comment_id),
        svc.views.relations(viewer))
    if comment is None or not can_see_user(viewer, comment.user_id, relations):
        raise MastodonError(404, NOT_FOUND)
    author = (await accounts_by_id(request, [comment.user_id])).get(comment.user_id)
    if author is None:
        raise MastodonError(404, NOT_FOUND)
    return photo, comment, replies.reply_status(photo_id, comment, photo, author,
                                                base_url(request))


@router.get("/api/v1/statuses/{status_id:reply}")
async def get_reply(status_id: str, request: Request, who: ReadStatuses) -> JSONResponse:
    """A comment as a Status (photo ids are :mod:`.routes`' ``GET``)."""
    _, _, status = await _reply(request, signed_in(who), status_id)
    return JSONResponse(status)


# -- delete --------------------------------------------------------------------------------

def _refused(problem: Problem) -> MastodonError:
    """Ingest's refusal as Mastodon answers it: someone else's status is not found
    among the caller's own (404); a photo that is an album's item is not a status."""
    if problem.status in (403, 404):
        return MastodonError(404, NOT_FOUND)
    if problem.status == 409:
        return MastodonError(422, f"Validation failed: {problem}")
    return from_problem(problem)


@router.delete("/api/v1/statuses/{status_id}")
async def delete_status(status_id: str, request: Request, who: WriteStatuses) -> JSONResponse:
    """Delete a post (``photo.deleted``, owner only) or a reply (``comment.deleted``);
    the answer is the deleted Status with its source ``text``, for "delete and
    redraft", as Mastodon's is."""
    viewer = signed_in(who)
    if replies.parse_reply_id(status_id) is not None:
        photo, comment, status = await _reply(request, viewer, status_id)
        await count(request, "comments", viewer)
        try:
            await writes_of(request).posts.delete_comment(viewer, int(photo["id"]),
                                                        comment.comment_id)
        except Problem as problem:
            raise _refused(problem) from None
        return JSONResponse({**status, "text": comment.text})
    card, status = await photo_status(request, viewer, record_id(status_id))
    if status["account"]["id"] != str(viewer):
        raise MastodonError(404, NOT_FOUND)
    await count(request, "edits", viewer)
    try:
        await writes_of(request).posts.delete(viewer, int(status["id"]))
    except Problem as problem:
        raise _refused(problem) from None
    return JSONResponse({**status, "text": card.get("caption") or ""})


# -- favourited_by -------------------------------------------------------------------------

@router.get("/api/v1/statuses/{status_id}/favourited_by")
async def favourited_by(status_id: str, request: Request, who: ReadAccounts) -> Response:
    """Who likes the post, by account id (``/v1/photos/:id/likes``); ``max_id`` is the
    last id of the previous page (see :mod:`.accounts`). A reply has no likes."""
    viewer = signed_in(who)
    if replies.parse_reply_id(status_id) is not None:
        await _reply(request, viewer, status_id)
        return account_page(request, [], None)
    _, status = await photo_status(request, viewer, record_id(status_id))
    found = await params(request)
    limit, after = list_limit(found), after_of(found)
    svc = read_service(request)
    ids, relations = await asyncio.gather(
        engagement.likers(svc.session, int(status["id"]), after, limit),
        svc.views.relations(viewer))
    shown = await accounts_by_id(request, visible_users(viewer, ids, relations))
    return account_page(request, list(shown.values()),
                        ids[-1] if len(ids) == limit else None)


# -- context -------------------------------------------------------------------------------

async def _descendants(request: Request, viewer: int, photo: Json) -> list[Json]:
    """The photo's newest comments as replies to it, oldest first (thread order)."""
    svc = read_service(request)
    photo_id = int(photo["id"])
    rows, relations = await asyncio.gather(
        engagement.recent_comments(svc.session, photo_id, CONTEXT_REPLIES),
        svc.views.relations(viewer))
    shown = [c for c in reversed(rows) if can_see_user(viewer, c.user_id, relations)]
    authors = await accounts_by_id(request, list({c.user_id for c in shown}))
    base = base_url(request)
    return [replies.reply_status(photo_id, c, photo, authors[c.user_id], base)
            for c in shown if c.user_id in authors]


@router.get("/api/v1/statuses/{status_id}/context")
async def context(status_id: str, request: Request, who: ReadStatuses) -> JSONResponse:
    """A post: no ancestors, its comments as descendants. A reply: its photo as the
    one ancestor, no descendants (comments are flat)."""
    viewer = signed_in(who)
    if replies.parse_reply_id(status_id) is not None:
        photo, _, _ = await _reply(request, viewer, status_id)
        return JSONResponse({"ancestors": [photo], "descendants": []})
    _, photo = await photo_status(request, viewer, record_id(status_id))
    return JSONResponse({"ancestors": [],
                         "descendants": await _descendants(request, viewer, photo)})


# -- posting a reply -----------------------------------------------------------------------

async def post_reply(request: Request, user: int, photo_id: int,
                     found: dict[str, Any]) -> Json:
    """``POST /api/v1/statuses`` with ``in_reply_to_id``: a comment (``comment.added``),
    answered as its Status at once, while the engagement processor stores it."""
    _, photo = await photo_status(request, user, photo_id)
    await count(request, "comments", user)
    comment_id = await replies.post_reply(request, user, photo_id, found)
    comment = Comment(comment_id, user, text(found, "status", limit=replies.MAX_TEXT).strip(),
                      None)
    return replies.reply_status(photo_id, comment, photo, await account_of(request, user),
                                base_url(request))
