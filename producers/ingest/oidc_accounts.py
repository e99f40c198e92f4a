"""Local accounts for identity-provider users: the provider's ``sub`` -> our user id.

The key is the issuer and the subject together (``sub`` is only unique per issuer) and
it is claimed with a lightweight transaction like a username (:mod:`sinks.credentials`),
so two first logins of one person at once register one account: the loser waits for the
winner's account and signs in to it. A first login registers through the same
``user.registered`` event as a sign-up; the username is taken from the provider's
``preferred_username`` (or the email's local part), normalised like any username, with
digits appended while it is taken. Later logins never rename: the provider's claims may
change, the person's handle here does not.
"""

from __future__ import annotations

import random
import re

from cassandra.cluster import Session

from infra.http.auth import mint
from infra.settings import Settings
from producers.ingest.events import Emitter
from producers.ingest.identifiers import USERNAME_MAX, IdentifierError, normalise_username
from producers.ingest.oidc import ProviderIdentity
from producers.ingest.password_accounts import SignedIn
from producers.ingest.registration import new_user_id, registration, wait_until_stored
from schemas.ids import IdGenerator
from sinks import credentials, users

#: Attempts at a free username (with random digits after the first) before giving up.
NAME_ATTEMPTS = 8


def username_base(identity: ProviderIdentity) -> str:
    """A valid username to start from: the provider's preferred one, cleaned up."""
    for candidate in (identity.preferred_username, identity.email.partition("@")[0]):
        cleaned = re.sub(r"[^a-z0-9_.]", "", candidate.casefold())[:USERNAME_MAX - 5]
        try:
            return normalise_username(cleaned)
        except IdentifierError:
            continue
    return "user"


class OidcAccounts:
    def __init__(self, session: Session, emitter: Emitter, ids: IdGenerator,
                 settings: Settings) -> None:
        self.session = session
        self.emitter = emitter
        self.ids = ids
        self.settings = settings

    async def sign_in(self, identity: ProviderIdentity) -> SignedIn:
        """A session for the provider's user, registering the account on first login."""
        key = f"{self.settings.auth.oidc_issuer}|{identity.subject}"
        base = username_base(identity)
        user_id = await new_user_id(self.ids, base)
        holder = await credentials.claim(self.session, "oidc_subjects", key, user_id)
        if holder == user_id:
            name = await self._register(user_id, base, key)
        else:
            await wait_until_stored(self.session, holder)
            found = await credentials.get(self.session, holder)
            profile = await users.get_user(self.session, holder)
            name = found.username if found else profile.username if profile else base
            user_id = holder
        return SignedIn(mint(user_id, self.settings), user_id, name)

    async def _register(self, user_id: int, base: str, key: str) -> str:
        name = await self._claim_name(user_id, base)
        await credentials.store(self.session, user_id, name, oidc_subject=key)
        await self.emitter.emit(registration(user_id, name).payload)
        await wait_until_stored(self.session, user_id)
        return name

    async def _claim_name(self, user_id: int, base: str) -> str:
        for attempt in range(NAME_ATTEMPTS):
            name = base if attempt == 0 else f"{base}{random.randrange(10_000)}"
            if len(name) < 3:
                continue
            if (await users.user_id_for(self.session, name) is None
                    and await credentials.claim(self.session, "username_claims", name,
                                                user_id) == user_id):
                return name
        name = f"user{user_id}"[:USERNAME_MAX]
        await credentials.claim(self.session, "username_claims", name, user_id)
        return name
