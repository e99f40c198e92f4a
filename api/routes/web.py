"""The web app: static files under ``api/static`` served at ``/app/``, its config and its
Content-Security-Policy.

The app is plain HTML/JS talking only to the public HTTP APIs (this read API, same
origin, and ingest for writes), so it doubles as their reference client. It has no inline
script or style, so its policy allows scripts from its own origin only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import URL
from starlette.types import Scope

from api.routes.common import JSON, ok
from infra.http.headers import Policy, content_security_policy
from infra.settings import Settings
from sinks.media_urls import MediaUrls

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/config.json")
async def config(request: Request) -> JSON:
    """Where the web app sends writes (ingest), for the host the browser used."""
    settings: Settings = request.app.state.settings
    return ok({"ingest_url": ingest_url(settings, request.url), "env": settings.env})


def ingest_url(settings: Settings, url: URL) -> str:
    """Ingest's base URL for a browser that reached us at ``url``."""
    return settings.api.ingest_url or f"{url.scheme}://{url.hostname}:{settings.ingest.port}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(settings: Settings) -> Policy:
    """The web app's CSP for one request: its own origin, ingest (writes, upload XHR) for
    the host the browser used, and the object store that serves presigned media URLs."""
    media = MediaUrls.from_settings(settings).origin
    fixed = {"img-src": ["'self'", "data:", "blob:", media],
             "media-src": ["'self'", "blob:", media]}

    def for_request(scope: Scope) -> str:
        return content_security_policy({
            "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
            **fixed, "connect-src": ["'self'", _origin(ingest_url(settings, URL(scope=scope)))],
            "object-src": ["'none'"], "base-uri": ["'none'"], "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        })
    return for_request


def mount(app: FastAPI) -> None:
    app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/app", StaticFiles(directory=STATIC_DIR, html=True), name="app")
