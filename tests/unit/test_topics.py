"""The topic catalogue and the dead-letter format."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec.inspect
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.registry import PROCESSORS
from schemas.deadletter import DeadLetter, dead_letter, decode_dead_letter, encode_dead_letter
from schemas.envelope import InvalidEvent, make
from schemas.events import (
    CommentAdded,
    FanoutChunk,
    FollowApproved,
    LikeAdded,
    PhotoDeleted,
    StoryPosted,
    UserRegistered,
    event_classes,
)
from schemas.topics import (
    CONSUMER_GROUPS,
    DAY_MS,
    DEADLETTERS,
    MEDIA_PROCESSED,
    MEDIA_UPLOADED,
    PHOTOS,
    TOPICS,
    group_id,
    key_for,
    topic_for,
    topic_named,
)

EXPECTED = {
    "photostream.media.uploaded": "photo_id",
    "photostream.media.processed": "photo_id",
    "photostream.photos": "photo_id",
    "photostream.users": "user_id",
    "photostream.sessions": "user_id",
    "photostream.follows": "followee_id",
    "photostream.likes": "photo_id",
    "photostream.comments": "photo_id",
    "photostream.stories": "user_id",
    "photostream.fanout.tasks": "chunk_id",
    "photostream.deadletters": None,
    "photostream.blocks": "user_id",
    "photostream.posts": "post_id",
    "photostream.following": "follower_id",
}


def test_catalogue_names_and_keys_are_the_contract():
    assert {t.name: t.key for t in TOPICS} == EXPECTED
    assert len({t.name for t in TOPICS}) == len(TOPICS)


def test_every_event_type_is_carried_by_exactly_one_topic():
    carried = [etype for t in TOPICS for etype in t.event_types]
    assert len(carried) == len(set(carried))
    assert set(carried) == {c.TYPE for c in event_classes()}
    for cls in event_classes():
        assert cls.TYPE in topic_for(cls.TYPE).event_types


@pytest.mark.parametrize("cls", event_classes(), ids=lambda c: c.TYPE)
def test_topic_key_is_a_non_negative_id_field_of_each_event(cls):
    topic = topic_for(cls.TYPE)
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = {f.name: f.type for f in info.fields}
    assert topic.key in fields, f"{cls.TYPE} lacks key field {topic.key}"
    key_type = fields[topic.key]
    assert isinstance(key_type, msgspec.inspect.Metadata)
    assert isinstance(key_type.type, msgspec.inspect.IntType) and key_type.type.ge == 0


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (FollowApproved(follower_id=11, followee_id=22), b"22"),
        (LikeAdded(photo_id=5, user_id=6, owner_id=7), b"5"),
        (CommentAdded(comment_id=1, photo_id=9, owner_id=2, user_id=3, text="x"), b"9"),
        (PhotoDeleted(photo_id=2**63 - 1, owner_id=1), b"9223372036854775807"),
        (UserRegistered(user_id=77, username="u", display_name="", bio="", private=False), b"77"),
        (
            StoryPosted(story_id=1, user_id=8, media_key="k", posted_at=datetime.now(UTC)),
            b"8",
        ),
        (
            FanoutChunk(chunk_id=123, action="add", photo_id=5, owner_id=7, chunk_index=0,
                        chunk_count=1, follower_ids=()),
            b"123",
        ),
    ],
)  # fmt: skip
def test_key_for_is_the_decimal_key_field(payload, key):
    assert key_for(make(payload, producer="t")) == key


def test_lookups_fail_loudly():
    with pytest.raises(KeyError, match="no topic carries"):
        topic_for("photo.exploded")
    with pytest.raises(KeyError, match="not a photostream topic"):
        topic_named("photostream.nope")
    assert topic_named("photostream.photos") is PHOTOS


def test_photo_topics_are_co_partitioned():
    """Same key + same partition count: partition n of each holds the same photos."""
    assert MEDIA_UPLOADED.partitions == MEDIA_PROCESSED.partitions == PHOTOS.partitions


def test_topic_configuration():
    for t in TOPICS:
        assert t.name.startswith("photostream.")
        assert t.partitions in (6, 12)
        assert t.why_this_key and t.description
        assert t.config()["cleanup.policy"] == t.cleanup_policy
    assert DEADLETTERS.retention_ms == 30 * DAY_MS
    assert DEADLETTERS.config() == {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
    assert topic_named("photostream.users").cleanup_policy == "compact"


T1 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _letter(**changes) -> DeadLetter:
    args: dict[str, Any] = {
        "topic": "photostream.likes",
        "partition": 3,
        "offset": 1200,
        "key": b"42",
        "value": b"\xff\x00not json",
        "headers": [("trace", b"abc"), ("empty", None)],
        "error": InvalidEvent("expected integer, got string", "payload.photo_id"),
        "processor": "engagement",
        "attempts": 3,
        "first_failed_at": T1,
        "now": T1 + timedelta(seconds=3),
    }
    args.update(changes)
    return dead_letter(**args)


def test_dead_letter_keeps_exact_bytes_and_error():
    letter = _letter()
    data = orjson.loads(encode_dead_letter(letter))
    assert data == {
        "version": 1,
        "topic": "photostream.likes",
        "partition": 3,
        "offset": 1200,
        "key": base64.b64encode(b"42").decode(),
        "value": base64.b64encode(b"\xff\x00not json").decode(),
        "headers": [["trace", "YWJj"], ["empty", None]],
        "error": "payload.photo_id: expected integer, got string",
        "error_type": "schemas.errors.InvalidEvent",
        "processor": "engagement",
        "first_failed_at": "2024-05-01T12:00:00Z",
        "last_failed_at": "2024-05-01T12:00:03Z",
        "attempts": 3,
    }
    assert decode_dead_letter(encode_dead_letter(letter)) == letter


def test_dead_letter_builtin_error_type_and_defaults():
    letter = dead_letter(topic="t", partition=0, offset=0, key=None, value=b"", error=KeyError(),
                         processor="p", now=T1)  # fmt: skip
    assert letter.error_type == "KeyError" and letter.error == "KeyError()"
    assert letter.first_failed_at == letter.last_failed_at == T1 and letter.attempts == 1
    assert letter.key is None and letter.headers == ()


@given(
    key=st.none() | st.binary(max_size=64),
    value=st.none() | st.binary(max_size=256),
    headers=st.lists(st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=16)),
                     max_size=4),
    error=st.text(max_size=200),
    offset=st.integers(0, 2**63 - 1),
)  # fmt: skip
def test_dead_letter_round_trips_any_bytes(key, value, headers, error, offset):
    letter = _letter(key=key, value=value, headers=headers, error=error, offset=offset)
    assert decode_dead_letter(encode_dead_letter(letter)) == letter


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(value="!!notbase64"), "value"),
        (lambda d: d.update(key=5), "key"),
        (lambda d: d.update(headers=[["a"]]), "headers[0]"),
        (lambda d: d.update(headers=[["a", "%%"]]), "headers[0][1]"),
        (lambda d: d.pop("attempts"), "attempts"),
        (lambda d: d.update(attempts=0), "attempts"),
        (lambda d: d.update(partition="3"), "partition"),
        (lambda d: d.update(first_failed_at="yesterday"), "first_failed_at"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(version=2), "version"),
    ],
)
def test_bad_dead_letters_name_the_field(mutate, field):
    data = orjson.loads(encode_dead_letter(_letter()))
    mutate(data)
    with pytest.raises(InvalidEvent) as info:
        decode_dead_letter(orjson.dumps(data))
    assert info.value.field == field


def test_dead_letter_garbage_is_invalid_event():
    for raw in (b"", b"[]", b"{"):
        with pytest.raises(InvalidEvent):
            decode_dead_letter(raw)


def test_every_processor_reads_the_group_and_topics_the_catalogue_declares() -> None:
    assert list(PROCESSORS) == [g.short_name for g in CONSUMER_GROUPS]
    for group in CONSUMER_GROUPS:
        processor = PROCESSORS[group.short_name]()
        assert (processor.name, processor.topics) == (group.group_id, group.topic_names)
        assert group_id(group.short_name) == group.group_id
    assert group_id("someone-elses-group") == "someone-elses-group"
