"""Server-side operation counts of Cassandra tables, from the node's own metrics.

Why the server's and not the client's: the cost the write-path issue is about (Paxos
rounds, reads of a photo's row) happens on the replicas; ``system.paxos`` writes are
what each lightweight transaction really costs. ``system_views.local_*_latency`` are
Cassandra's virtual tables over the same counters ``nodetool tablestats`` prints, read
with CQL so no JMX tooling is needed. On a ring, sum them over every node.
"""

from __future__ import annotations

from collections.abc import Iterable

from cassandra.cluster import Session

from infra.connect.cassandra import execute

_READS = "SELECT keyspace_name, table_name, count FROM system_views.local_read_latency"
_WRITES = "SELECT keyspace_name, table_name, count FROM system_views.local_write_latency"

Counts = dict[tuple[str, str, str], int]
"""(keyspace, table, "reads" | "writes") -> operations since the node started."""


async def table_ops(session: Session) -> Counts:
    """Local reads and writes per table of the node ``session`` is connected to."""
    counts: Counts = {}
    for kind, cql in (("reads", _READS), ("writes", _WRITES)):
        for row in await execute(session, cql):
            counts[(row["keyspace_name"], row["table_name"], kind)] = int(row["count"])
    return counts


def delta(before: Counts, after: Counts, tables: Iterable[tuple[str, str, str]]
          ) -> dict[tuple[str, str, str], int]:
    """Operations between two snapshots, for ``tables``."""
    return {t: after.get(t, 0) - before.get(t, 0) for t in tables}


def busiest(before: Counts, after: Counts) -> list[tuple[tuple[str, str, str], int]]:
    """Every table's operations between two snapshots, most first (none of the idle)."""
    moved = delta(before, after, after.keys())
    return sorted(((t, n) for t, n in moved.items() if n > 0), key=lambda tn: -tn[1])


PAXOS_WRITES = ("system", "paxos", "writes")
