"""CQL migration files parse into ordered, idempotent statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from operate.provision.migrations import load_migrations, split_statements


def test_statements_split_on_semicolons_without_comments() -> None:
    text = "-- a comment; with a semicolon\nCREATE TABLE a (x int PRIMARY KEY);\n\nSELECT 1;\n"
    assert split_statements(text) == ("CREATE TABLE a (x int PRIMARY KEY)", "SELECT 1")


def test_shipped_migrations_are_ordered_and_idempotent() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    for migration in migrations:
        for statement in migration.statements:
            assert "IF NOT EXISTS" in statement.upper() or "IF EXISTS" in statement.upper(), (
                f"{migration.name}: every statement must be safe to re-run: {statement[:60]}")


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_init.cql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_snake_name"):
        load_migrations(tmp_path)
