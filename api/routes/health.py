"""Liveness and readiness of the read API."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api.deps import Service
from api.models import Health
from api.routes.common import JSON, ok
from infra.connect.cassandra import execute

router = APIRouter(tags=["health"])

_TIMEOUT = 2.0


@router.get("/healthz", response_model=Health)
async def healthz() -> JSON:
    """Liveness: the process answers (no backend is checked, so no restart storms)."""
    return ok({"status": "ok", "checks": {}})


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(svc: Service) -> JSON:
    """Readiness: Redis and Cassandra answer a real request within 2 s each."""
    async def redis() -> None:
        await svc.redis.ping()

    async def cassandra() -> None:
        await execute(svc.session, "SELECT release_version FROM system.local")

    checks: dict[str, str] = {}
    for name, probe in (("redis", redis), ("cassandra", cassandra)):
        try:
            await asyncio.wait_for(probe(), _TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready", reported by name
            checks[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return ok({"status": "ready" if ready else "unavailable", "checks": checks},
                          status_code=200 if ready else 503)
