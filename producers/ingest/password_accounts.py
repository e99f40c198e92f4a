"""Accounts people own: sign up, sign in, sign out and change password.

Sign-up claims the username, then the email, each with a lightweight transaction
(:mod:`sinks.credentials`), stores the credentials row (the argon2id hash: never on
Kafka) and only then publishes ``user.registered``, the one way the pipeline learns of
an account. Any failure on the way (the email taken, Cassandra or Kafka down) undoes
what this sign-up did -- both claims released, the credentials row removed -- so a
refused sign-up leaves nothing half-created and its name free for the retry. The hash
is computed before anything is claimed: an overloaded hasher refuses before any write.

Sign-in gives one answer for a wrong password and for an unknown (or malformed) name:
the same 401 problem, after the same work (an unknown name is checked against a dummy
hash, :meth:`producers.ingest.passwords.Hasher.verify_dummy`), so neither the answer nor
its timing tells which accounts exist. Attempts are counted per account name here and
per client address by the route, both in Redis, before any hashing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.cluster import Session

from infra.http.auth import TokenClaims, mint
from infra.http.problems import Problem, unauthorized
from infra.http.ratelimit import RateLimiter
from infra.settings import Settings
from producers.ingest.events import Emitter, invalid
from producers.ingest.identifiers import (
    IdentifierError,
    is_email,
    normalise_email,
    normalise_username,
)
from producers.ingest.password_policy import (
    MAX_LENGTH,
    PasswordError,
    check_new_password,
    normalise_password,
)
from producers.ingest.passwords import Hasher
from producers.ingest.registration import new_user_id, registration, wait_until_stored
from schemas.ids import IdGenerator
from schemas.users import UserSessionsRevoked
from sinks import credentials, identity, users
from sinks.credentials import ClaimTable
from sinks.identity import Identities

log = logging.getLogger(__name__)

#: The one answer to a failed sign-in, whatever failed.
WRONG_CREDENTIALS = "the username or password is not right"


@dataclass(frozen=True)
class SignedIn:
    """A new session: its token and whose it is."""

    token: str
    user_id: int
    username: str


def wrong_credentials() -> Problem:
    return unauthorized(WRONG_CREDENTIALS, invalid_token=False)


def taken(what: str) -> Problem:
    return Problem(409, f"{what}-taken", f"this {what} is already taken",
                   extra={"field": what})


def _checked(location: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except (IdentifierError, PasswordError) as exc:
        raise invalid(location, str(exc)) from None


class PasswordAccounts:
    def __init__(self, session: Session, emitter: Emitter, ids: IdGenerator,
                 settings: Settings, identities: Identities, hasher: Hasher) -> None:
        self.session = session
        self.emitter = emitter
        self.ids = ids
        self.settings = settings
        self.identities = identities
        self.hasher = hasher

    async def sign_up(self, username: str, email: str, password: str) -> SignedIn:
        """Create an account; 422 for a bad field, 409 for a taken username or email."""
        name = _checked("body.username", normalise_username, username)
        address = _checked("body.email", normalise_email, email)
        secret = _checked("body.password", lambda value: check_new_password(
            value, username=name, email=address), password)
        if await users.user_id_for(self.session, name) is not None:
            raise taken("username")  # an account from before claims (dev sign-in)
        password_hash = await self.hasher.hash(secret)
        user_id = await new_user_id(self.ids, name)
        await self._claim("username_claims", name, user_id, "username")
        try:
            await self._claim("email_claims", address, user_id, "email")
            await credentials.store(self.session, user_id, name, email=address,
                                    password_hash=password_hash)
            await self.emitter.emit(registration(user_id, name).payload)
        except BaseException:
            await asyncio.shield(self._undo(user_id, name, address))
            raise
        await wait_until_stored(self.session, user_id)
        return SignedIn(mint(user_id, self.settings), user_id, name)

    async def sign_in(self, identifier: str, password: str, limiter: RateLimiter) -> SignedIn:
        """A token for the account named ``identifier`` (username or email) if
        ``password`` is its password; the same 401 for every other case."""
        if len(password) > MAX_LENGTH:
            raise invalid("body.password", f"a password has at most {MAX_LENGTH} characters")
        key = _sign_in_key(identifier)
        await limiter.check("account_sign_ins",
                            f"account:{key[1] if key else identifier.strip()[:64]}")
        secret = normalise_password(password)
        found = await self._credentials(key) if key else None
        if found is None or found.password_hash is None:
            await self.hasher.verify_dummy(secret)
            raise wrong_credentials()
        if not await self.hasher.verify(found.password_hash, secret):
            raise wrong_credentials()
        if not (await self.identities.get(found.user_id)).registered:
            raise wrong_credentials()  # deleted, or its registration never stored
        if self.hasher.needs_rehash(found.password_hash):
            await credentials.set_password_hash(self.session, found.user_id,
                                                await self.hasher.hash(secret))
        return SignedIn(mint(found.user_id, self.settings), found.user_id, found.username)

    async def sign_out(self, claims: TokenClaims) -> None:
        """End this token's session only; the account's other sessions go on."""
        await self.identities.sign_out(claims)

    async def change_password(self, claims: TokenClaims, old: str, new: str,
                              limiter: RateLimiter) -> SignedIn:
        """Verify ``old``, sign out every session (this one included), store ``new``,
        and answer with a fresh token.

        The sign-out comes first: if storing the hash then fails, the sessions are
        ended and the old password still works (sign in, try again), rather than a new
        password being set while a thief's session lives on. Tokens carry whole seconds
        (``iat``), so "every token until now" is every token issued before the *next*
        whole second: the fresh token is minted once that second has begun (a wait of
        under a second), so a session opened a moment before the change cannot survive it.
        """
        found = await credentials.get(self.session, claims.user_id)
        if found is None or found.password_hash is None:
            raise Problem(403, "no-password", "this account signs in without a password")
        if len(old) > MAX_LENGTH:
            raise invalid("body.old_password", f"at most {MAX_LENGTH} characters")
        secret = _checked("body.new_password", lambda value: check_new_password(
            value, username=found.username, email=found.email or ""), new)
        await limiter.check("account_sign_ins", f"account:{found.username}")
        if not await self.hasher.verify(found.password_hash, normalise_password(old)):
            raise Problem(403, "wrong-password", "the current password is not right",
                          extra={"errors": [{"location": "body.old_password",
                                             "message": "not the current password"}]})
        password_hash = await self.hasher.hash(secret)
        valid_after = next_second()
        await self.emitter.emit(UserSessionsRevoked(user_id=claims.user_id,
                                                    tokens_valid_after=valid_after))
        # Stored here too (the processor's write is the same, same timestamp), so no
        # cache miss can read the row before the processor has caught up.
        await identity.store_revocation(self.session, claims.user_id, valid_after)
        await self.identities.revoke(claims.user_id, valid_after)
        await credentials.set_password_hash(self.session, claims.user_id, password_hash)
        await asyncio.sleep(max(0.0, valid_after.timestamp() - time.time()))
        return SignedIn(mint(claims.user_id, self.settings), claims.user_id, found.username)

    async def _claim(self, table: ClaimTable, key: str, user_id: int, what: str) -> None:
        if await credentials.claim(self.session, table, key, user_id) != user_id:
            raise taken(what)

    async def _credentials(self, key: tuple[ClaimTable, str]) -> credentials.Credentials | None:
        user_id = await credentials.holder(self.session, *key)
        return None if user_id is None else await credentials.get(self.session, user_id)

    async def _undo(self, user_id: int, name: str, address: str) -> None:
        """Release what a failed sign-up claimed (each release only frees our own claim)."""
        try:
            await credentials.forget(self.session, user_id)
            await credentials.release(self.session, "email_claims", address, user_id)
            await credentials.release(self.session, "username_claims", name, user_id)
        except Exception as exc:  # the sign-up's own error is the one to answer with
            log.warning("sign-up of %r not fully undone (claims may stay): %s", name, exc)


def next_second() -> datetime:
    """The next whole second (UTC): where a revocation that covers "now" must start."""
    return datetime.fromtimestamp(math.floor(time.time()) + 1, UTC)


def _sign_in_key(identifier: str) -> tuple[ClaimTable, str] | None:
    """Where to look ``identifier`` up, in its stored form; None if it cannot name anyone."""
    try:
        if is_email(identifier):
            return "email_claims", normalise_email(identifier)
        return "username_claims", normalise_username(identifier)
    except IdentifierError:
        return None
