"""Who may hear from whom: the ONE hook notifications ask before showing an actor.

Both the notifications processor (before it writes an entry, so nothing is stored,
counted as unread or pushed live) and the read API (before it shows an entry, so an
entry written before a block or mute disappears from the list) call
:func:`audible_actors`: an actor blocked either way, or muted by the recipient, is not
heard (:mod:`sinks.blocks`). With Redis, the recipient's relations come from the same
cache the read API's visibility rule uses (invalidated by the blocks processor);
without it (a processor's decision must not wait on a cache), from Cassandra.
"""

from __future__ import annotations

from collections.abc import Iterable

from cassandra.cluster import Session

from infra.connect.redis import RedisClient
from sinks import blocks
from sinks.blocks import Relations


async def audible_actors(session: Session, redis: RedisClient | None, recipient_id: int,
                         actor_ids: Iterable[int]) -> frozenset[int]:
    """Which of ``actor_ids`` ``recipient_id`` should hear from (notifications only):
    all but those blocked either way or muted by the recipient."""
    actors = frozenset(actor_ids)
    if not actors:
        return actors
    relations = (await blocks.relations(redis, session, recipient_id) if redis is not None
                 else await blocks.load(session, recipient_id))
    return audible_given(relations, actors)


def audible_given(relations: Relations, actor_ids: Iterable[int]) -> frozenset[int]:
    """:func:`audible_actors` with the recipient's relations already read (a reader
    hydrating many recipients' entries reads all their relations in one round trip)."""
    return frozenset(actor_ids) - relations.hidden - relations.muted
