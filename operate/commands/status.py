"""``photostream status``: one table of services (up/down), consumer lag and DLQ size."""

from __future__ import annotations

import argparse
from typing import Any

from infra.settings import Settings
from operate.commands.topics import kafka_errors
from operate.ops.status import gather_status
from operate.ops.table import render
from schemas.topics import DEADLETTERS


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="services (from /healthz), consumer lag, DLQ size")
    p.set_defaults(handler=cmd_status)


@kafka_errors
async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    rows, dlq = await gather_status(settings)
    table: list[list[str | int | None]] = []
    for r in rows:
        lag = None if r.group is None else r.group.total_lag
        group = "" if r.group is None else (
            f"{r.group.group} {r.group.state.state}, {r.group.state.members} member(s)")
        table.append([r.name, "up" if r.up else "down", lag, r.where,
                      "; ".join(x for x in (group, r.detail) if x)])
    table.append([DEADLETTERS.name, "-", dlq, "-", "records held (dead letters)"])
    print(render(["service", "health", "lag", "where", "detail"], table))
    down = [r.name for r in rows if not r.up]
    print(f"\n{len(rows) - len(down)} of {len(rows)} services up"
          + (f"; down: {', '.join(down)}" if down else ""))
    return 0
