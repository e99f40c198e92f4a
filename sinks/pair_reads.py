"""Packing many (partition key, clustering key) lookups into few multi-partition reads.

A batched processor often asks "which of these pairs exist?" for pairs spread over many
partitions: a follow run touches one edge in each of a thousand followees. One request
per pair costs the driver's per-request CPU, which is what limits a processor process.
``WHERE pk IN (a, b, ...) AND ck IN (x, y, ...)`` reads the cartesian product in one
request (the coordinator fans it out), so pairs are packed into groups whose product
stays below :data:`CELLS` and the caller keeps the rows of the pairs it asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Most (partition, clustering) cells one read may name: the product of its two lists.
CELLS = 100


def pack(pairs: Iterable[tuple[int, int]], cells: int = CELLS
         ) -> list[tuple[list[int], list[int]]]:
    """(partition keys, clustering keys) lists whose products cover every pair, each
    product at most ``cells`` (a partition with more members than that gets reads of its
    own, ``cells`` members each)."""
    members: dict[int, set[int]] = {}
    for key, member in pairs:
        members.setdefault(key, set()).add(member)
    packs: list[tuple[list[int], list[int]]] = []
    keys: list[int] = []
    union: set[int] = set()
    for key, wanted in sorted(members.items(), key=lambda kv: -len(kv[1])):
        if len(wanted) * 2 > cells:
            ordered = sorted(wanted)
            packs += [([key], ordered[i:i + cells]) for i in range(0, len(ordered), cells)]
            continue
        grown = union | wanted
        if keys and (len(keys) + 1) * len(grown) > cells:
            packs.append((keys, sorted(union)))
            keys, grown = [], set(wanted)
        keys.append(key)
        union = grown
    if keys:
        packs.append((keys, sorted(union)))
    return packs
