"""Consumer lag: how far each group's committed offsets are behind the end of its topics.

Lag is the backlog a processor still has to work through; with commits only after
outputs are durable (``processors/runtime.py``) it is also what would be re-processed
after a crash. Partitions a group never committed count from the log start, because
that is where an ``auto_offset_reset=earliest`` consumer begins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.settings import Settings
from operate.ops.cluster import admin_client, describe, offset_bounds, partitions_of, reader
from operate.ops.groups import GroupState, group_state
from schemas.topics import CONSUMER_GROUPS, group_id


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    """None: the group has no committed offset here yet."""
    log_start: int
    end: int

    @property
    def lag(self) -> int:
        position = self.log_start if self.committed is None else self.committed
        return max(0, self.end - max(position, self.log_start))


@dataclass(frozen=True)
class GroupLag:
    group: str
    state: GroupState
    partitions: tuple[PartitionLag, ...]

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def topic_lag(self) -> dict[str, int]:
        """Lag per topic, in the order topics first appear."""
        out: dict[str, int] = {}
        for p in self.partitions:
            out[p.topic] = out.get(p.topic, 0) + p.lag
        return out


async def consumer_lag(settings: Settings, groups: Sequence[str] | None = None
                       ) -> list[GroupLag]:
    """Lag of ``groups`` (short processor names accepted); default: every processor group.

    Topics covered: those the processor subscribes to, plus any the group has committed
    offsets on (for groups that are not processors, only the latter).
    """
    subscribed = {g.group_id: g.topic_names for g in CONSUMER_GROUPS}
    names = [group_id(g) for g in groups] if groups else list(subscribed)
    results: list[GroupLag] = []
    async with admin_client(settings) as admin, reader(settings) as consumer:
        for group in names:
            state = await group_state(admin, group)
            committed = {tp: om.offset for tp, om in
                         (await admin.list_consumer_group_offsets(group)).items()
                         if om.offset >= 0}
            topics = list(dict.fromkeys([*subscribed.get(group, ()),
                                         *sorted({tp.topic for tp in committed})]))
            metas = await describe(admin, topics) if topics else {}
            tps = partitions_of(metas[t] for t in topics if t in metas)
            start, end = await offset_bounds(consumer, tps)
            results.append(GroupLag(group, state, tuple(
                PartitionLag(tp.topic, tp.partition, committed.get(tp), start[tp], end[tp])
                for tp in tps)))
    return results
