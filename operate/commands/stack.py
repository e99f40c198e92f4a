"""``photostream stack up | down | status | logs SERVICE | reset | init | env``.

``--cluster`` runs each on the local multi-node cluster (operate/stack/cluster.py)
instead of the single-node stack; the two use separate ports and state dirs.
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

from infra.settings import Settings
from operate.stack import cluster, manager
from operate.stack.base import tail_lines

MiB = 1024 * 1024


def register(sub: Any) -> None:
    stack = sub.add_parser("stack", help="run the local Kafka/Cassandra/MinIO/Redis stack")
    cmds = stack.add_subparsers(dest="stack_command", required=True)
    up = cmds.add_parser("up", help="install (cached), start and initialise the stack")
    up.add_argument("--timings", action="store_true", help="print start times and memory")
    up.add_argument("--no-init", action="store_true", help="skip topics/migrations/buckets")
    up.set_defaults(handler=cmd_up)
    down = cmds.add_parser("down", help="stop the servers this stack started")
    down.set_defaults(handler=cmd_down)
    status = cmds.add_parser("status", help="which servers run, where")
    status.set_defaults(handler=cmd_status)
    env = cmds.add_parser("env", help="print PHOTOSTREAM_* exports for this stack")
    env.set_defaults(handler=cmd_env)
    logs = cmds.add_parser("logs", help="show a server's log")
    logs.add_argument("service", help="kafka, cassandra, minio, redis (cluster: kafka-1, "
                                      "cassandra-2, redis-17001, ...)")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(handler=cmd_logs)
    reset = cmds.add_parser("reset", help="stop the stack and wipe its data")
    reset.set_defaults(handler=cmd_reset)
    for parser in (up, down, status, env, logs, reset):
        parser.add_argument("--cluster", action="store_true",
                            help="the local 3-broker/3-node/6-shard cluster, not one node each")
    cmds.add_parser("init", help="apply topics, CQL migrations and buckets").set_defaults(
        handler=cmd_init)


def _cluster(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "cluster", False))


async def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    if _cluster(args):
        return await cmd_cluster_up(args)
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


async def cmd_cluster_up(args: argparse.Namespace) -> int:
    """Always prints timings and memory: the point of the cluster is what it costs."""
    settings = cluster.cluster_settings()
    report = await cluster.up(settings, init=not args.no_init)
    for svc in report.services:
        state = "started" if svc.started else "already running"
        print(f"  {svc.name:<12} {svc.endpoint:<26} {state:<16} ready after {svc.seconds:5.1f} s")
    rss = cluster.total_rss(settings)
    print(f"  {'init':<12} topics RF={settings.kafka.replication_factor} "
          f"min.insync={settings.kafka.min_insync_replicas}, keyspace RF="
          f"{settings.cassandra.replication_factor}: {report.init_seconds:.1f} s")
    print(f"cluster is up in {report.total_seconds:.1f} s wall, total rss {rss / MiB:.0f} MiB "
          f"({rss / 1024**3:.2f} GiB); env: photostream stack env --cluster")
    return 0


async def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    if _cluster(args):
        stopped = await cluster.down(cluster.cluster_settings())
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    stopped = await manager.down(settings)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    if _cluster(args):
        rows = cluster.status(cluster.cluster_settings())
    else:
        rows = manager.status(settings)
    for name, pid, endpoint, rss in rows:
        state = f"running (pid {pid}, rss {rss / MiB:.0f} MiB)" if pid else "stopped"
        print(f"  {name:<12} {endpoint:<28} {state}")
    if _cluster(args):
        running = sum(1 for _, pid, _, _ in rows if pid)
        total = sum(rss for *_, rss in rows)
        print(f"  {running}/{len(rows)} running, total rss {total / MiB:.0f} MiB")
    return 0


def cmd_env(args: argparse.Namespace, settings: Settings) -> int:
    """``eval "$(photostream stack env --cluster)"`` points services and tests at it."""
    env = cluster.cluster_environment() if _cluster(args) else {
        "PHOTOSTREAM_STATE_DIR": str(settings.stack.state_dir)}
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    if _cluster(args):
        path = cluster.by_name(cluster.cluster_settings(), args.service).log_path
    else:
        path = manager.by_name(settings, args.service).log_path
    if not path.exists():
        print(f"no log yet at {path}")
        return 1
    if args.follow:
        os.execvp("tail", ["tail", "-n", str(args.lines), "-F", str(path)])
    print(tail_lines(path, args.lines))
    return 0


async def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    if _cluster(args):
        settings = cluster.cluster_settings()
        await cluster.reset(settings)
        print(f"cluster stopped and {settings.stack.state_dir} wiped")
        return 0
    await manager.reset(settings)
    print(f"stack stopped and {settings.stack.state_dir} wiped (downloads kept in "
          f"{settings.stack.cache_dir})")
    return 0


async def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from operate.provision import apply_all

    changes = await apply_all(settings)
    for step, items in changes.items():
        print(f"  {step:<10} {', '.join(items) if items else 'up to date'}")
    return 0


