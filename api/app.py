"""The read API's FastAPI application, built by :func:`create_app` (one per process).

Answers only from Redis, Cassandra and presigned object-store URLs: nothing on the
request path touches Kafka. With Redis or Cassandra unreachable it answers from the
other store, flagged, or 503 + Retry-After (:mod:`api.failsafe`), never a 500. The
lifespan opens the clients once and closes them on shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api import failsafe
from api.routes import explore, feed, health, naive, photos, search, stories, users, web
from api.service import ReadService
from infra.http import problems
from infra.http.headers import SecurityHeaders
from infra.metrics_http import instrument
from infra.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await ReadService.open(settings)
        app.state.read = service
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="photostream read API",
        version="1",
        summary="Read side: feeds, photos, profiles, search, explore and stories.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    failsafe.install(app, settings)
    instrument(app, "api")
    for module in (health, feed, photos, users, search, explore, stories):
        app.include_router(module.router)
    if settings.api.naive_feed:
        app.include_router(naive.router)
    web.mount(app)
    app.add_middleware(SecurityHeaders, csp=web.policy(settings))
    return app
