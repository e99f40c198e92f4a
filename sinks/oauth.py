"""OAuth 2 apps, authorization codes and access tokens in Cassandra (table 0023_oauth).

Only hashes of secrets are stored (:func:`digest`): the tables are read by operators and
backed up, and a bearer token is the whole of a person's session. Requests look their
token up through :mod:`sinks.oauth_cache` (Redis in front of this table); revoking one
deletes its row and its cached entry, so it stops at once on every replica.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session

from infra.connect.cassandra import execute
from sinks.statements import prepared

#: How long an authorization code may wait to be redeemed (RFC 6749 suggests at most 10 min).
CODE_TTL_SECONDS = 600


def digest(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class App:
    client_id: str
    secret_hash: str
    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: str


@dataclass(frozen=True)
class Code:
    client_id: str
    user_id: int
    redirect_uri: str
    scopes: str
    code_challenge: str | None


@dataclass(frozen=True)
class Token:
    client_id: str
    user_id: int | None
    scopes: str


async def store_app(session: Session, app: App) -> None:
    statement = await prepared(session, (
        "INSERT INTO oauth_apps (client_id, secret_hash, name, website, redirect_uris, scopes, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"))
    await execute(session, statement, (app.client_id, app.secret_hash, app.name, app.website,
                                       app.redirect_uris, app.scopes, datetime.now(UTC)))


async def get_app(session: Session, client_id: str) -> App | None:
    if not client_id:  # an empty partition key is an invalid query, not a miss
        return None
    statement = await prepared(session, (
        "SELECT secret_hash, name, website, redirect_uris, scopes FROM oauth_apps "
        "WHERE client_id = ?"))
    rows = await execute(session, statement, (client_id,))
    if not rows:
        return None
    row = rows[0]
    return App(client_id, row["secret_hash"], row["name"], row["website"],
               list(row["redirect_uris"] or ()), row["scopes"])


async def store_code(session: Session, code: str, grant: Code) -> None:
    statement = await prepared(session, (
        "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scopes, "
        "code_challenge, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?"))
    await execute(session, statement, (digest(code), grant.client_id, grant.user_id,
                                       grant.redirect_uri, grant.scopes, grant.code_challenge,
                                       datetime.now(UTC), CODE_TTL_SECONDS))


async def redeem_code(session: Session, code: str) -> Code | None:
    """The grant of ``code``, deleted as it is read (a code is good for one token).

    Two concurrent redemptions of one code may both read the row before either deletes
    it; the window is one round trip, and RFC 6749 only asks that a reused code fail
    (a lightweight transaction would close it at a Paxos round per sign-in)."""
    key = digest(code)
    read = await prepared(session, (
        "SELECT client_id, user_id, redirect_uri, scopes, code_challenge FROM oauth_codes "
        "WHERE code_hash = ?"))
    rows = await execute(session, read, (key,))
    if not rows:
        return None
    delete = await prepared(session, "DELETE FROM oauth_codes WHERE code_hash = ?")
    await execute(session, delete, (key,))
    row = rows[0]
    return Code(row["client_id"], int(row["user_id"]), row["redirect_uri"], row["scopes"],
                row["code_challenge"])


async def store_token(session: Session, token: str, grant: Token) -> None:
    statement = await prepared(session, (
        "INSERT INTO oauth_tokens (token_hash, client_id, user_id, scopes, created_at) "
        "VALUES (?, ?, ?, ?, ?)"))
    await execute(session, statement, (digest(token), grant.client_id, grant.user_id,
                                       grant.scopes, datetime.now(UTC)))


async def get_token(session: Session, token: str) -> Token | None:
    return await get_token_by_hash(session, digest(token))


async def get_token_by_hash(session: Session, token_hash: str) -> Token | None:
    """The grant stored under a token's :func:`digest` (the cache keys by the digest)."""
    statement = await prepared(session, (
        "SELECT client_id, user_id, scopes FROM oauth_tokens WHERE token_hash = ?"))
    rows = await execute(session, statement, (token_hash,))
    if not rows:
        return None
    row = rows[0]
    user_id = row["user_id"]
    return Token(row["client_id"], None if user_id is None else int(user_id), row["scopes"])


async def revoke_token(session: Session, token: str) -> None:
    statement = await prepared(session, "DELETE FROM oauth_tokens WHERE token_hash = ?")
    await execute(session, statement, (digest(token),))
