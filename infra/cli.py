"""``photostream``: the one command-line entry point for operators and developers.

Each command group lives in its own module under ``infra/commands/`` and registers
its sub-commands here; a handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from infra.logging_setup import configure as configure_logging
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
    "infra.commands.run",
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
        configure_logging(settings, service=args.command)
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
