"""Versioned CQL migrations from ``operate/provision/cql/NNNN_name.cql``, recorded in Cassandra.

The keyspace itself is created here (its replication factor comes from settings, so
it cannot be a fixed CQL file). Every statement in a migration must be idempotent
(``IF NOT EXISTS``): a migration interrupted half-way is simply re-run, and only a
fully applied one is recorded in ``schema_migrations``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from cassandra.cluster import Session

from infra.connect import cassandra
from infra.settings import Settings

log = logging.getLogger(__name__)

CQL_DIR = Path(__file__).resolve().parent / "cql"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def split_statements(text: str) -> tuple[str, ...]:
    """Split a CQL file on ';' line ends, dropping ``--`` comments and blank statements."""
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("--")]
    parts = "\n".join(lines).split(";")
    return tuple(p.strip() for p in parts if p.strip())


def load_migrations(directory: Path = CQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.cql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migration files are named NNNN_snake_name.cql")
        text = path.read_text()
        found.append(Migration(
            version=int(match.group(1)),
            name=match.group(2),
            statements=split_statements(text),
            checksum=hashlib.sha256(text.encode()).hexdigest()[:16],
        ))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


def keyspace_cql(settings: Settings) -> str:
    cs = settings.cassandra
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {cs.keyspace} WITH replication = "
        f"{{'class': 'NetworkTopologyStrategy', '{cs.local_datacenter}': {cs.replication_factor}}}"
    )


_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
)


def _apply_sync(settings: Settings, migrations: list[Migration]) -> list[str]:
    cluster = cassandra.cluster(settings)
    try:
        session: Session = cluster.connect()
        session.execute(keyspace_cql(settings))
        session.set_keyspace(settings.cassandra.keyspace)
        session.execute(_LEDGER)
        done = {row["version"] for row in session.execute("SELECT version FROM schema_migrations")}
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            for statement in migration.statements:
                session.execute(statement, timeout=60)
            session.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (%s, %s, %s, toTimestamp(now()))",
                (migration.version, migration.name, migration.checksum),
            )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(f"{migration.version:04d}_{migration.name}")
        return applied
    finally:
        cluster.shutdown()


async def apply_migrations(settings: Settings) -> list[str]:
    """Apply pending migrations in version order; returns the ones applied now."""
    return await asyncio.to_thread(_apply_sync, settings, load_migrations())
