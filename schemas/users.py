"""User account events. The profile events carry the whole public profile, never a diff.

Carrying the full state makes the ``photostream.users`` topic compactable: the latest
record per user is that user's profile (or their deletion, which carries no profile at
all), so a new processor can rebuild every profile from the topic alone. For the same
reason a sign-out-everywhere is not on that topic (compaction would keep it instead of
the profile) but on ``photostream.sessions``.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.common import Bio, DisplayName, Id, Username
from schemas.model import Time, read_times
from schemas.payload import Payload, register


class _Profile(Payload, frozen=True):
    """The whole public profile of one account."""

    user_id: Id
    username: Username
    display_name: DisplayName
    bio: Bio
    private: bool


@register
class UserRegistered(_Profile, frozen=True):
    """A new account exists, with its initial profile."""

    TYPE: ClassVar[str] = "user.registered"
    VERSION: ClassVar[int] = 1


@register
class UserProfileUpdated(_Profile, frozen=True):
    """The user's profile after an edit (all fields, so the last record is the truth)."""

    TYPE: ClassVar[str] = "user.profile_updated"
    VERSION: ClassVar[int] = 1


@register
class UserSessionsRevoked(Payload, frozen=True):
    """Tokens of ``user_id`` issued before ``tokens_valid_after`` stop working.

    Published by "sign out everywhere"; a password change will publish it too. The field
    only ever moves forward, so the latest record per user is the whole truth and the
    topic is compactable like the profile topic.
    """

    TYPE: ClassVar[str] = "user.sessions_revoked"
    VERSION: ClassVar[int] = 1

    user_id: Id
    tokens_valid_after: Time

    TIMES: ClassVar[tuple[str, ...]] = ("tokens_valid_after",)

    def __post_init__(self) -> None:
        read_times(self)


@register
class UserDeleted(Payload, frozen=True):
    """The account is gone: every processor removes what it holds of ``user_id``.

    On the users topic, after the profile records it ends: compaction then keeps this
    record as the user's whole state, so a processor rebuilding from the topic never
    resurrects a deleted profile. ``occurred_at`` is the deletion's instant; profile
    writes stamped before it lose to it (:mod:`sinks.users`).
    """

    TYPE: ClassVar[str] = "user.deleted"
    VERSION: ClassVar[int] = 1

    user_id: Id
