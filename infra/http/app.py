"""The FastAPI application every photostream HTTP service is built on.

The ingest service and the read API differ in their routes, their lifespan (the clients
they open) and the backend errors they answer 503 for; what they share is assembled here
once, so that a change to it (one more middleware, another error shape) reaches both:
the settings on ``app.state`` (for the dependencies), problem+json errors, request
metrics and ``/metrics``, CORS for the web app where a service is called from it, and the
security headers on every answer (outermost, so that CORS preflights get them too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from infra.http import problems
from infra.http.admission import EXEMPT, Admission
from infra.http.headers import Policy, SecurityHeaders
from infra.metrics_http import instrument
from infra.settings import Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def service_app(
    settings: Settings,
    *,
    service: str,
    title: str,
    summary: str,
    lifespan: Lifespan,
    routers: Iterable[APIRouter],
    cors_origins: Sequence[str] = (),
    cors_headers: Sequence[str] = ("Authorization", "Content-Type"),
    csp: Policy | None = None,
    max_in_flight: int | None = None,
    long_lived: Sequence[str] = (),
) -> FastAPI:
    """The app of ``service`` (its metrics label) with ``routers`` mounted.

    ``cors_origins``: browser origins allowed to call it (none: no CORS at all), sending
    ``cors_headers``. ``csp``: the Content-Security-Policy of its HTML answers (default:
    nothing may load, for a service without a web app). ``max_in_flight``: requests let
    in at once, the rest refused with 503 (:mod:`infra.http.admission`; None: no bound).
    ``long_lived``: paths of streams that stay open for minutes (server-sent events);
    they bound themselves, and counting them here would let 32 idle streams shut out
    every page request.
    """
    app = FastAPI(title=title, version="1", summary=summary, lifespan=lifespan)
    app.state.settings = settings
    problems.install(app)
    instrument(app, service)
    for router in routers:
        app.include_router(router)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],  # PUT: Mastodon media
            allow_headers=list(cors_headers), max_age=600)
    if max_in_flight is not None:  # outside routing and metrics: a refusal costs microseconds
        app.add_middleware(Admission, max_in_flight=max_in_flight, service=service,
                           retry_after_seconds=settings.api.retry_after_seconds,
                           exempt=(*EXEMPT, *long_lived))
    if csp is None:
        app.add_middleware(SecurityHeaders)
    else:
        app.add_middleware(SecurityHeaders, csp=csp)
    return app
