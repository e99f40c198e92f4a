"""Registering a new account: its id, its ``user.registered`` event, waiting for its row.

Every way an account comes to exist (password sign-up, an identity provider's first
login, the dev sign-in) goes through the same event, so the pipeline has one way to
create a user. The new account's token is handed out only once the graph processor has
stored its ``users`` row (a few hundred ms on the local stack): the identity check
(:mod:`sinks.identity`) reads that row, so the client's very next request passes it.
"""

from __future__ import annotations

import asyncio
import time
import zlib

from cassandra.cluster import Session

from producers.ingest.events import event
from schemas.envelope import Event
from schemas.ids import SHARDS, IdGenerator
from schemas.users import UserRegistered
from sinks import users

#: How long a registration waits for the new account to be stored by the graph processor.
REGISTRATION_WAIT_SECONDS = 10.0


async def new_user_id(ids: IdGenerator, username: str) -> int:
    """A fresh user id, its shard taken from the name to spread new accounts over shards."""
    return await ids.anext_id(zlib.crc32(username.encode()) % SHARDS)


def registration(user_id: int, username: str, display_name: str = "") -> Event[UserRegistered]:
    """The validated ``user.registered`` event (a 422 naming the field if it breaks the schema)."""
    return event(UserRegistered(user_id=user_id, username=username,
                                display_name=display_name or username, bio="", private=False))


async def wait_until_stored(session: Session, user_id: int,
                            timeout: float = REGISTRATION_WAIT_SECONDS) -> bool:
    """Whether the ``users`` row of ``user_id`` was stored within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await users.get_user(session, user_id) is not None:
            return True
        await asyncio.sleep(0.1)
    return False
