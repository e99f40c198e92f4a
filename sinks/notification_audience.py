"""Who may hear from whom: the ONE hook notifications ask before showing an actor.

Both the notifications processor (before it writes an entry, so nothing is stored,
counted as unread or pushed live) and the read API (before it shows an entry, so an
entry written before a block or mute disappears from the list) call
:func:`audible_actors`. Today every actor is audible; blocks and mutes plug in here,
in this one function, and both sides follow.
"""

from __future__ import annotations

from collections.abc import Iterable

from cassandra.cluster import Session

from infra.connect.redis import RedisClient


async def audible_actors(session: Session, redis: RedisClient | None, recipient_id: int,
                         actor_ids: Iterable[int]) -> frozenset[int]:
    """Which of ``actor_ids`` ``recipient_id`` should hear from (notifications only).

    Default: all of them. A block (either way) or the recipient's mute of an actor
    should remove that actor here.
    """
    del session, redis, recipient_id  # unused until blocks and mutes exist
    return frozenset(actor_ids)
