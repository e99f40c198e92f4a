"""``photostream tail TOPIC``: print a topic's records decoded, one per line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from infra.settings import Settings
from operate.commands.topics import full_name, kafka_errors
from operate.ops.tail import TailOptions, tail


def register(sub: Any) -> None:
    p = sub.add_parser("tail", help="follow a topic, printing decoded events (dead letters too)")
    p.add_argument("topic", metavar="TOPIC", help="e.g. likes, photostream.deadletters")
    p.add_argument("--from-beginning", action="store_true",
                   help="start at the oldest retained record (default: only new ones)")
    p.add_argument("--key", help="only records with this key (e.g. a photo id)")
    p.add_argument("--type", dest="event_type",
                   help="only this event type (for dead letters: the original's type)")
    p.add_argument("--max", dest="max_records", type=int, default=None,
                   help="stop after this many records")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop after this many seconds without a matching record")
    p.set_defaults(handler=cmd_tail)


@kafka_errors
async def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    topic = full_name(args.topic)
    options = TailOptions(from_beginning=args.from_beginning, key=args.key,
                          event_type=args.event_type, max_records=args.max_records,
                          idle_timeout=args.timeout)

    def ready(partitions: int) -> None:
        where = "the beginning" if args.from_beginning else "the end"
        print(f"tailing {topic} ({partitions} partitions) from {where}", file=sys.stderr,
              flush=True)

    async for tailed in tail(settings, topic, options, on_ready=ready):
        print(tailed.line(), flush=True)
    return 0
