"""User account events. Both carry the whole public profile, never a diff.

Carrying the full state makes the ``photostream.users`` topic compactable: the latest
record per user is that user's profile, so a new processor can rebuild every profile
from the topic alone.
"""

from __future__ import annotations

from typing import ClassVar

from schemas.common import Bio, DisplayName, Id, Username
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
