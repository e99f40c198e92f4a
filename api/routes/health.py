"""Liveness and readiness of the read API."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Service
from api.models import Health
from api.routes.common import JSON, ok

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> JSON:
    """Liveness: the process answers (no backend is checked, so no restart storms)."""
    return ok({"status": "ok", "checks": {}})


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(svc: Service) -> JSON:
    """Readiness and mode: ``ready`` with both stores up; ``degraded`` (still 200: the
    API serves from the other store, flagged) with one down; 503 with both down."""
    errors = await svc.backends()
    down = [name for name, error in errors.items() if error is not None]
    status = "ready" if not down else "degraded" if len(down) < len(errors) else "unavailable"
    return ok({"status": status,
               "mode": {name: "down" if error else "up" for name, error in errors.items()},
               "checks": {name: f"unavailable: {error}" if error else "ok"
                          for name, error in errors.items()}},
              status_code=503 if status == "unavailable" else 200)
