"""Mastodon account routes beyond reading one: ``update_credentials``, ``:id/followers``,
``:id/following``, ``follow_requests`` (+ ``authorize`` / ``reject``) and
``accounts/search``.

Writes go through ingest's own paths, so they publish what ``/v1`` publishes: a profile
edit is ``user.profile_updated`` (``PATCH /v1/me``), a decision ``follow.approved`` /
``follow.rejected`` (``/v1/follow-requests/:id/approve|reject``). Reads are ``/v1``'s:
a private account's lists are empty to anyone but itself and its approved followers,
and accounts blocked either way are left out of every list (:mod:`api.visibility`).

Lists of accounts page by account id, ascending (the order the graph tables keep):
the ``Link`` ``rel="next"`` carries ``max_id`` = the last id read, which means "after
this one" here. Mastodon's ``max_id`` on these lists is an internal follow id that
clients pass back untouched, so no client can tell; there is no ``rel="prev"``.
Mounted before :mod:`.routes`, so ``/accounts/search`` is not taken for an account id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.views import Json
from api.visibility import can_view_account, visible_users
from infra.http.problems import Problem
from producers.ingest.accounts import ProfileChange
from producers.ingest.multipart import ProfileForm, read_profile_form
from producers.ingest.profile_images import KINDS
from producers.mastodon import entities
from producers.mastodon.errors import NOT_FOUND, MastodonError, from_problem, params, text
from producers.mastodon.limits import count
from producers.mastodon.oauth import Caller, needs, signed_in
from producers.mastodon.request_state import base_url, read_service, record_id, writes_of
from producers.mastodon.routes import MAX_ID
from producers.mastodon.social import _relationship
from sinks import graph, search

if TYPE_CHECKING:  # the ingest package imports this one: annotations only
    pass

router = APIRouter(tags=["mastodon"], include_in_schema=False)

ReadAccounts = Annotated[Caller, needs("read:accounts")]
WriteAccounts = Annotated[Caller, needs("write:accounts")]
ReadFollows = Annotated[Caller, needs("read:follows")]
WriteFollows = Annotated[Caller, needs("write:follows")]

#: Mastodon's defaults for account lists: 40 a page, at most 80.
DEFAULT_LIMIT, MAX_LIMIT = 40, 80
#: What a form or JSON body says for "true".
TRUE = ("1", "true", "on", "yes")


def after_of(found: dict[str, Any]) -> int:
    """The ``max_id`` cursor of an account list: page after this account id."""
    value = text(found, "max_id", limit=30)
    return int(value) if value.isdigit() and int(value) <= MAX_ID else -1


def list_limit(found: dict[str, Any]) -> int:
    value = text(found, "limit", str(DEFAULT_LIMIT), limit=10)
    return max(1, min(MAX_LIMIT, int(value))) if value.isdigit() else DEFAULT_LIMIT


async def accounts_by_id(request: Request, user_ids: list[int]) -> dict[int, Json]:
    """Account entities of ``user_ids`` that exist, in order (cached profiles, counts)."""
    svc = read_service(request)
    profiles = await svc.views.profiles(user_ids)
    present = [uid for uid in user_ids if uid in profiles]
    counts = await svc.views.users_counts(present)
    return {uid: entities.account(profiles[uid], counts[uid], base_url(request), svc.urls)
            for uid in present}


async def accounts_of(request: Request, user_ids: list[int]) -> list[Json]:
    """:func:`accounts_by_id` as a list, in the order of ``user_ids``."""
    return list((await accounts_by_id(request, user_ids)).values())


async def shown_accounts(request: Request, viewer: int, user_ids: list[int]) -> list[Json]:
    """:func:`accounts_of` without the accounts blocked either way with ``viewer``."""
    relations = await read_service(request).views.relations(viewer)
    return await accounts_of(request, visible_users(viewer, user_ids, relations))


def account_page(request: Request, accounts: list[Json], last_read: int | None) -> Response:
    """A page of accounts with ``rel="next"`` after ``last_read`` (None: the last page).

    The cursor is the last id *read*, not the last shown: a page whose accounts were all
    filtered out (blocks) still moves on."""
    response = Response(orjson.dumps(accounts), media_type="application/json")
    if last_read is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "max_id"]
        query = urlencode([*kept, ("max_id", str(last_read))])
        response.headers["Link"] = f'<{base_url(request)}{request.url.path}?{query}>; rel="next"'
    return response


# -- update_credentials --------------------------------------------------------------------

def _flag(found: dict[str, Any], name: str) -> bool | None:
    if name not in found:
        return None
    return text(found, name, limit=10).lower() in TRUE


def _edited(profile: Json, change: ProfileChange) -> Json:
    """The cached profile as the edit leaves it (what the processor is about to store)."""
    edited = {**profile}
    if change.display_name is not None:
        edited["display_name"] = change.display_name.strip()
    if change.bio is not None:
        edited["bio"] = change.bio.strip()
    if change.private is not None:
        edited["private"] = change.private
    return edited


async def _edit_form(request: Request) -> tuple[dict[str, Any], ProfileForm | None]:
    """The edit's parameters, and its files when it is multipart: read by the streaming
    parser, so an avatar or header is held to its limit while it arrives (a 413 there
    is Mastodon's 422)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        return await params(request), None
    images = writes_of(request).profile_images
    try:
        form = await read_profile_form(request, max_file_bytes=images.max_bytes,
                                       file_fields=KINDS)
    except Problem as problem:
        raise _invalid(problem) from None
    return {**dict(request.query_params.items()), **form.fields}, form


def _invalid(problem: Problem) -> MastodonError:
    if problem.status in (413, 415, 422):
        return MastodonError(422, f"Validation failed: {problem}")
    return from_problem(problem)


async def _upload_images(request: Request, user: int, form: ProfileForm) -> None:
    """Every file checked at the door first, so a refused one queues none of them."""
    images = writes_of(request).profile_images
    try:
        for upload in form.files.values():
            await images.check(upload)
        for kind in KINDS:
            if kind in form.files:
                await images.upload(user, kind, form.files[kind])
    except Problem as problem:
        raise _invalid(problem) from None


@router.patch("/api/v1/accounts/update_credentials")
async def update_credentials(request: Request, who: WriteAccounts) -> JSONResponse:
    """Display name, note (the bio) and ``locked`` (private): ``user.profile_updated``,
    as ``PATCH /v1/me``; ``avatar`` and ``header`` files: ``profile_image.uploaded``,
    as ``PUT /v1/me/avatar`` and ``/header``. The answer shows the new text at once, as
    Mastodon's does, while the graph processor stores it; a new avatar or header shows
    once rendered (about a second), the old one until then."""
    user = signed_in(who)
    await count(request, "edits", user)
    found, form = await _edit_form(request)
    try:
        if form is not None:
            await _upload_images(request, user, form)
    finally:
        if form is not None:
            form.close()
    change = ProfileChange(
        display_name=text(found, "display_name", limit=200) if "display_name" in found
        else None,
        bio=text(found, "note", limit=2000) if "note" in found else None,
        private=_flag(found, "locked"))
    if change != ProfileChange() or form is None or not form.files:
        try:
            await writes_of(request).accounts.update_profile(user, change)
        except Problem as problem:
            if problem.status == 422:  # a value the profile event refuses (too long)
                raise MastodonError(422, f"Validation failed: {problem}") from None
            raise from_problem(problem) from None
    svc = read_service(request)
    stored = (await svc.views.profiles([user])).get(user)
    if stored is None:
        raise MastodonError(404, NOT_FOUND)
    profile = _edited(stored, change)
    body = entities.account(profile, await svc.views.user_counts(user), base_url(request),
                            svc.urls)
    body["source"] = entities.source(profile)
    return JSONResponse(body)


# -- followers / following -----------------------------------------------------------------

async def _list(request: Request, who: Caller, account_id: str,
                kind: Literal["followers", "following"]) -> Response:
    """followers or following of an account, as ``/v1/users/:id/<kind>`` decides."""
    viewer, target = signed_in(who), record_id(account_id)
    found = await params(request)
    svc = read_service(request)
    profile = (await svc.views.profiles([target])).get(target)
    if profile is None:
        raise MastodonError(404, NOT_FOUND)
    following, relations = await svc.views.social(viewer)
    if not can_view_account(viewer, profile, following, relations):
        return account_page(request, [], None)
    limit, after = list_limit(found), after_of(found)
    if kind == "followers":
        ids = await graph.followers_page(svc.session, target, after, limit)
    else:
        ids = await graph.following_page(svc.session, target, after, limit)
    shown = await accounts_of(request, visible_users(viewer, ids, relations))
    return account_page(request, shown, ids[-1] if len(ids) == limit else None)


@router.get("/api/v1/accounts/{account_id}/followers")
async def followers(account_id: str, request: Request, who: ReadAccounts) -> Response:
    return await _list(request, who, account_id, "followers")


@router.get("/api/v1/accounts/{account_id}/following")
async def following(account_id: str, request: Request, who: ReadAccounts) -> Response:
    return await _list(request, who, account_id, "following")


# -- follow requests -----------------------------------------------------------------------

@router.get("/api/v1/follow_requests")
async def follow_requests(request: Request, who: ReadFollows) -> Response:
    """People waiting for the caller's approval (``/v1/follow-requests``), by id."""
    viewer = signed_in(who)
    found = await params(request)
    limit, after = list_limit(found), after_of(found)
    pending = sorted(await graph.pending_requests(read_service(request).session, viewer))
    ids = [uid for uid in pending if uid > after][:limit]
    shown = await shown_accounts(request, viewer, ids)
    more = len(ids) == limit and ids[-1] != pending[-1]
    return account_page(request, shown, ids[-1] if more else None)


async def _decide(request: Request, who: Caller, account_id: str, approve: bool) -> Json:
    """``follow.approved`` / ``follow.rejected`` for a pending request (404 without one);
    the answer is the requester's Relationship as it is about to be."""
    viewer, follower = signed_in(who), record_id(account_id)
    await count(request, "follows", viewer)
    try:
        await writes_of(request).accounts.decide(viewer, follower, approve=approve)
    except Problem as problem:
        if problem.status == 404:
            raise MastodonError(404, NOT_FOUND) from None
        raise from_problem(problem) from None
    state = await _relationship(read_service(request), viewer, follower)
    state.update(followed_by=approve, requested_by=False)
    return state


@router.post("/api/v1/follow_requests/{account_id}/authorize")
async def authorize(account_id: str, request: Request, who: WriteFollows) -> JSONResponse:
    return JSONResponse(await _decide(request, who, account_id, True))


@router.post("/api/v1/follow_requests/{account_id}/reject")
async def reject(account_id: str, request: Request, who: WriteFollows) -> JSONResponse:
    return JSONResponse(await _decide(request, who, account_id, False))


# -- search --------------------------------------------------------------------------------

async def find_accounts(request: Request, viewer: int, q: str, limit: int) -> list[Json]:
    """``/v1/search``'s user hits: username prefix (a leading ``@`` and any ``@domain``
    dropped: every account is local), without accounts blocked either way."""
    name = q.strip().lstrip("@").partition("@")[0]
    if not name:
        return []
    found = await search.users_with_prefix(read_service(request).session, name, limit=limit)
    return await shown_accounts(request, viewer, [uid for _, uid in found])


@router.get("/api/v1/accounts/search")
async def account_search(request: Request, who: ReadAccounts) -> JSONResponse:
    """``q`` a username prefix; ``limit`` (40, at most 80); ``resolve`` and
    ``following`` are ignored (every account is local; see docs/mastodon-api.md)."""
    found = await params(request)
    q = text(found, "q", limit=100)
    return JSONResponse(await find_accounts(request, signed_in(who), q, list_limit(found)))

