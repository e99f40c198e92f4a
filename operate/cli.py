"""``photostream``: the one command-line entry point for operators and developers.

Each command group lives in its own module under ``operate/commands/`` and registers
its sub-commands here; a handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from infra.logging_setup import configure as configure_logging
from infra.settings import SettingsError, get_settings
from operate.stack.base import StackError

COMMAND_GROUPS = (
    "operate.commands.stack",
    "operate.commands.smoke",
    "operate.commands.demo",
    "operate.commands.process",
    "operate.commands.token",
    "operate.commands.ingest",
    "operate.commands.api",
    "operate.commands.timelines",
    "operate.commands.topics",
    "operate.commands.tail",
    "operate.commands.status",
    "operate.commands.run",
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
