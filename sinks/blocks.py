"""Blocks and mutes: the durable lists in Cassandra, and the Redis-hot read of them.

The sink API other code filters with (the read API's visibility rule, ingest's 403
across a block, notifications):

* :func:`relations` - everything about one account at once (whom it blocked, who
  blocked it, whom it muted), one cached read: what a page filter wants.
* :func:`between` - whether either of two accounts blocked the other (a block is
  mutual in effect, so this is the question almost every caller asks).
* :func:`is_blocked` - whether ``blocker`` blocked ``target`` (one direction).
* :func:`muted_by` - the accounts ``muter`` muted.

Reads go through the read-through cache of :mod:`sinks.cache` (kind ``RELATIONS``),
one entry per account, which the blocks processor invalidates for both accounts after
its Cassandra write; with Redis unreachable they read Cassandra directly. Why one
entry per account and not per pair: a page filters dozens of authors for one viewer,
and one ``GET`` answers all of them (the lists are short: people block a handful of
accounts, not thousands).

Writes (:func:`block`, :func:`unblock`, :func:`mute`, :func:`unmute`) are upserts and
deletes ``USING TIMESTAMP`` of the causing event: idempotent under redelivery, and a
late block never outlives the unblock that followed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
from cassandra.cluster import Session

from infra.connect.cassandra import execute
from infra.connect.redis import RedisClient
from sinks import cache, pair_reads
from sinks.statements import micros, prepared

Kind = Literal["blocks", "blocked_by", "mutes"]

_INSERT = ("INSERT INTO user_relations (user_id, kind, other_id, since) VALUES (?, ?, ?, ?) "
           "USING TIMESTAMP ?")
_DELETE = ("DELETE FROM user_relations USING TIMESTAMP ? "
           "WHERE user_id = ? AND kind = ? AND other_id = ?")
#: Relation reads in flight when a cache miss spans many users.
_LOADS = 32
_ALL = "SELECT kind, other_id FROM user_relations WHERE user_id = ?"
_PAIR = ("SELECT other_id FROM user_relations WHERE user_id = ? "
         "AND kind IN ('blocks', 'blocked_by') AND other_id = ?")
_PAIRS = ("SELECT user_id, other_id FROM user_relations WHERE user_id IN ? "
          "AND kind IN ('blocks', 'blocked_by') AND other_id IN ?")
_PAGE = ("SELECT other_id FROM user_relations WHERE user_id = ? AND kind = ? AND other_id > ? "
         "LIMIT ?")


@dataclass(frozen=True)
class Relations:
    """One account's blocks and mutes, as its own filters need them."""

    blocked: frozenset[int] = frozenset()
    """Accounts this one blocked."""
    blocked_by: frozenset[int] = frozenset()
    """Accounts that blocked this one."""
    muted: frozenset[int] = frozenset()
    """Accounts this one muted (hidden from its home feed only)."""
    hidden: frozenset[int] = field(init=False)
    """Blocked either way: nothing of theirs is shown to this account, and vice versa."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", self.blocked | self.blocked_by)

    def to_json(self) -> bytes:
        return orjson.dumps({"b": sorted(self.blocked), "by": sorted(self.blocked_by),
                             "m": sorted(self.muted)})

    @classmethod
    def from_json(cls, raw: bytes) -> Relations:
        data = orjson.loads(raw)
        return cls(frozenset(data["b"]), frozenset(data["by"]), frozenset(data["m"]))


NONE = Relations()


# -- writes (the blocks processor) ---------------------------------------------------------

async def block(session: Session, user_id: int, target_id: int, at: datetime) -> None:
    """``user_id`` blocks ``target_id``: the row and its mirror in the target's partition."""
    await _put(session, user_id, "blocks", target_id, at)
    await _put(session, target_id, "blocked_by", user_id, at)


async def unblock(session: Session, user_id: int, target_id: int, at: datetime) -> None:
    await _drop(session, user_id, "blocks", target_id, at)
    await _drop(session, target_id, "blocked_by", user_id, at)


async def mute(session: Session, user_id: int, target_id: int, at: datetime) -> None:
    await _put(session, user_id, "mutes", target_id, at)


async def unmute(session: Session, user_id: int, target_id: int, at: datetime) -> None:
    await _drop(session, user_id, "mutes", target_id, at)


async def _put(session: Session, user_id: int, kind: Kind, other_id: int,
               at: datetime) -> None:
    statement = await prepared(session, _INSERT)
    await execute(session, statement, (user_id, kind, other_id, at, micros(at)))


async def _drop(session: Session, user_id: int, kind: Kind, other_id: int,
                at: datetime) -> None:
    statement = await prepared(session, _DELETE)
    await execute(session, statement, (micros(at), user_id, kind, other_id))


