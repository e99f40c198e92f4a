"""Every stream processor by name, for ``photostream process NAME ...``.

Values are import paths so that starting one processor does not import the others'
dependencies (the media processor's process pool, for instance).
"""

from __future__ import annotations

import importlib

from infra.settings import Settings
from processors.runtime import Processor

PROCESSORS: dict[str, str] = {
    "media": "processors.media.processor:MediaProcessor",
    "metadata": "processors.metadata:MetadataProcessor",
    "graph": "processors.graph:GraphProcessor",
    "engagement": "processors.engagement:EngagementProcessor",
    "fanout": "processors.fanout:FanoutPlanner",
    "fanout-worker": "processors.fanout:FanoutWorker",
    "trending": "processors.trending:TrendingProcessor",
}


def build(name: str, settings: Settings) -> Processor:
    if name not in PROCESSORS:
        raise KeyError(f"unknown processor {name!r}; known: {', '.join(sorted(PROCESSORS))}")
    module, cls = PROCESSORS[name].split(":")
    processor: Processor = getattr(importlib.import_module(module), cls)(settings)
    return processor
