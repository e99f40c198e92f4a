"""Stream processors run in-process for the length of a test, as the real runtime runs them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from infra.settings import Settings
from processors.registry import build
from processors.runtime import Runner


@asynccontextmanager
async def running(settings: Settings, *names: str) -> AsyncIterator[None]:
    """The processors ``names`` (registry names) consuming in their real groups until the
    block ends; then each stops after its current batch, committed."""
    async with consuming(*(Runner(build(name, settings), settings, backoff=0.1)
                           for name in names)):
        yield


@asynccontextmanager
async def consuming(*runners: Runner) -> AsyncIterator[None]:
    """``runners`` consuming until the block ends; then each stops after its batch."""
    tasks = [asyncio.create_task(runner.run()) for runner in runners]
    try:
        yield
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