async def erase(session: Session, user_id: int, at: datetime) -> list[int]:
    """Forget a deleted account's blocks and mutes, and other accounts' blocks of it.

    Deletes as of ``at`` (the deletion), so a block event of the account stamped before
    it cannot bring a row back. Returns the other accounts whose relations changed (their
    cached entries must be invalidated). Mutes *of* the account by others are not
    indexed by it; they stay, naming an account that no longer exists (hidden anyway).
    """
    mine = await load(session, user_id)
    for target in mine.blocked:
        await unblock(session, user_id, target, at)
    for blocker in mine.blocked_by:
        await unblock(session, blocker, user_id, at)
    for target in mine.muted:
        await unmute(session, user_id, target, at)
    return sorted(mine.blocked | mine.blocked_by)


async def invalidate(redis: RedisClient, user_ids: Sequence[int]) -> None:
    """Drop the cached relations of ``user_ids`` (after the Cassandra write)."""
    await cache.invalidate(redis, cache.RELATIONS, user_ids)


# -- reads ---------------------------------------------------------------------------------

async def load(session: Session, user_id: int) -> Relations:
    """``user_id``'s relations straight from Cassandra (one partition)."""
    statement = await prepared(session, _ALL)
    rows = await execute(session, statement, (user_id,))
    by_kind: dict[str, set[int]] = {"blocks": set(), "blocked_by": set(), "mutes": set()}
    for row in rows:
        by_kind[row["kind"]].add(row["other_id"])
    return Relations(frozenset(by_kind["blocks"]), frozenset(by_kind["blocked_by"]),
                     frozenset(by_kind["mutes"]))


async def load_many(session: Session, user_ids: list[int]) -> Mapping[int, bytes]:
    """The cache loader: serialized relations of each of ``user_ids``, ``_LOADS`` reads
    in flight (a thousand live streams woken at once miss together)."""
    gate = asyncio.Semaphore(_LOADS)

    async def one(user_id: int) -> bytes:
        async with gate:
            return (await load(session, user_id)).to_json()
    found = await asyncio.gather(*(one(uid) for uid in user_ids))
    return dict(zip(user_ids, found, strict=True))


async def blocked_durably(session: Session, a: int, b: int) -> bool:
    """:func:`between` read from Cassandra only, for processors' decisions (one partition,
    no cache: a processor must not act on an entry an invalidation is about to drop)."""
    statement = await prepared(session, _PAIR)
    return bool(await execute(session, statement, (a, b)))


async def blocked_pairs(session: Session, pairs: Iterable[tuple[int, int]]
                        ) -> set[tuple[int, int]]:
    """Which of ``pairs`` (a, b) have a block either way, read from Cassandra as
    :func:`blocked_durably` does, packed into multi-partition reads (a follow run
    checks all its edges at once: :mod:`sinks.pair_reads`)."""
    wanted = set(pairs)
    if not wanted:
        return set()
    statement = await prepared(session, _PAIRS)
    found = await asyncio.gather(*(execute(session, statement, (keys, others))
                                   for keys, others in pair_reads.pack(wanted)))
    return {(row["user_id"], row["other_id"]) for rows in found for row in rows} & wanted


async def relations(redis: RedisClient, session: Session, user_id: int) -> Relations:
    """``user_id``'s relations, Redis-hot (Cassandra when Redis is unreachable)."""
    async def fill(missing: list[int]) -> Mapping[int, bytes]:
        return await load_many(session, missing)
    found = await cache.get_many(redis, cache.RELATIONS, [user_id], fill)
    return Relations.from_json(found[user_id]) if user_id in found else NONE


async def between(redis: RedisClient, session: Session, a: int, b: int) -> bool:
    """Whether ``a`` blocked ``b`` or ``b`` blocked ``a``."""
    return b in (await relations(redis, session, a)).hidden


async def is_blocked(redis: RedisClient, session: Session, blocker: int, target: int) -> bool:
    """Whether ``blocker`` blocked ``target`` (this direction only)."""
    return target in (await relations(redis, session, blocker)).blocked


async def muted_by(redis: RedisClient, session: Session, muter: int) -> frozenset[int]:
    """The accounts ``muter`` muted."""
    return (await relations(redis, session, muter)).muted


async def listed(session: Session, user_id: int, kind: Literal["blocks", "mutes"],
                 after: int = -1, limit: int = 100) -> list[int]:
    """Up to ``limit`` accounts ``user_id`` blocked (or muted) with ids above ``after``,
    ascending: keyset pages for the settings lists."""
    statement = await prepared(session, _PAGE)
    rows = await execute(session, statement, (user_id, kind, after, limit))
    return [row["other_id"] for row in rows]
