"""``photostream demo``: the main job on the local stack, narrated for a newcomer."""

from __future__ import annotations

import argparse
from typing import Any

from infra.commands.smoke import run_smoke
from infra.settings import Settings


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run the pipeline demo on the local stack")
    demo.set_defaults(handler=cmd_demo)


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    print("1. the stack answers (Kafka, Cassandra, MinIO, Redis):")
    for name, seconds, detail in await run_smoke(settings):
        print(f"   ok {name:<10} {seconds * 1000:7.1f} ms  {detail}")
    print("demo finished")
    return 0
