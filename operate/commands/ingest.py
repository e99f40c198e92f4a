"""``photostream ingest``: run the upload service (uvicorn) until SIGTERM/SIGINT.

uvicorn's own signal handling gives the clean shutdown: stop accepting connections, let
in-flight uploads finish (up to ``--graceful-seconds``), then run the app's lifespan exit,
which flushes the Kafka producer and closes the Cassandra session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from infra.settings import Settings
from operate.safety import require_safe


def register(sub: Any) -> None:
    ingest = sub.add_parser("ingest", help="run the HTTP ingest service (uploads)")
    ingest.add_argument("--host", default=None, help="default: PHOTOSTREAM_INGEST_HOST")
    ingest.add_argument("--port", type=int, default=None, help="default: PHOTOSTREAM_INGEST_PORT")
    ingest.add_argument("--worker-id", type=int, default=None,
                        help="id generator worker (0-15), unique per running replica "
                             "(default: PHOTOSTREAM_ID_WORKER)")
    ingest.add_argument("--graceful-seconds", type=int, default=30,
                        help="how long in-flight requests may run after SIGTERM")
    ingest.set_defaults(handler=cmd_ingest)


async def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    require_safe(settings, "the ingest service")

    from producers.ingest import create_app

    config = uvicorn.Config(
        create_app(settings, worker_id=args.worker_id),
        host=args.host or settings.ingest.host,
        port=args.port or settings.ingest.port,
        lifespan="on",
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers go through ours (text or JSON, redacted)
        timeout_graceful_shutdown=args.graceful_seconds,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    # Same graceful stop as uvicorn's own handlers, without re-raising the signal after
    # it (uvicorn does, so the process would die "by SIGTERM" instead of exiting 0).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    await server.serve()
    return 0 if server.started else 1
