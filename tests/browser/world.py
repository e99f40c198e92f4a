"""The real services for browser tests, and a client that seeds them over public HTTP.

``running_services`` starts ``photostream ingest``, ``photostream api`` and
``photostream process all`` as subprocesses on free loopback ports (as the demo does),
against the shared local stack. ``Seeder`` creates accounts and real photos through the
same public endpoints the web app uses (dev sign-in, uploads, follows), so what the
browser shows went through the whole pipeline, media processor included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from operate.processes import stop_processes
from operate.stack.base import free_port
from tests.support.images import encoded

#: Small enough that the "too big" error is cheap to provoke from the browser.
MAX_UPLOAD_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class Services:
    app_url: str
    api_url: str
    ingest_url: str


async def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(url + "/readyz")).status_code == 200
    return False


@contextlib.asynccontextmanager
async def running_services(log_path: Path) -> AsyncIterator[Services]:
    exe = str(Path(sys.executable).with_name("photostream"))
    ingest_port, api_port = free_port(), free_port()
    env = {**os.environ, "PHOTOSTREAM_INGEST_PORT": str(ingest_port),
           "PHOTOSTREAM_API_PORT": str(api_port), "PHOTOSTREAM_ENV": "dev",
           "PHOTOSTREAM_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
           "PHOTOSTREAM_LOG_LEVEL": "WARNING",
           # the seeder signs every account in from this one address
           "PHOTOSTREAM_RATE_SIGN_INS": "0", "PHOTOSTREAM_RATE_SIGN_UPS": "0"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        procs = [await asyncio.create_subprocess_exec(exe, *args, env=env, stdout=log,
                                                      stderr=log, start_new_session=True)
                 for args in (["ingest"], ["api"], ["process", "all"])]
        try:
            services = Services(f"http://127.0.0.1:{api_port}/app/",
                                f"http://127.0.0.1:{api_port}",
                                f"http://127.0.0.1:{ingest_port}")
            deadline = time.monotonic() + 90
            while not (await _ready(services.api_url) and await _ready(services.ingest_url)):
                if time.monotonic() > deadline or any(p.returncode is not None for p in procs):
                    raise RuntimeError(f"services did not become ready; see {log_path}")
                await asyncio.sleep(0.3)
            yield services
        finally:
            await stop_processes(procs, group=True)


def landscape(seed: int, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A made-up landscape JPEG (sky, sun, hills), different for every seed."""
    rnd = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    top = (rnd.randrange(20, 120), rnd.randrange(60, 160), rnd.randrange(150, 255))
    bottom = (rnd.randrange(200, 255), rnd.randrange(120, 210), rnd.randrange(60, 160))
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t)
                                               for a, b in zip(top, bottom, strict=True)))
    sx, sy, r = rnd.randrange(w // 5, 4 * w // 5), rnd.randrange(h // 6, h // 2), h // 9
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 236, 170))
    for layer in range(3):
        base = h * (0.55 + 0.13 * layer)
        shade = (30 + 30 * layer + rnd.randrange(30), 70 + 25 * layer, 50 + 15 * layer)
        points = [(0, h)] + [(x, base - rnd.randrange(0, h // 5))
                             for x in range(0, w + 150, 150)] + [(w, h)]
        draw.polygon(points, fill=shade)
    return encoded(im, quality=85)


@dataclass
class Account:
    user_id: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def session(self) -> dict[str, Any]:
        """What the web app keeps in localStorage once signed in."""
        return {"token": self.token, "user": {"user_id": self.user_id, "username": self.username}}


class Seeder:
    """Builds a small social network through the public APIs."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.http = httpx.AsyncClient(timeout=60)
        self.run = f"{random.getrandbits(24):06x}"

    async def close(self) -> None:
        await self.http.aclose()

    def name(self, base: str) -> str:
        return f"{base}_{self.run}"

    async def account(self, base: str, *, private: bool = False, bio: str = "") -> Account:
        r = await self.http.post(self.services.ingest_url + "/v1/dev/session",
                                 json={"username": self.name(base)})
        r.raise_for_status()
        body = r.json()
        account = Account(body["user_id"], body["username"], body["token"])
        if private or bio:
            patch = await self.http.patch(self.services.ingest_url + "/v1/me",
                                          headers=account.auth,
                                          json={"private": private, "bio": bio})
            patch.raise_for_status()
            await self.until(lambda: self._profile_is(account, private))
        return account

    async def _profile_is(self, account: Account, private: bool) -> bool:
        r = await self.http.get(self.services.api_url + "/v1/me", headers=account.auth)
        return r.status_code == 200 and r.json()["private"] == private

    async def photo(self, owner: Account, caption: str, seed: int, *,
                    wait: bool = True) -> str:
        r = await self.http.post(self.services.ingest_url + "/v1/media", headers=owner.auth,
                                 files={"file": ("photo.jpg", landscape(seed), "image/jpeg")},
                                 data={"caption": caption})
        r.raise_for_status()
        photo_id: str = r.json()["photo_id"]
        if wait:
            await self.until(lambda: self.ready(owner, photo_id), timeout=120)
        return photo_id

    async def ready(self, who: Account, photo_id: str) -> bool:
        r = await self.http.get(f"{self.services.api_url}/v1/photos/{photo_id}",
                                headers=who.auth)
        return r.status_code == 200 and r.json()["status"] == "ready"

    async def follow(self, follower: Account, followee: Account) -> None:
        r = await self.http.post(f"{self.services.ingest_url}/v1/users/{followee.user_id}"
                                 "/follow", headers=follower.auth)
        r.raise_for_status()

    async def feed_ids(self, who: Account) -> list[str]:
        r = await self.http.get(self.services.api_url + "/v1/feed", headers=who.auth,
                                params={"limit": 50})
        return [item["photo_id"] for item in r.json()["items"]]

    @staticmethod
    async def until(check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout}s")
            await asyncio.sleep(0.25)
