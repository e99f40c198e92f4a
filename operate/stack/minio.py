"""MinIO built from source through the Go module proxy, serving S3 on loopback.

MinIO stopped publishing community binaries and images in late 2025, and this stack must
work where only package registries are reachable, so ``install`` runs ``go install`` of
the pinned module version into the shared cache (one build per version, reused by every
clone, outside the repo). The data dir lives in the per-clone state dir, so objects
survive ``down``/``up``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import httpx

from infra.connect import s3
from infra.settings import Settings
from operate.stack.base import Service, StackError, Tool, run_checked
from operate.stack.versions import MINIO_MODULE, MINIO_VERSION

PROBE_BUCKET = "photostream-probe"


class MinioService(Service):
    name = "minio"
    startup_timeout = 60.0

    @property
    def binary(self) -> Path:
        """The server binary for the pinned version; the version dir keeps bumps side by side."""
        return self.cache_dir / MINIO_VERSION / "bin" / "minio"

    def _built(self) -> bool:
        return os.access(self.binary, os.X_OK)

    def tools(self) -> list[Tool]:
        # Go is only needed to build; a cached binary runs without it.
        if self._built():
            return []
        return [Tool("go", "install Go >= 1.24 from https://go.dev/dl/ and put its bin/ on PATH")]

    def ports(self) -> dict[str, int]:
        stack = self.settings.stack
        return {"api": stack.minio_port, "console": stack.minio_console_port}

    async def install(self) -> None:
        """Build the pinned MinIO with ``go install`` (~5 min cold on 2 cores); no-op if built."""
        if self._built():
            return
        bin_dir = self.cache_dir / MINIO_VERSION / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "CGO_ENABLED": "0",  # static binary: no C toolchain needed, runs on any glibc
            "GOTOOLCHAIN": "local",  # never fetch another Go toolchain behind the user's back
            "GOFLAGS": "-trimpath",  # a user's GOFLAGS (e.g. -mod=vendor) would break the build
            "GOBIN": str(bin_dir),
        }
        log = self.settings.stack.state_dir / "logs" / "minio-install.log"
        await run_checked(
            ["go", "install", "-v", f"{MINIO_MODULE}@{MINIO_VERSION}"],
            what=f"go install {MINIO_MODULE}@{MINIO_VERSION}",
            cwd=bin_dir,  # outside any go.mod/go.work that could pin other dependencies
            env=env, log=log,
        )
        if not self._built():
            raise StackError(f"go install succeeded but {self.binary} is missing; see {log}")

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        stack = self.settings.stack
        return [
            str(self.binary), "server", str(self.data_dir),
            "--address", f"127.0.0.1:{stack.minio_port}",
            "--console-address", f"127.0.0.1:{stack.minio_console_port}",
            "--quiet",  # no banner; errors still reach the log
        ]

    def environment(self) -> dict[str, str]:
        return {
            # Explicit root credentials: MinIO's minioadmin default would not match settings.
            "MINIO_ROOT_USER": self.settings.s3.access_key,
            "MINIO_ROOT_PASSWORD": self.settings.s3.secret_key,
            "MINIO_SITE_REGION": self.settings.s3.region,  # clients sign (and presign) for it
            "MINIO_BROWSER": "on",  # object browser on the console port, handy in development
            "MINIO_UPDATE": "off",  # a source build has no release to update to
            "MINIO_CALLHOME_ENABLE": "off",
            "MINIO_SCANNER_SPEED": "slowest",  # background healing/usage scans steal dev CPU
        }

    def _probe_settings(self) -> Settings:
        """Settings aimed at this server, even if PHOTOSTREAM_S3_ENDPOINT points elsewhere."""
        endpoint = f"127.0.0.1:{self.settings.stack.minio_port}"
        s3_settings = dataclasses.replace(self.settings.s3, endpoint=endpoint, secure=False)
        return dataclasses.replace(self.settings, s3=s3_settings)

    async def probe(self) -> None:
        """Ready = health endpoint says so AND an authenticated bucket call works."""
        async with httpx.AsyncClient(timeout=2.0) as http:
            resp = await http.get(f"{self.endpoint()}/minio/health/ready")
        if resp.status_code != 200:
            raise StackError(f"minio /minio/health/ready answered {resp.status_code}")
        # Proves the credentials match and the drive is online, not only that HTTP is up.
        client = s3.client(self._probe_settings())
        await asyncio.to_thread(client.bucket_exists, PROBE_BUCKET)

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.stack.minio_port}"
