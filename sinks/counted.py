"""Counted edges: a row plus a STATIC count in the same partition, changed together.

This is the one implementation of the pattern in ``operate/provision/cql/0002_social.cql`` (used by
followers, following, likes, comments and photos_by_user). Each change is a
single-partition conditional batch::

    INSERT edge IF NOT EXISTS  +  UPDATE count = c + 1 IF count = c      (add)
    DELETE edge IF EXISTS      +  UPDATE count = c - 1 IF count = c      (remove)

Why: edge and count commit atomically or not at all, so a redelivered event (edge
already there) can never count twice and a crash can never leave them apart. ``c`` is
a guess (a plain read); when another writer got there first the batch fails and its
result carries the current edge and count, so the retry needs no extra read.

A timed-out LWT has an unknown outcome; we simply try again: if it had applied, the
retry sees the edge and stops, and the count is right either way because edge and
count only ever move together.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cassandra import OperationTimedOut, ReadTimeout, WriteTimeout
from cassandra.cluster import Session
from cassandra.query import BatchStatement

from infra.connect.cassandra import execute
from sinks.statements import QUORUM, SERIAL, applied, prepared

#: Attempts before giving up under contention (each failed attempt learns the new count).
MAX_ATTEMPTS = 64


class CountContention(TimeoutError):
    """A counted change kept losing the race for its partition.

    A TimeoutError, so the processor runtime treats it as transient: the event is
    retried later instead of being dead-lettered.
    """


@dataclass(frozen=True)
class CountedTable:
    """A table whose partition holds edges (rows) and their count (a static column)."""

    table: str
    partition: str
    clustering: str
    count: str
    columns: tuple[str, ...] = ()
    """Other row columns written with the edge (values given to :func:`add_edge`)."""

    def insert_cql(self) -> str:
        names = (self.partition, self.clustering, *self.columns)
        marks = ", ".join("?" for _ in names)
        return (f"INSERT INTO {self.table} ({', '.join(names)}) VALUES ({marks}) "
                "IF NOT EXISTS")

    def delete_cql(self) -> str:
        return (f"DELETE FROM {self.table} WHERE {self.partition} = ? "
                f"AND {self.clustering} = ? IF EXISTS")

    def set_count_cql(self) -> str:
        return (f"UPDATE {self.table} SET {self.count} = ? WHERE {self.partition} = ? "
                f"IF {self.count} = ?")

    def count_cql(self) -> str:
        return f"SELECT {self.count} FROM {self.table} WHERE {self.partition} = ? LIMIT 1"

    def exists_cql(self) -> str:
        return (f"SELECT {self.clustering} FROM {self.table} WHERE {self.partition} = ? "
                f"AND {self.clustering} = ?")


async def add_edge(session: Session, spec: CountedTable, key: int, member: int,
                   values: Sequence[Any] = ()) -> bool:
    """Insert edge ``key -> member`` and count it; False if it already existed."""
    if len(values) != len(spec.columns):
        raise ValueError(f"{spec.table}: expected values for {spec.columns}, got {len(values)}")
    edge = await prepared(session, spec.insert_cql())
    return await _change(session, spec, edge, (key, member, *values), key, member, +1)


async def remove_edge(session: Session, spec: CountedTable, key: int, member: int) -> bool:
    """Delete edge ``key -> member`` and uncount it; False if it was not there."""
    edge = await prepared(session, spec.delete_cql())
    return await _change(session, spec, edge, (key, member), key, member, -1)


async def edge_count(session: Session, spec: CountedTable, key: int) -> int:
    """The count of ``key``'s partition (0 when it has never had an edge)."""
    statement = await prepared(session, spec.count_cql())
    rows = await execute(session, statement, (key,))
    return int(rows[0][spec.count] or 0) if rows else 0


async def has_edge(session: Session, spec: CountedTable, key: int, member: int,
                   *, serial: bool = False) -> bool:
    """Whether edge ``key -> member`` exists (``serial``: linearizable with the LWTs)."""
    statement = await prepared(session, spec.exists_cql(),
                               consistency=SERIAL if serial else QUORUM)
    return bool(await execute(session, statement, (key, member)))


async def _read_count(session: Session, spec: CountedTable, key: int) -> int | None:
    statement = await prepared(session, spec.count_cql())
    rows = await execute(session, statement, (key,))
    if not rows or rows[0][spec.count] is None:
        return None
    return int(rows[0][spec.count])


async def _change(session: Session, spec: CountedTable, edge: Any, edge_params: Sequence[Any],
                  key: int, member: int, delta: int) -> bool:
    set_count = await prepared(session, spec.set_count_cql())
    current = await _read_count(session, spec, key)
    for attempt in range(MAX_ATTEMPTS):
        batch = BatchStatement(consistency_level=QUORUM)
        batch.add(edge, edge_params)
        batch.add(set_count, (max(0, (current or 0) + delta), key, current))
        try:
            rows = await execute(session, batch)
        except (WriteTimeout, ReadTimeout, OperationTimedOut):
            # Unknown outcome: learn the truth from a fresh attempt (see module doc).
            await _pause(attempt)
            current = await _read_count(session, spec, key)
            continue
        if applied(rows):
            return True
        present = any(row.get(spec.clustering) == member for row in rows)
        if present == (delta > 0):
            return False  # already added / already removed: nothing to count
        counts = [row[spec.count] for row in rows if row.get(spec.count) is not None]
        current = int(counts[0]) if counts else None
        if attempt:
            await _pause(attempt)
    raise CountContention(f"{spec.table}[{key}]: {MAX_ATTEMPTS} attempts lost the race")


async def _pause(attempt: int) -> None:
    """Jittered backoff so contending writers stop colliding in lock step."""
    await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))
