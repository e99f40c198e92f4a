"""``photostream token USER_ID``: print a bearer token, for development and curl."""

from __future__ import annotations

import argparse
from typing import Any

from infra.settings import Settings


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="print a bearer token for USER_ID (development)")
    token.add_argument("user_id", help="the user id the token speaks for (the 'sub' claim)")
    token.add_argument("--ttl", type=int, default=None,
                       help="lifetime in seconds (default: PHOTOSTREAM_TOKEN_TTL_SECONDS)")
    token.set_defaults(handler=cmd_token)


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from infra.http.auth import TokenError, mint

    try:
        print(mint(args.user_id, settings, ttl_seconds=args.ttl))
    except TokenError as exc:
        print(f"photostream token: {exc}")
        return 2
    return 0
