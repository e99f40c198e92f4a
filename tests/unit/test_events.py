"""Per-event contracts: every type round-trips, and each bad field is named precisely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import InvalidEvent, decode, encode, make
from schemas.events import (
    AlbumPosted,
    BlockAdded,
    BlockRemoved,
    CommentAdded,
    CommentDeleted,
    Derivative,
    FanoutChunk,
    FollowApproved,
    FollowRejected,
    FollowRemoved,
    FollowRequested,
    LikeAdded,
    LikeRemoved,
    MuteAdded,
    MuteRemoved,
    Payload,
    PhotoAltTextEdited,
    PhotoCaptionEdited,
    PhotoDeleted,
    PhotoFailed,
    PhotoProcessed,
    PhotoUploaded,
    Placeholder,
    ProfileImageFailed,
    ProfileImageProcessed,
    ProfileImageUploaded,
    StoryPosted,
    UserDeleted,
    UserProfileUpdated,
    UserRegistered,
    UserSessionsRevoked,
    event_classes,
)
from schemas.fanout import chunk_id
from schemas.profile_images import ProfileImageDerivative

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

SAMPLES: list[Any] = [
    PhotoUploaded(
        photo_id=1234567890123,
        owner_id=42,
        media_kind="photo",
        object_key="42/1234567890123/original",
        content_type="image/jpeg",
        size_bytes=2_000_000,
        caption="Sunset #beach ☀️",
        title="",
        location=None,
        uploaded_at=T0,
    ),
    PhotoProcessed(
        photo_id=1234567890123,
        owner_id=42,
        media_kind="video",
        original_width=1920,
        original_height=1080,
        duration_ms=15_000,
        derivatives=(
            Derivative("thumb", "42/1/thumb.jpg", 150, 150, 4_000, "image/jpeg"),
            Derivative("large", "42/1/large.webp", 1080, 608, 90_000, "image/webp"),
        ),
        placeholder=Placeholder(dominant_color="#1a2b3c", blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
        caption="c",
        title="t",
        location="Lisbon",
    ),
    PhotoFailed(photo_id=1, owner_id=2, reason="image has 80000000 pixels", stage="decode"),
    PhotoDeleted(photo_id=1, owner_id=2),
    PhotoCaptionEdited(photo_id=1, owner_id=2, caption="new", title="new title"),
    PhotoAltTextEdited(photo_id=1, owner_id=2, alt_text="a dog on a beach"),
    AlbumPosted(post_id=9, owner_id=2, media_ids=(3, 1, 2), caption="#trip", title="",
                location=None, sensitive=True, content_warning="spiders", posted_at=T0,
                ready_by=T0),
    UserRegistered(user_id=7, username="ana.s_1", display_name="Ana", bio="", private=False),
    UserProfileUpdated(user_id=7, username="ana", display_name="Ana S", bio="hi", private=True),
    UserSessionsRevoked(user_id=7, tokens_valid_after=T0),
    UserDeleted(user_id=7),
    FollowRequested(follower_id=1, followee_id=2),
    FollowApproved(follower_id=1, followee_id=2),
    FollowRejected(follower_id=1, followee_id=2),
    FollowRemoved(follower_id=1, followee_id=2),
    LikeAdded(photo_id=5, user_id=6, owner_id=7),
    LikeRemoved(photo_id=5, user_id=6, owner_id=7),
    CommentAdded(comment_id=9, photo_id=5, owner_id=7, user_id=6, text="nice!"),
    CommentDeleted(comment_id=9, photo_id=5, owner_id=7, user_id=6),
    StoryPosted(story_id=3, user_id=7, media_key="stories/3.jpg", posted_at=T0),
    ProfileImageUploaded(photo_id=5, user_id=7, kind="avatar",
                         object_key="originals/profiles/7/5", content_type="image/png",
                         size_bytes=2048, uploaded_at=T0),
    ProfileImageProcessed(photo_id=5, user_id=7, kind="avatar", uploaded_at=T0, derivatives=(
        ProfileImageDerivative(name="avatar", key="profiles/7/5/avatar.jpg", width=400,
                               height=400, bytes=9000),)),
    ProfileImageFailed(photo_id=6, user_id=7, kind="header", reason="corrupt image",
                       stage="render"),
    BlockAdded(user_id=1, target_id=2),
    BlockRemoved(user_id=1, target_id=2),
    MuteAdded(user_id=1, target_id=2),
    MuteRemoved(user_id=1, target_id=2),
    FanoutChunk(
        chunk_id=chunk_id(5, "add", 0),
        action="add",
        photo_id=5,
        owner_id=7,
        chunk_index=0,
        chunk_count=1,
        follower_ids=(1, 2, 3),
    ),
]


def sample(cls: type[Payload]) -> Payload:
    return next(p for p in SAMPLES if type(p) is cls)


def wire(payload: Payload) -> dict[str, Any]:
    """The JSON dict of a valid event carrying ``payload``."""
    return orjson.loads(encode(make(payload, producer="test", occurred_at=T0)))


def test_every_registered_type_has_a_sample():
    assert {type(p) for p in SAMPLES} == set(event_classes())


def test_all_required_types_are_registered():
    names = {c.TYPE for c in event_classes()}
    assert names >= {
        "photo.uploaded", "photo.processed", "photo.failed", "photo.deleted",
        "photo.caption_edited", "user.registered", "user.profile_updated",
        "follow.requested", "follow.approved", "follow.rejected", "follow.removed",
        "like.added", "like.removed", "comment.added", "comment.deleted", "story.posted",
    }  # fmt: skip


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: p.TYPE)
def test_round_trip(payload: Payload):
    event = make(payload, producer="ingest")
    back = decode(encode(event))
    assert back == event
    assert type(back.payload) is type(payload)
    assert back.type == payload.TYPE and back.version == payload.VERSION == 1


def test_wire_form_is_plain_json():
    data = wire(sample(PhotoUploaded))
    assert data["payload"] == {
        "photo_id": 1234567890123,
        "owner_id": 42,
        "media_kind": "photo",
        "object_key": "42/1234567890123/original",
        "content_type": "image/jpeg",
        "size_bytes": 2_000_000,
        "caption": "Sunset #beach ☀️",
        "title": "",
        "location": None,
        "uploaded_at": "2024-05-01T12:00:00.123456Z",
        "alt_text": "",
        "detached": False,
        "sensitive": False,
        "content_warning": "",
    }


def test_processed_nested_wire_form():
    data = wire(sample(PhotoProcessed))["payload"]
    assert data["derivatives"][1] == {
        "name": "large", "key": "42/1/large.webp", "width": 1080, "height": 608,
        "bytes": 90_000, "content_type": "image/webp",
    }  # fmt: skip
    assert data["placeholder"] == {
        "dominant_color": "#1a2b3c",
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    }


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``payload.a[1].b`` style paths (value ... = delete the key)."""
    parts = path.replace("[", ".[").split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last: Any = int(parts[-1][1:-1]) if parts[-1].startswith("[") else parts[-1]
    if value is ...:
        del node[last]
    else:
        node[last] = value


