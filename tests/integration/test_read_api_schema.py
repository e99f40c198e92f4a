"""Schemathesis against the live OpenAPI document of the read API: generated requests
(valid and invalid) never get a 5xx, and every answer matches its documented schema."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.integration.readside import read_world

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def test_no_server_error_and_answers_match_the_schema(stack: Settings) -> None:
    async with read_world(stack) as world:
        me, friend = await world.user(), await world.user(private=True)
        await world.follow(me, friend, approve=True)
        for i in range(3):
            await world.photo(friend, f"schema #run{i} words")
        proc = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS), "run", f"{world.base_url}/openapi.json",
            "-H", f"Authorization: Bearer {me.token}",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--max-examples", "20", "--workers", "1", "--seed", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    assert "passed" in text
