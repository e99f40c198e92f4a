"""Redis from Debian's ``redis-server`` package, installed by the bootstrap when missing."""

from __future__ import annotations

import os
import shutil

import redis.asyncio as aioredis

from operate.stack.base import Service, StackError, Tool, run_checked
from operate.stack.versions import REDIS_DEBIAN_PACKAGE


class RedisService(Service):
    name = "redis"
    startup_timeout = 30.0

    def tools(self) -> list[Tool]:
        return []  # install() brings redis-server itself

    def ports(self) -> dict[str, int]:
        return {"client": self.settings.stack.redis_port}

    async def install(self) -> None:
        if shutil.which("redis-server"):
            return
        if os.geteuid() != 0:
            raise StackError(
                "'redis-server' not found on PATH: run "
                f"'sudo apt-get install -y {REDIS_DEBIAN_PACKAGE}' (or put redis-server on PATH)"
            )
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        log = self.settings.stack.state_dir / "logs" / "redis-install.log"
        await run_checked(["apt-get", "update", "-qq"], what="apt-get update", env=env, log=log)
        await run_checked(
            ["apt-get", "install", "-y", "-qq", REDIS_DEBIAN_PACKAGE],
            what=f"apt-get install {REDIS_DEBIAN_PACKAGE}", env=env, log=log,
        )

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(self.settings.stack.redis_port),
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            # Everything in Redis is derived from Cassandra (timelines, stories, activity)
            # and rebuilt on demand, so no append-only log taxes every fan-out write; a
            # snapshot on graceful shutdown still makes `down`/`up` keep the hot cache.
            "--appendonly", "no",
            "--save", "",
            "--shutdown-on-sigterm", "save",
            "--maxmemory-policy", "noeviction",
        ]

    async def probe(self) -> None:
        client = aioredis.Redis(port=self.settings.stack.redis_port, socket_timeout=2)
        try:
            if not await client.ping():
                raise StackError("redis PING did not answer PONG")
        finally:
            await client.aclose()

    def endpoint(self) -> str:
        return f"redis://127.0.0.1:{self.settings.stack.redis_port}/0"