BAD_FIELDS = [
    (PhotoUploaded, "payload.photo_id", "1", "payload.photo_id: expected integer, got string"),
    (PhotoUploaded, "payload.photo_id", True, "payload.photo_id: expected integer, got boolean"),
    (PhotoUploaded, "payload.photo_id", 1.0, "payload.photo_id: expected integer, got number"),
    (PhotoUploaded, "payload.photo_id", None, "payload.photo_id: expected integer, got null"),
    (PhotoUploaded, "payload.owner_id", -1, "payload.owner_id: -1 is outside"),
    (PhotoUploaded, "payload.size_bytes", 2**63, "payload.size_bytes: 9223372036854775808 is"),
    (PhotoUploaded, "payload.media_kind", "gif", "payload.media_kind: expected one of"),
    (PhotoUploaded, "payload.location", ..., "payload.location: missing required field"),
    (PhotoUploaded, "payload.location", 3, "payload.location: expected string, got integer"),
    (PhotoUploaded, "payload.photoid", 1, "payload.photoid: unknown field"),
    (PhotoUploaded, "payload.uploaded_at", "2024-05-01", "payload.uploaded_at: '2024-05-01'"),
    (PhotoUploaded, "payload.uploaded_at", "2024-05-01T00:00:00", "payload.uploaded_at:"),
    (PhotoUploaded, "payload.uploaded_at", "2024-13-01T00:00:00Z", "payload.uploaded_at:"),
    (PhotoUploaded, "payload.uploaded_at", 1714564800, "payload.uploaded_at: expected RFC"),
    (PhotoUploaded, "payload.caption", "x" * 2201, "payload.caption: must be at most 2200"),
    (PhotoUploaded, "payload.object_key", "", "payload.object_key: must be at least 1"),
    (PhotoUploaded, "payload", [], "payload: expected object, got array"),
    (
        PhotoProcessed,
        "payload.derivatives[1].width",
        "1080",
        "payload.derivatives[1].width: expected integer, got string",
    ),
    (PhotoProcessed, "payload.derivatives[0].name", "huge", "payload.derivatives[0].name:"),
    (PhotoProcessed, "payload.derivatives[0].bytes", ..., "payload.derivatives[0].bytes: miss"),
    (PhotoProcessed, "payload.derivatives[0].width", 0, "payload.derivatives[0].width: 0 is"),
    (PhotoProcessed, "payload.derivatives", {}, "payload.derivatives: expected array, got obj"),
    (PhotoProcessed, "payload.derivatives[1]", "k", "payload.derivatives[1]: expected object"),
    (
        PhotoProcessed,
        "payload.placeholder.dominant_color",
        "#FFF",
        "payload.placeholder.dominant_color: must be at least 7",
    ),
    (PhotoProcessed, "payload.placeholder.blurhash", 5, "payload.placeholder.blurhash: expec"),
    (PhotoProcessed, "payload.duration_ms", 1.5, "payload.duration_ms: expected integer, got"),
    (UserRegistered, "payload.username", "Ana", "payload.username: 'Ana' does not match"),
    (UserRegistered, "payload.username", "", "payload.username: must be at least 1"),
    (UserRegistered, "payload.username", "a" * 31, "payload.username: must be at most 30"),
    (UserRegistered, "payload.username", "an a", "payload.username: 'an a' does not match"),
    (UserRegistered, "payload.private", 1, "payload.private: expected boolean, got integer"),
    (UserRegistered, "payload.private", "false", "payload.private: expected boolean, got str"),
    (FollowApproved, "payload.followee_id", "2", "payload.followee_id: expected integer"),
    (CommentAdded, "payload.text", "x" * 2201, "payload.text: must be at most 2200 characters"),
    (CommentAdded, "payload.text", "", "payload.text: must be at least 1"),
    (StoryPosted, "payload.posted_at", "yesterday", "payload.posted_at: 'yesterday'"),
    (FanoutChunk, "payload.follower_ids[2]", -3, "payload.follower_ids[2]: -3 is outside"),
    (FanoutChunk, "payload.follower_ids", list(range(10_001)), "payload.follower_ids: at most"),
]


