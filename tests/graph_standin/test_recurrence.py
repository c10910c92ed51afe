"""Series expansion of the Graph stand-in, checked against dates worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.graph_standin.recurrence import occurrence_dates


def test_recurrence_patterns_by_hand() -> None:
    # recurrencePattern / recurrenceRange reference: each pattern type with each range type.
    def dates(pattern: dict[str, Any], rng: dict[str, Any]) -> list[str]:
        until = dt.date(2030, 1, 1)
        return [d.isoformat() for d in occurrence_dates({"pattern": pattern, "range": rng}, until)]

    assert dates(
        {"type": "daily", "interval": 2},
        {"type": "endDate", "startDate": "2024-01-01", "endDate": "2024-01-07"},
    ) == ["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-07"]
    # Every other week on Monday and Wednesday, weeks starting Sunday, from Wed 3 Jan 2024.
    assert dates(
        {
            "type": "weekly",
            "interval": 2,
            "daysOfWeek": ["monday", "wednesday"],
            "firstDayOfWeek": "sunday",
        },
        {"type": "numbered", "startDate": "2024-01-03", "numberOfOccurrences": 4},
    ) == ["2024-01-03", "2024-01-15", "2024-01-17", "2024-01-29"]
    # Second Tuesday: Jan 2024 starts Monday (2, 9), Feb on Thursday (6, 13), Mar on Friday (5, 12).
    assert dates(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"},
        {"type": "numbered", "startDate": "2024-01-01", "numberOfOccurrences": 3},
    ) == ["2024-01-09", "2024-02-13", "2024-03-12"]
    assert dates(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        {"type": "numbered", "startDate": "2024-01-01", "numberOfOccurrences": 1},
    ) == ["2024-01-26"]
    # The 31st in shorter months falls on their last day (2024 is a leap year).
    assert dates(
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        {"type": "numbered", "startDate": "2024-01-31", "numberOfOccurrences": 3},
    ) == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert dates(
        {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 15, "month": 3},
        {"type": "endDate", "startDate": "2024-04-01", "endDate": "2026-12-31"},
    ) == ["2025-03-15", "2026-03-15"]
    # First Monday of September: 2 Sep 2024 (1 Sep is a Sunday), 1 Sep 2025.
    assert dates(
        {
            "type": "relativeYearly",
            "interval": 1,
            "daysOfWeek": ["monday"],
            "index": "first",
            "month": 9,
        },
        {"type": "numbered", "startDate": "2024-01-01", "numberOfOccurrences": 2},
    ) == ["2024-09-02", "2025-09-01"]
