"""Writes about blocks and mutes: one event each, applied by the blocks processor.

Blocking or muting yourself is a 422 naming the path's ``user_id``; an account that
does not exist (or is not registered yet) is a 404, like a follow of it. Repeating a
block or an unblock is harmless: the processor's writes are idempotent.
"""

from __future__ import annotations

from cassandra.cluster import Session

from producers.ingest.events import Emitter, invalid
from producers.ingest.lookups import existing_user
from schemas.blocks import BlockAdded, BlockRemoved, MuteAdded, MuteRemoved


class Blocks:
    def __init__(self, session: Session, emitter: Emitter) -> None:
        self.session = session
        self.emitter = emitter

    async def block(self, user: int, target: int, *, on: bool) -> None:
        """``block.added`` (``on``) or ``block.removed``."""
        await self._target(user, target, "block")
        kind = BlockAdded if on else BlockRemoved
        await self.emitter.emit(kind(user_id=user, target_id=target))

    async def mute(self, user: int, target: int, *, on: bool) -> None:
        """``mute.added`` (``on``) or ``mute.removed``."""
        await self._target(user, target, "mute")
        kind = MuteAdded if on else MuteRemoved
        await self.emitter.emit(kind(user_id=user, target_id=target))

    async def _target(self, user: int, target: int, verb: str) -> None:
        if target == user:
            raise invalid("path.user_id", f"you cannot {verb} yourself")
        await existing_user(self.session, target)
