"""Waiting for eventually-consistent effects of real processors (test helper)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60,
                     interval: float = 0.1) -> None:
    """Poll ``check`` until it is true; fail the test naming it after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            name = getattr(check, "__name__", repr(check))
            raise AssertionError(f"not true within {timeout}s: {name}")
        await asyncio.sleep(interval)
