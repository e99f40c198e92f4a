"""The local stack as a whole: start the four servers in parallel, stop them, report.

``up`` is idempotent: a server already running is left alone, a missing one is
installed (cached outside the clone), prepared and started; then each must answer a
real request before ``up`` returns, and the schema bootstrap (topics, CQL migrations,
buckets) runs. ``down`` stops exactly the processes recorded in our pid files.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field

from infra.settings import Settings
from operate.stack.base import Service, StackError


def services(settings: Settings) -> list[Service]:
    """Every server of the stack, in the order they are listed to users."""
    from operate.stack.cassandra import CassandraService
    from operate.stack.kafka import KafkaService
    from operate.stack.minio import MinioService
    from operate.stack.redis import RedisService

    return [
        KafkaService(settings),
        CassandraService(settings),
        MinioService(settings),
        RedisService(settings),
    ]


def by_name(settings: Settings, name: str) -> Service:
    for svc in services(settings):
        if svc.name == name:
            return svc
    names = ", ".join(s.name for s in services(settings))
    raise StackError(f"no service named {name!r}; the stack has: {names}")


@dataclass
class StartReport:
    """What ``up`` did, for the summary line and ``--timings``."""

    name: str
    endpoint: str
    started: bool = False
    seconds: float = 0.0
    rss_bytes: int = 0


@dataclass
class UpReport:
    services: list[StartReport] = field(default_factory=list)
    init_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def rss_total(self) -> int:
        return sum(s.rss_bytes for s in self.services)


async def _bring_up(svc: Service) -> StartReport:
    report = StartReport(name=svc.name, endpoint=svc.endpoint())
    began = time.monotonic()
    report.started = await svc.start()
    await svc.wait_ready()
    report.seconds = time.monotonic() - began
    report.rss_bytes = svc.memory()
    return report


async def up(settings: Settings, *, init: bool = True) -> UpReport:
    """Start every server concurrently and wait for each; then apply the schema."""
    began = time.monotonic()
    svcs = services(settings)
    results = await asyncio.gather(*(_bring_up(s) for s in svcs), return_exceptions=True)
    failures = [(s, r) for s, r in zip(svcs, results, strict=True) if isinstance(r, BaseException)]
    if failures:
        lines = [f"{svc.name}: {err}" for svc, err in failures]
        raise StackError("stack did not come up:\n" + "\n".join(lines))
    report = UpReport(services=[r for r in results if isinstance(r, StartReport)])
    return await finish_up(settings, report, began, init=init)


async def finish_up(settings: Settings, report: UpReport, began: float, *,
                    init: bool) -> UpReport:
    """Apply the schema (topics, migrations, buckets) if asked, and time the whole ``up``;
    shared by the single-node stack and the local cluster."""
    if init:
        from operate.provision import apply_all

        init_began = time.monotonic()
        await apply_all(settings)
        report.init_seconds = time.monotonic() - init_began
    report.total_seconds = time.monotonic() - began
    return report


async def stop_all(svcs: list[Service]) -> list[str]:
    """Stop ``svcs`` (in parallel); returns the names of those that were running."""
    stopped = await asyncio.gather(*(s.stop() for s in svcs))
    return [s.name for s, was in zip(svcs, stopped, strict=True) if was]


def describe(svcs: list[Service]) -> list[tuple[str, int | None, str, int]]:
    """(name, pid or None, endpoint, rss bytes) per server."""
    return [(s.name, s.pid(), s.endpoint(), s.memory()) for s in svcs]


async def down(settings: Settings) -> list[str]:
    """Stop our servers (in parallel); returns the names of those that were running."""
    return await stop_all(services(settings))


def status(settings: Settings) -> list[tuple[str, int | None, str, int]]:
    """(name, pid or None, endpoint, rss bytes) per server."""
    return describe(services(settings))


async def reset(settings: Settings) -> None:
    """Stop everything and wipe the state dir (data, logs, pids); the cache stays."""
    await down(settings)
    shutil.rmtree(settings.stack.state_dir, ignore_errors=True)
