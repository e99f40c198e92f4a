"""The shipped Grafana dashboard only queries metrics that ``infra/metrics.py`` defines."""

from __future__ import annotations

import json
import re

from prometheus_client.metrics import MetricWrapperBase

import infra.metrics as m
from infra.settings import REPO_ROOT

DASHBOARD = REPO_ROOT / "operate" / "grafana" / "photostream.json"
SUFFIXES = re.compile(r"_(total|bucket|sum|count)$")


def test_every_dashboard_query_names_a_defined_metric() -> None:
    defined = {v._name for v in vars(m).values() if isinstance(v, MetricWrapperBase)}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = {SUFFIXES.sub("", name) for p in panels for t in p["targets"]
            for name in re.findall(r"photostream_\w+", t["expr"])}
    assert used, "the dashboard queries nothing"
    assert used <= defined, used - defined


def test_size_class_is_a_small_bounded_set() -> None:
    assert m.size_class(640, 480) == "<1MP"
    assert m.size_class(4000, 3000) == "12-24MP"
    assert m.size_class(10_000, 10_000) == ">=24MP"
