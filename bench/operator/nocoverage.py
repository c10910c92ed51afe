"""`archive-operator` with coverage turned off, for the benchmark's "coverage off" scenario.

    python -m bench.operator.nocoverage run --standalone -A --quiet

The same as the `archive-operator` console script (``archive_operator.main:cli``), except that
``archive_operator.coverage.decide`` answers ``CoverageDecision(None)`` for every schedule: no
status.coverage, no gaps, no catch-up run, no recheck — the operator as it was before coverage
(runs.py calls ``coverage.decide`` through the module, so replacing the attribute is enough).
Only the benchmark launches it (harness.OperatorProcess, when the scenario's environment has
``ARCHIVE_BENCH_COVERAGE=off``); the operator's own code and its production entry point are
unchanged.
"""

from __future__ import annotations

import sys
from typing import Any

from archive_operator import coverage


def _no_coverage(*args: Any, **kwargs: Any) -> coverage.CoverageDecision:
    return coverage.CoverageDecision(None)


def turn_off() -> None:
    coverage.decide = _no_coverage


def main() -> None:
    turn_off()
    from archive_operator.main import cli

    sys.exit(cli(prog_name="archive-operator"))


if __name__ == "__main__":
    main()
