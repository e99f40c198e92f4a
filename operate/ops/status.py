"""One look at everything running: services (their ``/healthz``), consumer lag, DLQ size.

Services are found where :mod:`operate.services` says they listen. Processors may run
one per process (the supervisor) or several in one (``photostream process all``), so
every processor port is probed and each answering process says which processors it
runs; a processor is up if some process serving it is healthy.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from infra.settings import Settings
from operate.ops.cluster import admin_client, describe, offset_bounds, partitions_of, reader
from operate.ops.lag import GroupLag, consumer_lag
from operate.services import ServiceSpec, service_table
from schemas.topics import CONSUMER_GROUPS, DEADLETTERS

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Probe:
    url: str
    up: bool
    detail: str
    processors: tuple[str, ...] = ()


async def probe(client: httpx.AsyncClient, url: str) -> Probe:
    """GET ``url`` (a /healthz); up means 200 and ``{"status": "ok"}``."""
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return Probe(url, False, type(exc).__name__)
    try:
        body = response.json()
    except ValueError:
        body = {}
    up = response.status_code == 200 and body.get("status") == "ok"
    detail = str(body.get("detail") or f"HTTP {response.status_code}")
    return Probe(url, up, detail, tuple(body.get("processors") or ()))


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str
    up: bool
    where: str
    detail: str
    group: GroupLag | None = None


async def _probe_all(settings: Settings, specs: list[ServiceSpec]) -> dict[str, Probe]:
    urls = [s.url(settings) for s in specs]
    base = f"http://{settings.metrics_host}:{settings.metrics_port}/healthz"
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        found = await asyncio.gather(*(probe(client, u) for u in [base, *urls]))
    return {p.url: p for p in found}


async def dead_letter_count(settings: Settings) -> int | None:
    """Records held in the dead-letter topic (None if it does not exist)."""
    async with admin_client(settings) as admin:
        metas = await describe(admin, [DEADLETTERS.name])
    if not metas:
        return None
    async with reader(settings) as consumer:
        start, end = await offset_bounds(consumer, partitions_of(metas.values()))
    return sum(end.values()) - sum(start.values())


def _processor_status(spec: ServiceSpec, group: str, probes: dict[str, Probe],
                      lag: GroupLag | None) -> ServiceStatus:
    serving = [p for p in probes.values() if group in p.processors]
    healthy = [p for p in serving if p.up]
    if healthy:
        return ServiceStatus(spec.name, spec.kind, True, healthy[0].url, "ok", lag)
    if serving:
        return ServiceStatus(spec.name, spec.kind, False, serving[0].url, serving[0].detail,
                             lag)
    return ServiceStatus(spec.name, spec.kind, False, "-", "no process serves it", lag)


async def gather_status(settings: Settings) -> tuple[list[ServiceStatus], int | None]:
    """Every service of the table with its health (and, for processors, group lag)."""
    specs = list(service_table(settings).values())
    probes, lags, dlq = await asyncio.gather(
        _probe_all(settings, specs), consumer_lag(settings), dead_letter_count(settings))
    groups = {g.short_name: g.group_id for g in CONSUMER_GROUPS}
    by_group = {g.group: g for g in lags}
    rows: list[ServiceStatus] = []
    for spec in specs:
        if spec.name in groups:
            group = groups[spec.name]
            rows.append(_processor_status(spec, group, probes, by_group.get(group)))
        else:
            p = probes[spec.url(settings)]
            rows.append(ServiceStatus(spec.name, spec.kind, p.up, p.url, p.detail))
    return rows, dlq