@pytest.mark.parametrize(("cls", "path", "value", "message"), BAD_FIELDS)
def test_bad_field_is_named(cls: type[Payload], path: str, value: Any, message: str):
    data = wire(sample(cls))
    _set(data, path, value)
    with pytest.raises(InvalidEvent) as info:
        decode(orjson.dumps(data))
    assert str(info.value).startswith(message), str(info.value)
    assert info.value.field is not None
    assert path.startswith(info.value.field) or info.value.field.startswith(path)


def test_first_missing_field_in_declaration_order_is_reported():
    data = wire(sample(LikeAdded))
    data["payload"] = {"owner_id": 7}
    with pytest.raises(InvalidEvent, match=r"^payload\.photo_id: missing required field$"):
        decode(orjson.dumps(data))


def test_unicode_length_counts_code_points():
    data = wire(sample(CommentAdded))
    data["payload"]["text"] = "é" * 2200  # 4400 UTF-8 bytes but 2200 characters
    assert decode(orjson.dumps(data)).payload.text == "é" * 2200  # type: ignore[attr-defined]


def test_offset_timestamps_are_normalised_to_utc():
    data = wire(sample(StoryPosted))
    data["payload"]["posted_at"] = "2024-05-01T14:00:00.123456789+02:00"
    posted = decode(orjson.dumps(data)).payload.posted_at  # type: ignore[attr-defined]
    assert posted == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert posted.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            PhotoDeleted(photo_id=True, owner_id=1),
            "payload.photo_id: expected integer, got boolean",
        ),
        (PhotoDeleted(photo_id=1, owner_id=-5), "payload.owner_id: -5 is outside"),
        (
            StoryPosted(story_id=1, user_id=1, media_key="k", posted_at=datetime(2024, 1, 1)),
            "payload.posted_at: naive datetime",
        ),
        (
            msgspec.structs.replace(SAMPLES[1], derivatives=[]),
            "payload.derivatives: expected tuple, got array",
        ),
        (
            UserRegistered(user_id=1, username="UPPER", display_name="", bio="", private=False),
            "payload.username: 'UPPER' does not match",
        ),
    ],
)
def test_producers_cannot_build_invalid_events(payload: Payload, message: str):
    with pytest.raises(InvalidEvent) as info:
        make(payload, producer="ingest")
    assert str(info.value).startswith(message), str(info.value)


@given(st.from_regex(r"\A[a-z0-9._]{1,30}\Z"))
def test_any_valid_username_is_accepted(name: str):
    p = UserRegistered(user_id=1, username=name, display_name="", bio="", private=False)
    assert decode(encode(make(p, producer="t"))).payload == p


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)  # fmt: skip


@given(st.sampled_from(SAMPLES), st.data())
def test_any_field_replacement_decodes_or_raises_invalid_event(payload: Payload, data):
    doc = wire(payload)
    field = data.draw(st.sampled_from(sorted(doc["payload"])))
    doc["payload"][field] = data.draw(JSON)
    try:
        raw = orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return  # an int beyond 64 bits cannot even be written as orjson JSON
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        assert exc.field == f"payload.{field}" or str(exc.field).startswith(f"payload.{field}")
    else:
        assert type(event.payload) is type(payload)
        assert decode(encode(event)) == event  # whatever decode accepts, encode accepts


def test_chunk_ids_are_deterministic_and_distinct():
    assert chunk_id(5, "add", 0) == chunk_id(5, "add", 0)
    ids = {chunk_id(5, a, i) for a in ("add", "remove") for i in range(1000)}
    assert len(ids) == 2000
    assert all(0 <= i < 2**63 for i in ids)
