"""``photostream run [ingest] [api] [processors|NAME ...] | all``: supervise services.

See :mod:`operate.supervisor`. With no names (or ``all``) it runs every service of
:mod:`operate.services`; ``processors`` means every stream processor, one child each.
"""

from __future__ import annotations

import argparse
from typing import Any

from infra.settings import Settings, SettingsError
from operate.safety import require_safe
from operate.services import resolve
from operate.supervisor import Supervisor


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run services as supervised child processes "
                                   "(restart on crash, ordered stop on SIGTERM)")
    p.add_argument("services", nargs="*", metavar="SERVICE",
                   help="all (default), processors, ingest, api, or processor names")
    p.add_argument("--stop-timeout", type=float, default=45.0,
                   help="seconds a service may take to stop before it is killed")
    p.set_defaults(handler=cmd_run)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    require_safe(settings, "the services")
    try:
        specs = resolve(settings, args.services)
    except KeyError as exc:
        raise SettingsError(str(exc.args[0])) from None
    return await Supervisor(specs, stop_timeout=args.stop_timeout).run()
