"""HTTP routes of the write side beyond uploads (see docs/http-api.md, "Ingest").

Thin: parse and type the request, call :class:`producers.ingest.writes.Writes`, answer
202 once the event is acknowledged by Kafka. Unreachable backends become 503 problems
(:mod:`producers.ingest.outages`). Ids travel as JSON strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from infra.http.problems import PROBLEM_JSON
from producers.ingest.accounts import ProfileChange
from producers.ingest.deps import CurrentUser, SettingsDep, WriteService
from producers.ingest.limits import per_address, per_user
from producers.ingest.multipart import read_upload_form
from producers.ingest.writes import Writes
from schemas.profile_images import ProfileImageKind

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem details (RFC 9457)"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (401, 403, 404, 413, 415, 422, 429, 503)
}
MAX_ID = 2**63 - 1

PhotoId = Annotated[int, Path(ge=0, le=MAX_ID, description="the photo id (decimal)")]
UserId = Annotated[int, Path(ge=0, le=MAX_ID, description="the user id (decimal)")]
CommentId = Annotated[int, Path(ge=0, le=MAX_ID, description="the comment id (decimal)")]

photos = APIRouter(prefix="/v1/photos", tags=["photos"], responses=_ERRORS)
social = APIRouter(prefix="/v1", tags=["social"], responses=_ERRORS)
stories = APIRouter(prefix="/v1/stories", tags=["stories"], responses=_ERRORS)
dev = APIRouter(prefix="/v1/dev", tags=["development"], responses=_ERRORS)


class Accepted(BaseModel):
    """The event is on Kafka; the processors will apply it shortly."""

    status: Literal["accepted"] = "accepted"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptionIn(_Body):
    caption: str | None = None
    title: str | None = None


class CommentIn(_Body):
    text: str


class CommentOut(BaseModel):
    comment_id: str


class ProfileIn(_Body):
    display_name: str | None = None
    bio: str | None = None
    private: bool | None = None


class StoryOut(BaseModel):
    story_id: str


class SessionIn(_Body):
    username: str = Field(description="1-30 characters of a-z, 0-9, '.', '_'")


class SessionOut(BaseModel):
    token: str
    user_id: str
    username: str
    created: bool


@photos.delete("/{photo_id}", status_code=202, dependencies=[per_user("edits")])
async def delete_photo(photo_id: PhotoId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Delete one of your photos (``photo.deleted``)."""
    await writes.posts.delete(user, photo_id)
    return Accepted()


@photos.patch("/{photo_id}", status_code=202, dependencies=[per_user("edits")])
async def edit_caption(photo_id: PhotoId, body: CaptionIn, user: CurrentUser,
                       writes: WriteService) -> Accepted:
    """Replace caption and/or title of one of your photos (``photo.caption_edited``)."""
    await writes.posts.edit(user, photo_id, body.caption, body.title)
    return Accepted()


@photos.post("/{photo_id}/likes", status_code=202, dependencies=[per_user("likes")])
async def like(photo_id: PhotoId, user: CurrentUser, writes: WriteService) -> Accepted:
    await writes.posts.like(user, photo_id, liked=True)
    return Accepted()


@photos.delete("/{photo_id}/likes", status_code=202, dependencies=[per_user("likes")])
async def unlike(photo_id: PhotoId, user: CurrentUser, writes: WriteService) -> Accepted:
    await writes.posts.like(user, photo_id, liked=False)
    return Accepted()


@photos.post("/{photo_id}/comments", status_code=202, dependencies=[per_user("comments")])
async def comment(photo_id: PhotoId, body: CommentIn, user: CurrentUser,
                  writes: WriteService) -> CommentOut:
    comment_id = await writes.posts.comment(user, photo_id, body.text)
    return CommentOut(comment_id=str(comment_id))


@photos.delete("/{photo_id}/comments/{comment_id}", status_code=202,
               dependencies=[per_user("comments")])
async def delete_comment(photo_id: PhotoId, comment_id: CommentId, user: CurrentUser,
                         writes: WriteService) -> Accepted:
    """Delete a comment: your own, or any on your photo."""
    await writes.posts.delete_comment(user, photo_id, comment_id)
    return Accepted()


