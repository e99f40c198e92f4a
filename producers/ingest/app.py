"""The ingest service's FastAPI application: built by :func:`create_app`, one per process.

The lifespan opens the expensive clients once (Kafka producer, Cassandra session with
prepared statements, MinIO client) and closes them on shutdown, flushing the producer,
so requests never pay a connection set-up and a SIGTERM drains cleanly. What it shares
with the read API is assembled by :func:`infra.http.app.service_app`; an unreachable
backend is answered 503 by the handlers of :mod:`producers.ingest.outages`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api.service import ReadService
from infra.connect import cassandra, s3
from infra.connect import redis as redis_connect
from infra.connect.publisher import Publisher
from infra.http.app import service_app
from infra.http.ratelimit import RateLimiter
from infra.settings import Settings, get_settings
from producers.ingest import outages
from producers.ingest.account_routes import accounts, sessions
from producers.ingest.album_routes import media_edits, posts
from producers.ingest.albums import Albums
from producers.ingest.backlog import Backlog
from producers.ingest.claims import Claims
from producers.ingest.oidc import OidcProvider
from producers.ingest.oidc_routes import oidc
from producers.ingest.photos import PhotoRows
from producers.ingest.routes import health, media
from producers.ingest.storage import Originals
from producers.ingest.uploads import IngestService
from producers.ingest.write_routes import dev, photos, social, stories
from producers.ingest.writes import Writes
from producers.mastodon import before_routes as mastodon_before_routes
from producers.mastodon import errors as mastodon_errors
from producers.mastodon import markers as mastodon_markers
from producers.mastodon import notifications as mastodon_notifications
from producers.mastodon import oauth as mastodon_oauth
from producers.mastodon import routes as mastodon_routes
from producers.mastodon import social as mastodon_social
from producers.mastodon import streaming as mastodon_streaming
from producers.mastodon import writes as mastodon_writes
from schemas.ids import IdGenerator
from sinks.identity import Identities
from sinks.oauth_cache import TokenCache


def create_app(settings: Settings | None = None, *, worker_id: int | None = None) -> FastAPI:
    """The ingest ASGI app. ``worker_id`` (default ``settings.ingest.id_worker``) must
    differ between concurrently running replicas: it is the id generator's worker field,
    which keeps their photo ids unique."""
    settings = settings or get_settings()
    ids = IdGenerator(settings.ingest.id_worker if worker_id is None else worker_id)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            publisher = await stack.enter_async_context(Publisher(settings))
            session = await asyncio.to_thread(cassandra.connect, settings)
            stack.push_async_callback(asyncio.to_thread, session.cluster.shutdown)
            # The identity check is a read: fail fast and fall back to Cassandra.
            redis = redis_connect.reader(settings)
            stack.push_async_callback(redis.aclose)
            app.state.identities = identities = Identities(session, redis, settings)
            app.state.tokens = TokenCache(session, redis)  # Mastodon bearer tokens
            app.state.ingest = IngestService(
                settings=settings,
                publisher=publisher,
                originals=Originals(s3.client(settings), settings.s3.originals_bucket),
                session=session,
                claims=await Claims.create(session),
                photos=await PhotoRows.create(session, redis),
                ids=ids,
            )
            app.state.albums = Albums(app.state.ingest)
            app.state.backlog = backlog = Backlog(settings)
            await backlog.start()
            stack.push_async_callback(backlog.stop)
            app.state.limiter = limiter = RateLimiter.from_settings(settings)
            stack.push_async_callback(limiter.aclose)
            app.state.writes = Writes.create(
                settings, publisher, session,
                Originals(s3.client(settings), settings.s3.media_bucket), ids, identities,
                app.state.ingest.originals)
            # The Mastodon API's reads (producers/mastodon): the read side's own service.
            app.state.read = read = await ReadService.open(settings)
            stack.push_async_callback(read.close)
            yield

    routers = [health, media, photos, social, stories, sessions, posts, media_edits,
               # social before routes: /accounts/relationships is not an account id
               mastodon_oauth.router, mastodon_social.router, *mastodon_before_routes.routers,
               mastodon_routes.router, mastodon_writes.router, mastodon_notifications.router,
               mastodon_markers.router, mastodon_streaming.router]
    # password: accounts owned here; oidc: the provider holds the passwords.
    routers.append(accounts if settings.auth.mode == "password" else oidc)
    if settings.dev:  # the sign-in shortcut must not exist in production
        routers.append(dev)
    app = service_app(
        settings, service="ingest", title="photostream ingest",
        summary="Write side: uploads, likes, comments, follows, profiles and stories.",
        lifespan=lifespan, routers=routers, cors_origins=settings.web_origins,
        cors_headers=("Authorization", "Content-Type", "Idempotency-Key"),
        csp=mastodon_oauth.csp, long_lived=mastodon_streaming.PATHS)
    outages.install(app)
    mastodon_errors.install(app)
    if settings.auth.mode == "oidc":
        app.state.oidc = OidcProvider(settings)
    return app
