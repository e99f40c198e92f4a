"""Every stream processor by its short name, for ``photostream process NAME ...``.

Each entry imports its class only when called, so starting one processor does not load
the others' dependencies (the media processor's libvips and process pool). The names and
their order are those of the consumer-group catalogue (:data:`schemas.topics.CONSUMER_GROUPS`).
"""

from __future__ import annotations

from collections.abc import Callable

from infra.settings import Settings
from processors.runtime import Processor


def _media() -> type[Processor]:
    from processors.media.processor import MediaProcessor

    return MediaProcessor


def _metadata() -> type[Processor]:
    from processors.metadata import MetadataProcessor

    return MetadataProcessor


def _graph() -> type[Processor]:
    from processors.graph import GraphProcessor

    return GraphProcessor


def _engagement() -> type[Processor]:
    from processors.engagement import EngagementProcessor

    return EngagementProcessor


def _fanout() -> type[Processor]:
    from processors.fanout import FanoutPlanner

    return FanoutPlanner


def _fanout_worker() -> type[Processor]:
    from processors.fanout import FanoutWorker

    return FanoutWorker


def _trending() -> type[Processor]:
    from processors.trending import TrendingProcessor

    return TrendingProcessor


def _notifications() -> type[Processor]:
    from processors.notifications import NotificationsProcessor

    return NotificationsProcessor


def _blocks() -> type[Processor]:
    from processors.blocks import BlocksProcessor

    return BlocksProcessor


def _albums() -> type[Processor]:
    from processors.albums import AlbumsProcessor

    return AlbumsProcessor


def _following() -> type[Processor]:
    from processors.following import FollowingProcessor

    return FollowingProcessor


PROCESSORS: dict[str, Callable[[], type[Processor]]] = {
    "media": _media,
    "metadata": _metadata,
    "graph": _graph,
    "engagement": _engagement,
    "fanout": _fanout,
    "fanout-worker": _fanout_worker,
    "trending": _trending,
    "notifications": _notifications,
    "blocks": _blocks,
    "albums": _albums,
    "following": _following,
}


def build(name: str, settings: Settings) -> Processor:
    if name not in PROCESSORS:
        raise KeyError(f"unknown processor {name!r}; known: {', '.join(sorted(PROCESSORS))}")
    return PROCESSORS[name]()(settings)
