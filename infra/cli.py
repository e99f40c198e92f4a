"""``photostream``: the one command-line entry point for operators and developers.

Each command group lives in its own module under ``infra/commands/`` and registers
its sub-commands here; a handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from infra.settings import SettingsError, get_settings
from infra.stack.base import StackError

COMMAND_GROUPS = (
    "infra.commands.stack",
    "infra.commands.smoke",
    "infra.commands.demo",
    "infra.commands.process",
    "infra.commands.token",
    "infra.commands.ingest",
    "infra.commands.api",
    "infra.commands.timelines",
    "infra.commands.topics",
    "infra.commands.tail",
    "infra.commands.status",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="photostream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("cassandra").setLevel(logging.WARNING)
        # Cassandra 5 warns on every statement prepared on a keyspace-bound session; all
        # our tables live in the one configured keyspace, so there is no ambiguity.
        logging.getLogger("cassandra.protocol").setLevel(logging.ERROR)
        for noisy in ("aiokafka", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        result = args.handler(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except (StackError, SettingsError) as exc:
        print(f"photostream: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
