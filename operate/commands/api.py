"""``photostream api``: run the read API (uvicorn) until SIGTERM/SIGINT.

``--workers N`` runs N processes sharing the port (uvicorn's multiprocess mode), which
is how one box uses all its cores for reads: each worker has its own Cassandra session
and Redis pool and holds no state another worker needs. On SIGTERM uvicorn stops
accepting connections, lets in-flight requests finish, then closes the clients.
"""

from __future__ import annotations

import argparse
from typing import Any

from infra.settings import Settings
from operate.safety import require_safe


def register(sub: Any) -> None:
    api = sub.add_parser("api", help="run the HTTP read API (feeds, photos, ...) and web app")
    api.add_argument("--host", default=None, help="default: PHOTOSTREAM_API_HOST")
    api.add_argument("--port", type=int, default=None, help="default: PHOTOSTREAM_API_PORT")
    api.add_argument("--workers", type=int, default=None,
                     help="processes sharing the port (default: PHOTOSTREAM_API_WORKERS)")
    api.add_argument("--graceful-seconds", type=int, default=15,
                     help="how long in-flight requests may run after SIGTERM")
    api.set_defaults(handler=cmd_api)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    require_safe(settings, "the read API")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.api.host,
        port=args.port or settings.api.port,
        workers=args.workers or settings.api.workers,
        lifespan="on",
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # uvicorn's loggers go through ours (text or JSON, redacted)
        timeout_graceful_shutdown=args.graceful_seconds,
        proxy_headers=True,
    )
    return 0
