"""Percentiles as the benchmarks print them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile, interpolated between samples (never beyond the largest one:
    the default "exclusive" method extrapolates past the max on small samples)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]
