"""Counted edges written by their partition's single owner: exact counts without Paxos.

The table layout is :mod:`sinks.counted`'s (edge rows plus a STATIC count in one
partition); what differs is who may write. Here the caller is the one consumer that
owns the Kafka partition of the key (likes and comments are keyed by ``photo_id``,
follows by ``followee_id``, their repartition onto ``photostream.following`` by
``follower_id``), so nothing else writes the partition concurrently and ordering comes
from the log, not from a lightweight transaction. A run of events for one key becomes:

    1 read   the count and its write time (``IN``: a hundred keys per read), and
             which of the touched edges exist (only for keys that have edges)
    k writes UNLOGGED batches; a key's changed edges + its absolute count after them
             are one partition's mutation inside it, which Cassandra applies
             atomically and in isolation, ``USING TIMESTAMP T+i``

Why it is exact without consensus:

* **Absolute values.** The count written is the one read plus the edges that really
  changed (an edge already in the wanted state changes nothing), so a redelivered or
  replayed event is a no-op instead of a second increment.
* **Edge and count together.** Each batch holds its edges and the count after them;
  a crash between two batches leaves a prefix that the redelivery reads back and
  completes (its edges are then already in the wanted state).
* **Later always wins.** ``T`` is past the count's own write time (and past the
  run's newest event time, clamped to now so a future-dated event cannot freeze the
  partition), so each run's cells supersede every earlier run's, whatever the
  replicas saw first. A zombie copy of a processor (a rebalance in progress) that
  read the same state writes the same values; one that read an older state writes
  with an older ``T`` and loses. ``docs/consistency.md`` has the full argument.

Side rows that belong to another partition (``likes_by_user``) are the caller's, and
are written *before* the batch with :func:`stamp`'s timestamp: the batch is then the
commit point, so an effective change can never be recorded without them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from infra.connect.cassandra import execute
from sinks.counted import CountedTable
from sinks.statements import QUORUM, prepared

#: Edges per atomic group (one partition's mutation). A key's groups are written one
#: round after another (module doc), so on a hot key (a viral photo, a celebrity's new
#: followers) this is what bounds the rate: with 64, a 2 000-event run took ~30
#: sequential round trips. Cassandra's batch size warn/fail thresholds do not apply to
#: a batch that is one partition's mutation (CASSANDRA-10876), and a group bigger than
#: ``BATCH_STATEMENTS`` always travels alone (:func:`_pack`); 1 000 rows of an edge
#: table are ~100 KB, far below the mutation limit (half a commit-log segment).
CHUNK = 1000
#: Keys (or edges) per ``IN`` read.
IN_GROUP = 100
#: Statements per request: far below Cassandra's batch size limit, and one request
#: instead of a hundred for the driver (whose per-request CPU is what limits us).
BATCH_STATEMENTS = 100


@dataclass(frozen=True)
class EdgeChange:
    """The state one run wants for edge ``key -> member`` (the last event's, in order)."""

    member: int
    present: bool
    values: tuple[Any, ...] = ()
    """The row's other columns (``spec.columns``), used when ``present``."""


@dataclass(frozen=True)
class Applied:
    """What a run changes: the effective changes, the count before them and the stamp."""

    changes: list[EdgeChange]
    before: int
    stamp: int

    @property
    def count(self) -> int:
        """The count after the run."""
        return max(0, self.before + sum(1 if c.present else -1 for c in self.changes))


def _states_cql(spec: CountedTable) -> str:
    return (f"SELECT {spec.partition} AS k, {spec.count} AS n, WRITETIME({spec.count}) AS wt "
            f"FROM {spec.table} WHERE {spec.partition} IN ? PER PARTITION LIMIT 1")


def _exists_cql(spec: CountedTable) -> str:
    return (f"SELECT {spec.clustering} AS m FROM {spec.table} WHERE {spec.partition} = ? "
            f"AND {spec.clustering} IN ?")


def _insert_cql(spec: CountedTable) -> str:
    names = (spec.partition, spec.clustering, *spec.columns)
    return (f"INSERT INTO {spec.table} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) USING TIMESTAMP ?")


def _delete_cql(spec: CountedTable) -> str:
    return (f"DELETE FROM {spec.table} USING TIMESTAMP ? WHERE {spec.partition} = ? "
            f"AND {spec.clustering} = ?")


def _count_cql(spec: CountedTable) -> str:
    return f"UPDATE {spec.table} USING TIMESTAMP ? SET {spec.count} = ? WHERE {spec.partition} = ?"


def _groups(items: Sequence[int], size: int) -> list[list[int]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


async def _states(session: Session, spec: CountedTable, keys: Sequence[int]
                  ) -> dict[int, tuple[int, int]]:
    """(count, the count's write time in us) of each key, ``IN_GROUP`` keys per read."""
    statement = await prepared(session, _states_cql(spec))
    found = await asyncio.gather(*(execute(session, statement, (group,))
                                   for group in _groups(keys, IN_GROUP)))
    return {row["k"]: (int(row["n"] or 0), int(row["wt"] or 0))
            for rows in found for row in rows}


async def present(session: Session, spec: CountedTable, key: int,
                   members: Sequence[int]) -> set[int]:
    """Which of ``members`` are edges of ``key`` now."""
    statement = await prepared(session, _exists_cql(spec))
    found = await asyncio.gather(*(execute(session, statement, (key, group))
                                   for group in _groups(members, IN_GROUP)))
    return {row["m"] for rows in found for row in rows}


def stamp(count_written_us: int, newest_event_us: int, *, now_us: int | None = None) -> int:
    """The write timestamp of a run: after the partition's last run, and no later than
    now unless that run was (the clamp keeps a future-dated event from moving it)."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    return max(count_written_us + 1, min(newest_event_us, now_us))


async def plan(session: Session, spec: CountedTable,
               wanted: Mapping[int, Mapping[int, EdgeChange]],
               newest_event_us: Mapping[int, int]) -> dict[int, Applied]:
    """Read the keys' partitions and decide what a run changes (nothing written yet).

    A key whose count is 0 has no edges (the invariant), so only keys with edges pay
    the read of which touched edges exist: a run over many quiet photos is a handful
    of ``IN`` reads in all.
    """
    states = await _states(session, spec, list(wanted))
    busy = [key for key in wanted if states.get(key, (0, 0))[0] > 0]
    found = await asyncio.gather(*(present(session, spec, key, list(wanted[key]))
                                   for key in busy))
    existing = dict(zip(busy, found, strict=True))
    plans: dict[int, Applied] = {}
    for key, changes in wanted.items():
        count, written = states.get(key, (0, 0))
        there = existing.get(key, set())
        effective = [c for c in changes.values() if c.present != (c.member in there)]
        plans[key] = Applied(effective, count, stamp(written, newest_event_us[key]))
    return plans


async def write_rows(session: Session, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Idempotent rows of any partitions, ``BATCH_STATEMENTS`` per UNLOGGED batch (one
    request each; the coordinator splits it by partition: no atomicity across them is
    needed or promised)."""
    statements = [(await prepared(session, cql), params) for cql, params in rows]
    await asyncio.gather(*(_batch(session, statements[i:i + BATCH_STATEMENTS])
                           for i in range(0, len(statements), BATCH_STATEMENTS)))


async def commit(session: Session, spec: CountedTable, plans: Mapping[int, Applied]) -> None:
    """Write planned runs: each key's edges with its absolute count, CHUNK edges per
    atomic group; round ``r`` writes chunk ``r`` of every key, so a key's chunks land
    in order (a redelivery completes a prefix, see the module doc)."""
    insert = await prepared(session, _insert_cql(spec))
    delete = await prepared(session, _delete_cql(spec))
    set_count = await prepared(session, _count_cql(spec))
    rounds: list[list[list[tuple[Any, Sequence[Any]]]]] = []
    for key, applied in plans.items():
        count = applied.before
        for r, i in enumerate(range(0, len(applied.changes), CHUNK)):
            at = applied.stamp + r
            group: list[tuple[Any, Sequence[Any]]] = []
            for change in applied.changes[i:i + CHUNK]:
                if change.present:
                    group.append((insert, (key, change.member, *change.values, at)))
                    count += 1
                else:
                    group.append((delete, (at, key, change.member)))
                    count -= 1
            group.append((set_count, (at, max(0, count), key)))
            if len(rounds) <= r:
                rounds.append([])
            rounds[r].append(group)
    for groups in rounds:
        await asyncio.gather(*(_batch(session, [s for g in pack for s in g])
                               for pack in _pack(groups)))


def _pack(groups: list[list[tuple[Any, Sequence[Any]]]]
          ) -> list[list[list[tuple[Any, Sequence[Any]]]]]:
    """Whole groups (one key's chunk each: never split) into batches of at most about
    ``BATCH_STATEMENTS`` statements."""
    packs: list[list[list[tuple[Any, Sequence[Any]]]]] = [[]]
    size = 0
    for group in groups:
        if size and size + len(group) > BATCH_STATEMENTS:
            packs.append([])
            size = 0
        packs[-1].append(group)
        size += len(group)
    return packs


async def _batch(session: Session, statements: Sequence[tuple[Any, Sequence[Any]]]) -> None:
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=QUORUM)
    for statement, params in statements:
        batch.add(statement, params)
    await execute(session, batch)
