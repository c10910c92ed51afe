"""Pure figures: medians and spreads of timings, and ratios paired within one repetition."""

from __future__ import annotations

from statistics import median


def spread(values: list[float]) -> str:
    """'median (min-max, n=N)'."""
    return f"{median(values):.3g} ({min(values):.3g}-{max(values):.3g}, n={len(values)})"


def paired_ratios(contender: list[float], baseline: list[float]) -> list[float]:
    """contender/baseline for each repetition (both measured side by side in it)."""
    return [c / b for c, b in zip(contender, baseline, strict=True)]


def ratio_line(name: str, contender: list[float], baseline: list[float], target: str) -> str:
    ratios = paired_ratios(contender, baseline)
    return f"  {name:<44} {spread(ratios):<28} target {target}"


def rotated(items: list[str], rep: int) -> list[str]:
    """A different order each repetition, so no contender always runs first or last."""
    shift = rep % len(items)
    return items[shift:] + items[:shift]
