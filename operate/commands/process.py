"""``photostream process NAME [NAME ...] | all``: run stream processors until SIGTERM.

Run several copies (on one or many machines) to scale out: each processor is a Kafka
consumer group, so partitions are shared among the copies.
"""

from __future__ import annotations

import argparse
from typing import Any

from infra.settings import Settings
from operate.safety import require_safe
from processors.registry import PROCESSORS, build
from processors.runtime import run_processors


def register(sub: Any) -> None:
    process = sub.add_parser("process", help="run stream processors until SIGINT/SIGTERM")
    process.add_argument("names", nargs="+", metavar="NAME",
                         help=f"'all' or any of: {', '.join(sorted(PROCESSORS))}")
    process.add_argument("--metrics-port", type=int, default=None,
                         help="serve /metrics, /healthz, /readyz here (0: any free port; "
                              "default: PHOTOSTREAM_METRICS_PORT, 9400)")
    process.set_defaults(handler=cmd_process)


async def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    require_safe(settings, "the stream processors")
    names = sorted(PROCESSORS) if args.names == ["all"] else args.names
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    await run_processors([build(name, settings) for name in names], settings,
                         metrics_port=port)
    return 0
