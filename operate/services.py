"""The long-running services of photostream, as data: how to start each, where it answers.

``photostream run`` starts children from this table and ``photostream status`` probes
the same endpoints, so adding a service is one entry here. Every service is a
``photostream`` sub-command, so each also runs alone (``photostream ingest``), and can be
scaled out by running more copies elsewhere.

Processor ports: ``photostream process ...`` run by hand serves on ``metrics_port``
(default 9400); under the supervisor each processor is its own child on
``metrics_port + 1 + its index`` (in registry order), so both can coexist on one host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.settings import Settings
from schemas.topics import CONSUMER_GROUPS


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: str
    """``http`` (a public HTTP API with its own /healthz) or ``processor``."""
    argv: tuple[str, ...]
    """The ``photostream`` sub-command that runs it."""
    port: int
    order: int
    """Stop order under the supervisor: lower stops first (front doors before workers)."""

    def url(self, settings: Settings, path: str = "/healthz") -> str:
        host = settings.metrics_host if self.kind == "processor" else self._host(settings)
        return f"http://{host}:{self.port}{path}"

    def _host(self, settings: Settings) -> str:
        host = settings.api.host if self.name == "api" else settings.ingest.host
        return "127.0.0.1" if host in ("0.0.0.0", "") else host


#: HTTP services: name (= its ``photostream`` command) -> port. One line per service.
HTTP_SERVICES: dict[str, Callable[[Settings], int]] = {
    "ingest": lambda s: s.ingest.port,
    "api": lambda s: s.api.port,
}

#: Every stream processor's short name, in the catalogue's order (which fixes its port).
PROCESSORS: tuple[str, ...] = tuple(g.short_name for g in CONSUMER_GROUPS)


def processor_port(settings: Settings, name: str) -> int:
    return settings.metrics_port + 1 + PROCESSORS.index(name)


def service_table(settings: Settings) -> dict[str, ServiceSpec]:
    """Every service, in start order (HTTP front doors last to start, first to stop)."""
    table: dict[str, ServiceSpec] = {}
    for name in PROCESSORS:
        port = processor_port(settings, name)
        table[name] = ServiceSpec(name, "processor",
                                  ("process", name, "--metrics-port", str(port)), port, 1)
    for name, port_of in HTTP_SERVICES.items():
        table[name] = ServiceSpec(name, "http", (name,), port_of(settings), 0)
    return table


def resolve(settings: Settings, words: list[str]) -> list[ServiceSpec]:
    """``all`` | ``processors`` | service names -> specs (``KeyError`` naming a bad one)."""
    table = service_table(settings)
    chosen: list[str] = []
    for word in words or ["all"]:
        if word == "all":
            chosen += list(table)
        elif word == "processors":
            chosen += list(PROCESSORS)
        elif word in table:
            chosen.append(word)
        else:
            raise KeyError(f"unknown service {word!r}; known: all, processors, "
                           f"{', '.join(table)}")
    return [table[n] for n in dict.fromkeys(chosen)]
