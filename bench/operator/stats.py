"""Median and spread of repeated measurements, and ratios between them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``min-max`` of the repeats, to judge how much the median can be trusted."""
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def summary(values: Sequence[float], unit: str = "s") -> str:
    return f"median {median(values):.2f} {unit} (range {spread(values)}, n={len(values)})"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios of runs measured side by side (run i of one against run i of the other):
    pairing cancels slow drifts in the machine's load better than a ratio of medians."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]
