"""The runner contract's pure parts (archive_runner/contract.py): the window's meaning, the
Job-name minute, and that the module stays importable without the runner's dependencies (the
operator's image holds it alone). Every expected date below is worked out by hand."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from archive_runner.contract import (
    ExitCode,
    is_job_of_cronjob,
    scheduled_job_name,
    scheduled_time_from_job_name,
    window_dates,
    window_last_offset,
)
from archive_runner.window import Window

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "runner" / "archive_runner" / "contract.py"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("offset_days", "days", "first", "last"),
    [
        (0, 1, date(2026, 3, 13), date(2026, 3, 13)),  # the run's day alone
        (-1, 1, date(2026, 3, 12), date(2026, 3, 12)),  # the day before
        (-6, 7, date(2026, 3, 7), date(2026, 3, 13)),  # 13 - 6 = 7th .. 7 + 6 = 13th
        (-7, 7, date(2026, 3, 6), date(2026, 3, 12)),  # the week ending yesterday
        (-13, 1, date(2026, 2, 28), date(2026, 2, 28)),  # 13 - 13 = 0 -> last of February
        (-30, 31, date(2026, 2, 11), date(2026, 3, 13)),  # 13 - 30: Feb 28 + 13 - 30 = Feb 11
    ],
)
def test_offset_days_is_the_first_day(offset_days: int, days: int, first: date, last: date) -> None:
    assert window_dates(date(2026, 3, 13), offset_days, days) == (first, last)


def test_the_last_day_is_offset_plus_days_minus_one() -> None:
    assert window_last_offset(-6, 7) == 0
    assert window_last_offset(-7, 7) == -1
    assert window_last_offset(0, 1) == 0
    assert window_last_offset(-2, 7) == 4  # reaches four days past the run's day


def test_a_window_has_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="days must be >= 1"):
        window_dates(date(2026, 3, 13), 0, 0)


def test_a_window_across_a_dst_change_is_whole_local_days() -> None:
    # New York springs forward on Sunday 2026-03-08. Monday the 9th with (-6, 7) covers the
    # 3rd .. the 9th: from the 3rd 00:00 EST (05:00 UTC) to the 10th 00:00 EDT (04:00 UTC),
    # 7 * 24 - 1 = 167 hours.
    first, last = window_dates(date(2026, 3, 9), -6, 7)
    assert (first, last) == (date(2026, 3, 3), date(2026, 3, 9))
    window = Window(first, last, NEW_YORK)
    assert window.utc_start == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert window.utc_end == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    assert (window.utc_end - window.utc_start).total_seconds() == 167 * 3600
    # Falling back on Sunday 2026-11-01: that day alone lasts 25 hours (04:00 to 05:00 UTC).
    fall = Window(*window_dates(date(2026, 11, 1), 0, 1), NEW_YORK)
    assert (fall.utc_start, fall.utc_end) == (
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 5, 0, tzinfo=UTC),
    )


# 2026-03-13T22:00Z in minutes since the epoch, by hand: 1970..2025 are 56 years with 14 leap
# days (1972..2024) = 20,454 days; + 31 (Jan) + 28 (Feb) + 12 = 20,525 days;
# 20,525 * 1,440 + 22 * 60 = 29,557,320.
FRIDAY_22Z = datetime(2026, 3, 13, 22, 0, tzinfo=UTC)
FRIDAY_22Z_MINUTE = 29_557_320


def test_a_cronjob_names_its_job_after_the_scheduled_minute() -> None:
    assert scheduled_job_name("bob-twice-weekly", FRIDAY_22Z) == "bob-twice-weekly-29557320"
    name = f"bob-twice-weekly-{FRIDAY_22Z_MINUTE}"
    assert scheduled_time_from_job_name(name) == FRIDAY_22Z
    assert scheduled_time_from_job_name("bob-twice-weekly") is None
    assert scheduled_time_from_job_name("run-42") is None  # not a plausible minute
    assert scheduled_time_from_job_name("bob-99999999999") is None  # 11 digits
    assert scheduled_time_from_job_name(None) is None


def test_a_job_belongs_to_the_cronjob_whose_name_and_minute_it_carries() -> None:
    name = f"bob-twice-weekly-{FRIDAY_22Z_MINUTE}"
    assert is_job_of_cronjob(name, "bob-twice-weekly")
    assert not is_job_of_cronjob(name, "bob-twice")  # "weekly-29557320" is no minute
    assert not is_job_of_cronjob(name, "bob-twice-weekly-2")
    assert not is_job_of_cronjob("bob-twice-weekly-42", "bob-twice-weekly")
    assert not is_job_of_cronjob("bob-twice-weekly-٢٩٥٥٧٣٢٠", "bob-twice-weekly")  # not ASCII


def test_exit_codes_are_the_documented_ones() -> None:
    # docs/runner.md: 0 succeeded, 1 crashed, 2 usage, 3 partial, 4 bad configuration,
    # 5 unreachable.
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5]
    assert (ExitCode.PARTIAL, ExitCode.BAD_CONFIGURATION, ExitCode.UNREACHABLE) == (3, 4, 5)


def test_the_contract_imports_the_standard_library_only() -> None:
    imported = set()
    for node in ast.walk(ast.parse(CONTRACT.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import would pull in the runner package"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_importing_the_contract_loads_no_runner_dependency() -> None:
    """The operator imports it; its image has none of the runner's dependencies."""
    probe = (
        "import sys, archive_runner.contract\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('archive_runner', 'httpx', 'icalendar', 'recurring_ical_events', 'pydantic', "
        "'click')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "['archive_runner', 'archive_runner.contract']"
