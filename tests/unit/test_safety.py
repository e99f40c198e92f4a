"""Outside PHOTOSTREAM_ENV=dev, services refuse the built-in development secrets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.settings import REPO_ROOT, Settings
from operate.safety import production_problems

GOOD = {"PHOTOSTREAM_JWT_SECRET": "x" * 40, "PHOTOSTREAM_S3_ACCESS_KEY": "prod-access",
        "PHOTOSTREAM_S3_SECRET_KEY": "prod-secret-key-value"}


def test_dev_allows_the_defaults_and_production_names_every_variable_to_set() -> None:
    assert production_problems(Settings.from_env({})) == []
    problems = " ".join(production_problems(Settings.from_env({"PHOTOSTREAM_ENV": "prod"})))
    for variable in GOOD:
        assert variable in problems
    assert production_problems(Settings.from_env({"PHOTOSTREAM_ENV": "prod", **GOOD})) == []
    short = production_problems(Settings.from_env(
        {"PHOTOSTREAM_ENV": "production", **GOOD, "PHOTOSTREAM_JWT_SECRET": "short"}))
    assert len(short) == 1 and "shorter than 32" in short[0]


@pytest.mark.parametrize("command", [["ingest", "--port", "1"], ["process", "graph"],
                                     ["run", "ingest"]])
def test_services_refuse_to_start_in_production_with_development_secrets(
        command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSTREAM_")}
    env.update(PHOTOSTREAM_ENV="prod", PHOTOSTREAM_S3_SECRET_KEY="prod-secret-key-value")
    result = subprocess.run([sys.executable, "-m", "operate.cli", *command], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "refusing to start" in result.stderr
    assert "PHOTOSTREAM_JWT_SECRET" in result.stderr
    assert "PHOTOSTREAM_S3_ACCESS_KEY" in result.stderr
    assert "PHOTOSTREAM_S3_SECRET_KEY" not in result.stderr  # that one was set