@social.post("/users/{user_id}/follow", status_code=202, dependencies=[per_user("follows")])
async def follow(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Follow (public account) or ask to follow (private account)."""
    await writes.accounts.follow(user, user_id)
    return Accepted()


@social.delete("/users/{user_id}/follow", status_code=202, dependencies=[per_user("follows")])
async def unfollow(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Unfollow, or withdraw a pending request."""
    await writes.accounts.unfollow(user, user_id)
    return Accepted()


@social.post("/users/{user_id}/block", status_code=202, dependencies=[per_user("follows")])
async def block(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Block an account (``block.added``): the follows between you go both ways, and
    neither of you sees the other's posts, comments, likes or stories; following,
    liking and commenting across the block answer 403."""
    await writes.blocks.block(user, user_id, on=True)
    return Accepted()


@social.delete("/users/{user_id}/block", status_code=202, dependencies=[per_user("follows")])
async def unblock(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Unblock (``block.removed``): visible to each other again; the follows stay gone."""
    await writes.blocks.block(user, user_id, on=False)
    return Accepted()


@social.post("/users/{user_id}/mute", status_code=202, dependencies=[per_user("follows")])
async def mute(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Mute an account (``mute.added``): its posts leave your home feed, nothing else."""
    await writes.blocks.mute(user, user_id, on=True)
    return Accepted()


@social.delete("/users/{user_id}/mute", status_code=202, dependencies=[per_user("follows")])
async def unmute(user_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    """Unmute (``mute.removed``): its posts are back in your home feed."""
    await writes.blocks.mute(user, user_id, on=False)
    return Accepted()


@social.post("/follow-requests/{follower_id}/approve", status_code=202,
             dependencies=[per_user("follows")])
async def approve(follower_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    await writes.accounts.decide(user, follower_id, approve=True)
    return Accepted()


@social.post("/follow-requests/{follower_id}/reject", status_code=202,
             dependencies=[per_user("follows")])
async def reject(follower_id: UserId, user: CurrentUser, writes: WriteService) -> Accepted:
    await writes.accounts.decide(user, follower_id, approve=False)
    return Accepted()


@social.patch("/me", status_code=202, dependencies=[per_user("edits")])
async def update_me(body: ProfileIn, user: CurrentUser, writes: WriteService) -> Accepted:
    """Change display name, bio or privacy (omitted fields keep their value)."""
    change = ProfileChange(display_name=body.display_name, bio=body.bio, private=body.private)
    await writes.accounts.update_profile(user, change)
    return Accepted()


@social.delete("/me", status_code=202, dependencies=[per_user("edits")])
async def delete_me(user: CurrentUser, writes: WriteService) -> Accepted:
    """Delete your account (``user.deleted``): your tokens stop working with this answer;
    your profile, photos (and their files), comments, likes, follows, timeline entries
    and search entries are removed by the processors within seconds (docs/http-api.md)."""
    await writes.accounts.delete_account(user)
    return Accepted()


@social.post("/me/sessions/revoke", status_code=202)
async def revoke_sessions(user: CurrentUser, writes: WriteService) -> Accepted:
    """Sign out everywhere: every token of yours issued before now is refused from now on
    (``user.sessions_revoked``). Sign in again for a new one."""
    await writes.accounts.revoke_sessions(user)
    return Accepted()


_STORY_BODY = {"requestBody": {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}},
}}


@stories.post("", status_code=202, dependencies=[per_user("uploads")],
              openapi_extra=_STORY_BODY)
async def post_story(request: Request, user: CurrentUser, settings: SettingsDep,
                     writes: WriteService) -> StoryOut:
    """Post a 24-hour story: ``multipart/form-data`` with an image ``file``."""
    form = await read_upload_form(request, max_file_bytes=settings.ingest.max_upload_bytes)
    try:
        story_id = await writes.stories.post(user, form)
    finally:
        form.close()
    return StoryOut(story_id=str(story_id))


class ProfileImageOut(BaseModel):
    """The file passed the door; the profile shows it once rendered (seconds)."""

    image_id: str
    status: Literal["processing"] = "processing"


async def _profile_image(request: Request, user: int, writes: Writes,
                         kind: ProfileImageKind) -> ProfileImageOut:
    images = writes.profile_images
    form = await read_upload_form(request, max_file_bytes=images.max_bytes)
    try:
        image_id = await images.upload(user, kind, form)
    finally:
        form.close()
    return ProfileImageOut(image_id=str(image_id))


@social.put("/me/avatar", status_code=202, dependencies=[per_user("edits")],
            openapi_extra=_STORY_BODY)
async def set_avatar(request: Request, user: CurrentUser,
                     writes: WriteService) -> ProfileImageOut:
    """Set your avatar: ``multipart/form-data`` with an image ``file`` (at most
    ``PHOTOSTREAM_MAX_PROFILE_IMAGE_BYTES``), cut to 400x400 and 120x120. 413 too large,
    415 not an image, 422 a header that does not parse; a file the render refuses
    leaves your avatar as it was."""
    return await _profile_image(request, user, writes, "avatar")


@social.put("/me/header", status_code=202, dependencies=[per_user("edits")],
            openapi_extra=_STORY_BODY)
async def set_header(request: Request, user: CurrentUser,
                     writes: WriteService) -> ProfileImageOut:
    """Set your profile header: as ``PUT /v1/me/avatar``, cut to 1500x500."""
    return await _profile_image(request, user, writes, "header")


@dev.post("/session", dependencies=[per_address("sign_ins")])
async def dev_session(body: SessionIn, writes: WriteService) -> SessionOut:
    """Development only (``PHOTOSTREAM_ENV=dev``): a token for ``username``, registering
    the account first if it does not exist."""
    session = await writes.accounts.dev_session(body.username)
    return SessionOut(token=session.token, user_id=str(session.user_id),
                      username=session.username, created=session.created)
