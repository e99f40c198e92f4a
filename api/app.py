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
from api.feed_page import FeedPages
from api.routes import (
    explore,
    fast,
    feed,
    health,
    naive,
    notifications,
    photos,
    posts,
    search,
    stories,
    stream,
    users,
    web,
)
from api.service import ReadService
from infra.http.app import service_app
from infra.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await ReadService.open(settings)
        app.state.read = service
        app.state.pages = pages = FeedPages(service)
        try:
            yield
        finally:
            await pages.close()
            await service.close()

    routers = [module.router for module in (health, feed, photos, posts, users, search, explore,
                                            stories, notifications, stream)]
    if settings.api.naive_feed:
        routers.append(naive.router)
    app = service_app(
        settings, service="api", title="photostream read API",
        summary="Read side: feeds, photos, profiles, search, explore and stories.",
        lifespan=lifespan, routers=routers, csp=web.policy(settings),
        max_in_flight=settings.api.max_in_flight, long_lived=(stream.PATH,))
    fast.mount(app)
    failsafe.install(app, settings)
    web.mount(app)
    return app
