"""The topic catalogue: the ONE place that knows every Kafka topic and consumer group.

Bootstrap creates topics from it, publishers pick topic and key from it
(:func:`topic_for`, :func:`key_for`), the AsyncAPI document is generated from it, and
each processor's consumer group is declared in it (:data:`CONSUMER_GROUPS`).
Topic names are the contract with upstream applications; never rename one in place.

Replication factor and ``min.insync.replicas`` are deployment properties, not contract,
so they come from ``settings.kafka`` when the catalogue is applied.

Ordering model: Kafka orders records only within a partition, and the key picks the
partition, so each topic's key is the entity whose events must be seen in order and
whose derived state must have a single writer. Topics whose keys name the same entity
(``photo_id`` on the three photo topics) have the same partition count, so partition
*n* of each holds the same photos ("co-partitioning") and a consumer group subscribed
to all of them (range assignor) gives one instance all events of a photo. Kafka still
does not order *across* topics, so processors must be commutative there: a deletion is
a tombstone that wins over a later-arriving ``photo.processed``; caption edits apply
last-writer-wins by ``occurred_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import schemas.events as ev
from schemas.envelope import Event
from schemas.payload import Payload

PREFIX = "photostream."
DAY_MS = 24 * 3600 * 1000

HIGH_VOLUME_PARTITIONS = 12
DEFAULT_PARTITIONS = 6

CleanupPolicy = Literal["delete", "compact", "compact,delete"]


@dataclass(frozen=True)
class Topic:
    """One Kafka topic: its contract (name, key, events) and its configuration."""

    name: str
    key: str | None
    """Payload field whose decimal string is the record key; None: not an event topic."""
    partitions: int
    cleanup_policy: CleanupPolicy
    retention_ms: int
    """-1 keeps records forever (with compaction: the latest record per key)."""
    event_types: tuple[str, ...]
    description: str
    why_this_key: str

    def config(self) -> dict[str, str]:
        """Topic-level configs for AdminClient create/alter (replication comes from settings)."""
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


MEDIA_UPLOADED = Topic(
    name=PREFIX + "media.uploaded",
    key="photo_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.PhotoUploaded.TYPE, ev.ProfileImageUploaded.TYPE),
    description=("Originals stored by ingest, waiting for the media processor: photos and "
                 "videos, and avatars and headers (photo_id: the profile image's id)."),
    why_this_key=(
        "photo_id spreads the heavy image work evenly over partitions (and so over media "
        "workers) while a re-published upload of the same photo stays behind the first one."
    ),
)

MEDIA_PROCESSED = Topic(
    name=PREFIX + "media.processed",
    key="photo_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.PhotoProcessed.TYPE, ev.PhotoFailed.TYPE, ev.ProfileImageProcessed.TYPE,
                 ev.ProfileImageFailed.TYPE),
    description=("Outcome of media processing: derivatives ready, or a final failure (of "
                 "photos, and of avatars and headers)."),
    why_this_key=(
        "photo_id, with the same partition count as media.uploaded and photos, co-partitions "
        "every event of a photo: one metadata/fan-out instance owns each photo's rows."
    ),
)

PHOTOS = Topic(
    name=PREFIX + "photos",
    key="photo_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.PhotoDeleted.TYPE, ev.PhotoCaptionEdited.TYPE,
                 ev.PhotoAltTextEdited.TYPE),
    description=("Owner edits of existing posts and media: caption/title and alt-text "
                 "changes and deletions."),
    why_this_key=(
        "photo_id keeps a photo's edits and its deletion in order (an edit is never applied "
        "after the delete it preceded) and co-partitions them with media.processed; across "
        "topics there is no order, so deletion is a tombstone that a late photo.processed "
        "must respect."
    ),
)

POSTS = Topic(
    name=PREFIX + "posts",
    key="post_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.AlbumPosted.TYPE,),
    description="Posts made of media uploaded before (albums), waiting for their items.",
    why_this_key=(
        "post_id: a post's own id, co-partitioned with the photo topics (the post becomes "
        "a photo.processed of that id). Its items' events arrive on media.processed under "
        "their own ids, so the albums processor is commutative across them (sinks.posts)."
    ),
)

USERS = Topic(
    name=PREFIX + "users",
    key="user_id",
    partitions=DEFAULT_PARTITIONS,
    cleanup_policy="compact",
    retention_ms=-1,
    event_types=(ev.UserRegistered.TYPE, ev.UserProfileUpdated.TYPE, ev.UserDeleted.TYPE),
    description=("Accounts, profile edits and account deletions; every record carries the "
                 "full profile, or says there is none any more."),
    why_this_key=(
        "user_id orders a user's profile versions and their deletion, and because each "
        "record is the whole state, compaction keeps exactly the latest state per user "
        "forever (for a deleted account: the deletion, never the old profile)."
    ),
)

SESSIONS = Topic(
    name=PREFIX + "sessions",
    key="user_id",
    partitions=DEFAULT_PARTITIONS,
    cleanup_policy="compact",
    retention_ms=-1,
    event_types=(ev.UserSessionsRevoked.TYPE,),
    description="Sign-outs everywhere: tokens issued before the recorded time are refused.",
    why_this_key=(
        "user_id orders a user's revocations; each record carries the absolute time tokens "
        "are valid after, which only moves forward, so compaction keeps the one that counts. "
        "Not on the users topic: compaction there must keep the profile."
    ),
)

FOLLOWS = Topic(
    name=PREFIX + "follows",
    key="followee_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(
        ev.FollowRequested.TYPE,
        ev.FollowApproved.TYPE,
        ev.FollowRejected.TYPE,
        ev.FollowRemoved.TYPE,
    ),
    description="Follow-graph edge changes (request, approve, reject, remove).",
    why_this_key=(
        "followee_id puts every edge into one account, and that account's approvals and "
        "rejections, in one partition: a request is always seen before its approval, and "
        "one consumer is the single writer of the followee's follower count and follower "
        "list (the fan-out source), so no counter races. The follower-side 'following' "
        "rows are written from many partitions, which is fine: they are idempotent "
        "per-edge upserts, not shared counters."
    ),
)

LIKES = Topic(
    name=PREFIX + "likes",
    key="photo_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.LikeAdded.TYPE, ev.LikeRemoved.TYPE),
    description="Likes added and removed.",
    why_this_key=(
        "photo_id makes one consumer the single writer of a photo's like count (it can "
        "dedupe add/remove pairs and write absolute values) and orders a user's "
        "like/unlike of the same photo."
    ),
)

COMMENTS = Topic(
    name=PREFIX + "comments",
    key="photo_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.CommentAdded.TYPE, ev.CommentDeleted.TYPE),
    description="Comments added and deleted.",
    why_this_key=(
        "photo_id: single writer of a photo's comment count, and a comment's deletion is "
        "ordered after its creation."
    ),
)

STORIES = Topic(
    name=PREFIX + "stories",
    key="user_id",
    partitions=DEFAULT_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=2 * DAY_MS,
    event_types=(ev.StoryPosted.TYPE,),
    description="Stories (visible 24 hours; records kept 48 hours for replays).",
    why_this_key="user_id keeps an author's stories in posting order for their story ring.",
)

BLOCKS = Topic(
    name=PREFIX + "blocks",
    key="user_id",
    partitions=DEFAULT_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    event_types=(ev.BlockAdded.TYPE, ev.BlockRemoved.TYPE, ev.MuteAdded.TYPE,
                 ev.MuteRemoved.TYPE),
    description="Blocks and mutes added and removed (by user_id, of target_id).",
    why_this_key=(
        "user_id, the account that blocks or mutes: one consumer is the single writer of "
        "its block and mute lists and sees a block and its unblock in order. Not on the "
        "follows topic: that is keyed by followee, and a block touches two follow edges "
        "(each way) that live on two different followees' partitions, so no one "
        "partition could order it against both; instead the blocks processor publishes "
        "the two follow.removed events onto the follows topic, where each edge's single "
        "writer applies one and keeps the counts exact."
    ),
)

FANOUT_TASKS = Topic(
    name=PREFIX + "fanout.tasks",
    key="chunk_id",
    partitions=HIGH_VOLUME_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=1 * DAY_MS,
    event_types=(ev.FanoutChunk.TYPE,),
    description="Internal: one chunk of followers of a big fan-out, for any worker to apply.",
    why_this_key=(
        "The chunk id (a hash of photo, action and chunk index) spreads the chunks of one "
        "celebrity post over all partitions, so every fan-out worker shares the work; "
        "keying by photo_id would serialise a million-follower fan-out on one partition. "
        "Chunks need no mutual order: each is an idempotent set of timeline inserts."
    ),
)

DEADLETTERS = Topic(
    name=PREFIX + "deadletters",
    key=None,
    partitions=DEFAULT_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    event_types=(),
    description=(
        "Records a processor could not handle, wrapped with the error "
        "(format: schemas.deadletter)."
    ),
    why_this_key=(
        "The original record's key, so all failures of one entity land in one partition in "
        "their original order and a re-drive replays them in that order."
    ),
)

TOPICS: tuple[Topic, ...] = (
    MEDIA_UPLOADED,
    MEDIA_PROCESSED,
    PHOTOS,
    USERS,
    SESSIONS,
    FOLLOWS,
    LIKES,
    COMMENTS,
    STORIES,
    BLOCKS,
    FANOUT_TASKS,
    DEADLETTERS,
    POSTS,
)


@dataclass(frozen=True)
class ConsumerGroup:
    """A stream processor's Kafka consumer group and the topics it reads.

    Declared here, beside the topics, so that whoever needs a group (operator tools for
    lag and replay, the ingest service watching the media backlog) learns it from the
    contract instead of importing the processor; the processor classes read their group
    and topics from here too.
    """

    short_name: str
    """What operators type: ``photostream process media``, ``topics lag media``."""
    group_id: str
    topics: tuple[Topic, ...]

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)


MEDIA_GROUP = ConsumerGroup("media", "photostream-media", (MEDIA_UPLOADED,))
METADATA_GROUP = ConsumerGroup("metadata", "photostream-metadata", (MEDIA_PROCESSED, PHOTOS))
GRAPH_GROUP = ConsumerGroup("graph", "photostream-graph", (USERS, SESSIONS, FOLLOWS))
ENGAGEMENT_GROUP = ConsumerGroup("engagement", "photostream-engagement",
                                 (LIKES, COMMENTS, STORIES))
FANOUT_GROUP = ConsumerGroup("fanout", "photostream-fanout", (MEDIA_PROCESSED, PHOTOS, FOLLOWS))
FANOUT_WORKER_GROUP = ConsumerGroup("fanout-worker", "photostream-fanout-worker",
                                    (FANOUT_TASKS,))
TRENDING_GROUP = ConsumerGroup("trending", "photostream-trending",
                               (MEDIA_PROCESSED, PHOTOS, LIKES, COMMENTS, USERS))
NOTIFICATIONS_GROUP = ConsumerGroup("notifications", "photostream-notifications",
                                    (FOLLOWS, LIKES, COMMENTS, MEDIA_PROCESSED, PHOTOS,
                                     FANOUT_TASKS))
BLOCKS_GROUP = ConsumerGroup("blocks", "photostream-blocks", (BLOCKS, USERS))
ALBUMS_GROUP = ConsumerGroup("albums", "photostream-albums", (POSTS, MEDIA_PROCESSED, PHOTOS))

#: Every processor's group. The order is the supervisor's: processor number ``i`` serves
#: its metrics on ``metrics_port + 1 + i``, so append, never reorder.
CONSUMER_GROUPS: tuple[ConsumerGroup, ...] = (
    MEDIA_GROUP,
    METADATA_GROUP,
    GRAPH_GROUP,
    ENGAGEMENT_GROUP,
    FANOUT_GROUP,
    FANOUT_WORKER_GROUP,
    TRENDING_GROUP,
    NOTIFICATIONS_GROUP,
    BLOCKS_GROUP,
    ALBUMS_GROUP,
)

_BY_NAME = {t.name: t for t in TOPICS}
_BY_EVENT = {etype: t for t in TOPICS for etype in t.event_types}
_GROUP_BY_SHORT_NAME = {g.short_name: g for g in CONSUMER_GROUPS}


def topic_named(name: str) -> Topic:
    """The catalogue entry of topic ``name`` (``KeyError`` if it is not ours)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a photostream topic") from None


def topic_for(event_type: str) -> Topic:
    """The topic that carries ``event_type`` (``KeyError`` if none does)."""
    try:
        return _BY_EVENT[event_type]
    except KeyError:
        raise KeyError(f"no topic carries event type {event_type!r}") from None


def key_for(event: Event[Payload]) -> bytes:
    """The Kafka record key for ``event``: the decimal string of its topic's key field, UTF-8.

    Decimal text (not 8 binary bytes) so non-Python tools produce identical keys, e.g.
    ``kcat -K:`` with ``42:{...}``, and therefore the same partition.
    """
    field = topic_for(event.type).key
    assert field is not None  # event topics always have a key field
    return str(getattr(event.payload, field)).encode()


def group_id(name: str) -> str:
    """``media`` -> ``photostream-media``; anything else (a full group id) unchanged."""
    return _GROUP_BY_SHORT_NAME[name].group_id if name in _GROUP_BY_SHORT_NAME else name
