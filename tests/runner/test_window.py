"""Windows: local dates in a zone to UTC, relative windows, the CronJob's scheduled minute."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from archive_runner.window import (
    Window,
    reference_time,
    relative_window,
    scheduled_time_from_job_name,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_utc_range_of_a_winter_day_in_london() -> None:
    window = Window(date(2024, 1, 10), date(2024, 1, 10), LONDON)
    assert window.utc_start == datetime(2024, 1, 10, 0, 0, tzinfo=UTC)
    assert window.utc_end == datetime(2024, 1, 11, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "hours"),
    [
        # spring forward: 23-hour days
        (LONDON, date(2024, 3, 31), datetime(2024, 3, 31, 0), datetime(2024, 3, 31, 23), 23),
        (NEW_YORK, date(2024, 3, 10), datetime(2024, 3, 10, 5), datetime(2024, 3, 11, 4), 23),
        # fall back: 25-hour days
        (LONDON, date(2024, 10, 27), datetime(2024, 10, 26, 23), datetime(2024, 10, 28, 0), 25),
        (NEW_YORK, date(2024, 11, 3), datetime(2024, 11, 3, 4), datetime(2024, 11, 4, 5), 25),
    ],
)
def test_dst_days_have_their_real_length(
    zone: ZoneInfo, day: date, start: datetime, end: datetime, hours: int
) -> None:
    window = Window(day, day, zone)
    assert window.utc_start == start.replace(tzinfo=UTC)
    assert window.utc_end == end.replace(tzinfo=UTC)
    assert (window.utc_end - window.utc_start).total_seconds() == hours * 3600


def test_midnight_in_a_dst_gap_starts_the_day_when_it_really_begins() -> None:
    # America/Santiago springs forward at 00:00 -> 01:00 on 2024-09-08.
    window = Window(date(2024, 9, 8), date(2024, 9, 8), ZoneInfo("America/Santiago"))
    assert window.utc_start == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)


def test_relative_window_starts_at_the_offset_from_the_reference_day() -> None:
    reference = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)  # already the 11th in Tokyo
    today = relative_window(reference, ZoneInfo("Asia/Tokyo"), 0, 1)
    assert (today.start, today.end) == (date(2024, 3, 11), date(2024, 3, 11))
    # London (GMT): the 10th. Offset -6 is the first day: the 4th .. the 10th.
    week = relative_window(reference, LONDON, -6, 7)
    assert (week.start, week.end) == (date(2024, 3, 4), date(2024, 3, 10))
    # Offset -7: the 3rd .. the 9th, the week ending yesterday.
    week_before = relative_window(reference, LONDON, -7, 7)
    assert (week_before.start, week_before.end) == (date(2024, 3, 3), date(2024, 3, 9))


def test_relative_window_rejects_future_days_and_empty_windows() -> None:
    now = datetime(2024, 3, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        relative_window(now, LONDON, 1, 1)
    with pytest.raises(ValueError):
        relative_window(now, LONDON, -2, 7)  # its last day is -2 + 7 - 1 = +4
    with pytest.raises(ValueError):
        relative_window(now, LONDON, 0, 0)


def test_scheduled_minute_from_a_cronjob_job_name() -> None:
    # 2024-03-10T23:59Z is minute 28_500_479 since the epoch.
    minute = int(datetime(2024, 3, 10, 23, 59, tzinfo=UTC).timestamp()) // 60
    assert scheduled_time_from_job_name(f"alice-daily-{minute}") == datetime(
        2024, 3, 10, 23, 59, tzinfo=UTC
    )
    assert scheduled_time_from_job_name("alice-daily") is None
    assert scheduled_time_from_job_name("run-42") is None  # not a plausible minute
    assert scheduled_time_from_job_name(None) is None


def test_a_late_pod_still_archives_the_scheduled_day() -> None:
    minute = int(datetime(2024, 3, 10, 23, 59, tzinfo=UTC).timestamp()) // 60
    pod_start = datetime(2024, 3, 11, 0, 0, 5, tzinfo=UTC)
    reference = reference_time(None, f"alice-daily-{minute}", pod_start)
    assert relative_window(reference, ZoneInfo("UTC"), 0, 1).start == date(2024, 3, 10)
    explicit = datetime(2024, 1, 1, tzinfo=UTC)
    assert reference_time(explicit, f"alice-daily-{minute}", pod_start) == explicit
    assert reference_time(None, None, pod_start) == pod_start
