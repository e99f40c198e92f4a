"""Keeping a benchmark's synthetic records out of the groups it did not run for."""

from __future__ import annotations

from infra.settings import Settings
from operate.ops import OpsError
from operate.ops.replay import reset_offsets
from schemas.topics import CONSUMER_GROUPS, ConsumerGroup, Topic


async def skip_synthetic(settings: Settings, topic: Topic, *measured: ConsumerGroup) -> None:
    """Move every group that reads ``topic``, except the ``measured`` ones, past its end.

    A benchmark (or a test) that publishes thousands of synthetic records (likes,
    follows) runs only the processors it measures; every other group reading the topic
    (notifications, trending, fan-out) would otherwise start the next tests on this
    shared stack behind that backlog, each record a notification or a backfill. Run
    under the lock, with those groups' consumers stopped; a group with a running member
    is left alone (and named).
    """
    for group in CONSUMER_GROUPS:
        if topic in group.topics and group not in measured:
            try:
                await reset_offsets(settings, group.group_id, topic.name, "latest")
            except OpsError as exc:  # a member is running: leave its group alone
                print(f"{group.group_id} left as it is ({exc})")
