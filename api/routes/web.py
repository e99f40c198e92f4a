"""The web app: static files under ``api/static`` served at ``/app/``, and its config.

The app is plain HTML/JS talking only to the public HTTP APIs (this read API, same
origin, and ingest for writes), so it doubles as their reference client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.routes.common import JSON, ok
from infra.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/config.json")
async def config(request: Request) -> JSON:
    """Where the web app sends writes (ingest), for the host the browser used."""
    settings: Settings = request.app.state.settings
    ingest = settings.api.ingest_url or (
        f"{request.url.scheme}://{request.url.hostname}:{settings.ingest.port}")
    return ok({"ingest_url": ingest, "env": settings.env})


def mount(app: FastAPI) -> None:
    app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/app", StaticFiles(directory=STATIC_DIR, html=True), name="app")
