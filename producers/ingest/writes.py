"""The write use cases other than photo uploads, opened once per process.

One object so the routes take a single typed dependency (``writes: Writes``) and the
app's lifespan builds it next to :class:`producers.ingest.uploads.IngestService` from
the same clients (one Kafka producer, one Cassandra session, one id generator).
"""

from __future__ import annotations

from dataclasses import dataclass

from cassandra.cluster import Session

from infra.connect.publisher import Publisher
from infra.settings import Settings
from producers.ingest.accounts import Accounts
from producers.ingest.blocks import Blocks
from producers.ingest.events import Emitter
from producers.ingest.lookups import BlockGuard
from producers.ingest.oidc_accounts import OidcAccounts
from producers.ingest.password_accounts import PasswordAccounts
from producers.ingest.passwords import Hasher
from producers.ingest.posts import Posts
from producers.ingest.profile_images import ProfileImages
from producers.ingest.storage import Originals
from producers.ingest.stories import Stories
from schemas.ids import IdGenerator
from sinks.identity import Identities


@dataclass(frozen=True)
class Writes:
    posts: Posts
    accounts: Accounts
    stories: Stories
    passwords: PasswordAccounts
    oidc: OidcAccounts
    blocks: Blocks
    profile_images: ProfileImages

    @classmethod
    def create(cls, settings: Settings, publisher: Publisher, session: Session,
               media: Originals, ids: IdGenerator, identities: Identities,
               originals: Originals) -> Writes:
        """``media``: the media bucket (stories); ``originals``: the originals bucket."""
        emitter = Emitter(publisher)
        guard = BlockGuard(session, identities.redis)
        return cls(
            posts=Posts(session, emitter, ids, guard),
            accounts=Accounts(session, emitter, ids, settings, identities, guard),
            stories=Stories(media, emitter, ids),
            passwords=PasswordAccounts(session, emitter, ids, settings, identities, Hasher()),
            oidc=OidcAccounts(session, emitter, ids, settings),
            blocks=Blocks(session, emitter),
            profile_images=ProfileImages(originals, emitter, ids, settings),
        )
