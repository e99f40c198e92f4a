"""``photostream stack up | down | status | logs SERVICE | reset | init``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from infra.settings import Settings
from infra.stack import manager
from infra.stack.base import tail_lines

MiB = 1024 * 1024


def register(sub: Any) -> None:
    stack = sub.add_parser("stack", help="run the local Kafka/Cassandra/MinIO/Redis stack")
    cmds = stack.add_subparsers(dest="stack_command", required=True)
    up = cmds.add_parser("up", help="install (cached), start and initialise the stack")
    up.add_argument("--timings", action="store_true", help="print start times and memory")
    up.add_argument("--no-init", action="store_true", help="skip topics/migrations/buckets")
    up.set_defaults(handler=cmd_up)
    cmds.add_parser("down", help="stop the servers this stack started").set_defaults(
        handler=cmd_down)
    cmds.add_parser("status", help="which servers run, where").set_defaults(handler=cmd_status)
    logs = cmds.add_parser("logs", help="show a server's log")
    logs.add_argument("service", choices=["kafka", "cassandra", "minio", "redis"])
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(handler=cmd_logs)
    reset = cmds.add_parser("reset", help="stop the stack and wipe its data")
    reset.set_defaults(handler=cmd_reset)
    cmds.add_parser("init", help="apply topics, CQL migrations and buckets").set_defaults(
        handler=cmd_init)


async def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    report = await manager.up(settings, init=not args.no_init)
    for svc in report.services:
        state = "started" if svc.started else "already running"
        print(f"  {svc.name:<10} {svc.endpoint:<28} {state}")
    if args.timings:
        print("timings:")
        for svc in report.services:
            rss = svc.rss_bytes / MiB
            print(f"  {svc.name:<10} ready in {svc.seconds:6.1f} s   rss {rss:7.0f} MiB")
        print(f"  {'init':<10} done in  {report.init_seconds:6.1f} s")
        print(f"  {'total':<10} {report.total_seconds:6.1f} s wall, "
              f"rss {report.rss_total / MiB:.0f} MiB ({report.rss_total / 1024**3:.2f} GiB)")
    print("stack is up")
    return 0


async def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = await manager.down(settings)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    for name, pid, endpoint, rss in manager.status(settings):
        state = f"running (pid {pid}, rss {rss / MiB:.0f} MiB)" if pid else "stopped"
        print(f"  {name:<10} {endpoint:<28} {state}")
    return 0


def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    path = manager.by_name(settings, args.service).log_path
    if not path.exists():
        print(f"no log yet at {path}")
        return 1
    if args.follow:
        os.execvp("tail", ["tail", "-n", str(args.lines), "-F", str(path)])
    print(tail_lines(path, args.lines))
    return 0


async def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    await manager.reset(settings)
    print(f"stack stopped and {settings.stack.state_dir} wiped (downloads kept in "
          f"{settings.stack.cache_dir})")
    return 0


async def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from infra.provision import apply_all

    changes = await apply_all(settings)
    for step, items in changes.items():
        print(f"  {step:<10} {', '.join(items) if items else 'up to date'}")
    return 0


