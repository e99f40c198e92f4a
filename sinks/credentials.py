"""Account credentials in Cassandra: username, email and identity-provider claims (LWT),
and the password hash of each account.

Why lightweight transactions: a username must belong to exactly one account even when
two sign-ups for it reach two ingest replicas in the same millisecond. ``INSERT ... IF
NOT EXISTS`` is a Paxos round: exactly one wins, the other learns who did. A claim is
undone with ``DELETE ... IF user_id = ?``, so a sign-up can only release what it claimed
itself (a release racing another sign-up never frees someone else's name).

The hash lives here, not on Kafka: events are kept, replayed and read by every processor,
and a password hash is a secret that only the sign-in path needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import prepared

ClaimTable = Literal["username_claims", "email_claims", "oidc_subjects"]
_KEY_COLUMN: dict[ClaimTable, str] = {
    "username_claims": "username", "email_claims": "email", "oidc_subjects": "subject"}

_PUT = ("INSERT INTO credentials (user_id, username, email, password_hash, oidc_subject, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?)")
_SET_HASH = "UPDATE credentials SET password_hash = ?, updated_at = ? WHERE user_id = ?"
_GET = ("SELECT username, email, password_hash, oidc_subject FROM credentials "
        "WHERE user_id = ?")
_FORGET = "DELETE FROM credentials WHERE user_id = ?"


@dataclass(frozen=True)
class Credentials:
    user_id: int
    username: str
    email: str | None
    password_hash: str | None
    oidc_subject: str | None = None


def _claim_cql(table: ClaimTable) -> str:
    return (f"INSERT INTO {table} ({_KEY_COLUMN[table]}, user_id, claimed_at) "
            "VALUES (?, ?, ?) IF NOT EXISTS")


async def claim(session: Session, table: ClaimTable, key: str, user_id: int) -> int:
    """Claim ``key`` for ``user_id``; returns who holds it now (``user_id`` if we won)."""
    statement = await prepared(session, _claim_cql(table))
    (row,) = await execute(session, statement, (key, user_id, datetime.now(UTC)))
    return user_id if row["[applied]"] else int(row["user_id"])


async def release(session: Session, table: ClaimTable, key: str, user_id: int) -> None:
    """Undo our own claim of ``key`` (nothing happens if someone else holds it)."""
    statement = await prepared(
        session, f"DELETE FROM {table} WHERE {_KEY_COLUMN[table]} = ? IF user_id = ?")
    await execute(session, statement, (key, user_id))


async def holder(session: Session, table: ClaimTable, key: str) -> int | None:
    """Who holds ``key``: a quorum read, which sees every claim whose Paxos round has
    committed (a claim still in flight may be missed: its sign-up has not answered yet)."""
    statement = await prepared(
        session, f"SELECT user_id FROM {table} WHERE {_KEY_COLUMN[table]} = ?")
    rows = await execute(session, statement, (key,))
    return int(rows[0]["user_id"]) if rows else None


async def store(session: Session, user_id: int, username: str, *, email: str | None = None,
                password_hash: str | None = None, oidc_subject: str | None = None) -> None:
    statement = await prepared(session, _PUT)
    await execute(session, statement,
                  (user_id, username, email, password_hash, oidc_subject, datetime.now(UTC)))


async def set_password_hash(session: Session, user_id: int, password_hash: str) -> None:
    statement = await prepared(session, _SET_HASH)
    await execute(session, statement, (password_hash, datetime.now(UTC), user_id))


async def get(session: Session, user_id: int) -> Credentials | None:
    statement = await prepared(session, _GET)
    rows = await execute(session, statement, (user_id,))
    if not rows or rows[0]["username"] is None:
        return None
    row = rows[0]
    return Credentials(user_id, row["username"], row["email"], row["password_hash"],
                       row["oidc_subject"])


async def forget(session: Session, user_id: int) -> None:
    """Remove the credentials row (a sign-up undone before its event was published)."""
    statement = await prepared(session, _FORGET)
    await execute(session, statement, (user_id,))


async def erase(session: Session, user_id: int) -> None:
    """Forget a deleted account's password hash and free its username, email and
    identity-provider subject, so a new account may take them (as the profile's username
    is freed when the deletion is applied, :mod:`sinks.users`). Safe to repeat: each
    release only removes a claim that ``user_id`` still holds."""
    found = await get(session, user_id)
    if found is not None:
        await release(session, "username_claims", found.username, user_id)
        if found.email is not None:
            await release(session, "email_claims", found.email, user_id)
        if found.oidc_subject is not None:
            await release(session, "oidc_subjects", found.oidc_subject, user_id)
    await forget(session, user_id)
