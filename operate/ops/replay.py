"""Re-consume a topic for ONE consumer group by moving that group's committed offsets.

Why: after fixing a processor bug, the events it mishandled are still in Kafka (7 days
by default); rewinding its group to a time before the bug makes it process them again,
and since every sink write is idempotent that only repairs state. The other groups on
the same topic are not touched.

Only an idle group is moved: a running member would overwrite the new offsets with its
next commit (and the coordinator rejects commits from outside a live generation), so we
refuse with the reason instead of half-working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiokafka.errors import KafkaError

from infra.settings import Settings
from operate.ops import OpsError
from operate.ops.cluster import admin_client, offset_bounds, partitions_of, reader, require_topic
from operate.ops.groups import group_state
from schemas.topics import group_id

Target = datetime | Literal["earliest", "latest"]


@dataclass(frozen=True)
class OffsetMove:
    partition: int
    current: int | None
    """Committed offset before the reset; None: never committed."""
    target: int

    @property
    def delta(self) -> int | None:
        """Positive: records skipped; negative: records to re-consume."""
        return None if self.current is None else self.target - self.current


@dataclass(frozen=True)
class ResetPlan:
    group: str
    topic: str
    to: Target
    moves: tuple[OffsetMove, ...]
    applied: bool
    """False for a dry run."""


def parse_target(text: str) -> datetime:
    """An ISO-8601 instant WITH a UTC offset: a reset by local-time guess is a silent error."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise OpsError(f"--to-datetime {text!r} is not ISO-8601, "
                       "e.g. 2024-05-01T12:00:00Z") from None
    if at.tzinfo is None:
        raise OpsError(f"--to-datetime {text!r} has no UTC offset; add one, "
                       "e.g. 2024-05-01T12:00:00Z or +02:00")
    return at


async def reset_offsets(settings: Settings, group: str, topic: str, to: Target, *,
                        dry_run: bool = False) -> ResetPlan:
    """Commit, for every partition of ``topic``, the offset ``to`` names for ``group``.

    A datetime resolves to the first record at or after it (the end offset where there
    is none, i.e. nothing to re-consume on that partition).
    """
    group = group_id(group)
    async with admin_client(settings) as admin:
        meta = await require_topic(admin, topic)
        state = await group_state(admin, group)
        if state.members:
            raise OpsError(
                f"group {group} has {state.members} active member(s) (state {state.state}); "
                "stop its consumers first (e.g. the `photostream process` running it)")
        committed = await admin.list_consumer_group_offsets(group)
    tps = partitions_of([meta])
    async with reader(settings, group_id=group) as consumer:
        start, end = await offset_bounds(consumer, tps)
        if to == "earliest":
            targets = start
        elif to == "latest":
            targets = end
        else:
            ms = int(to.timestamp() * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(tps, ms))
            targets = {tp: end[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
        moves = tuple(
            OffsetMove(tp.partition,
                       committed[tp].offset if tp in committed and committed[tp].offset >= 0
                       else None,
                       targets[tp])
            for tp in tps)
        if not dry_run:
            consumer.assign(tps)  # aiokafka commits only for assigned partitions
            try:
                await consumer.commit({tp: targets[tp] for tp in tps})
            except KafkaError as exc:
                raise OpsError(f"group {group} refused the new offsets (did a consumer join "
                               f"meanwhile? check `photostream topics lag {group}`): "
                               f"{type(exc).__name__}") from None
    return ResetPlan(group, topic, to, moves, applied=not dry_run)
