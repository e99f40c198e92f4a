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
from operate.commands import (
    api,
    demo,
    ingest,
    process,
    run,
    smoke,
    stack,
    status,
    tail,
    timelines,
    token,
    topics,
)
from operate.stack.base import StackError

#: In ``--help`` order; each module registers its sub-commands on the parser.
COMMAND_GROUPS = (
    stack,
    smoke,
    demo,
    process,
    token,
    ingest,
    api,
    timelines,
    topics,
    tail,
    status,
    run,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photostream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command_group in COMMAND_GROUPS:
        command_group.register(sub)
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
