"""Expansion of a Graph patternedRecurrence into occurrence dates (pure).

Built from the recurrencePattern and recurrenceRange resource pages of the Graph v1.0 reference:
pattern.type daily | weekly | absoluteMonthly | relativeMonthly | absoluteYearly | relativeYearly,
range.type endDate | noEnd | numbered. Dates are local to range.recurrenceTimeZone (else the
master's start zone); the caller puts the master's wall-clock start time on each date, so a
09:00 Europe/London series stays 09:00 local across a DST change.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from typing import Any

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEXES = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
PATTERN_TYPES = (
    "daily",
    "weekly",
    "absoluteMonthly",
    "relativeMonthly",
    "absoluteYearly",
    "relativeYearly",
)
RANGE_TYPES = ("endDate", "noEnd", "numbered")
MAX_PERIODS = 20_000  # a guard: daily for ~55 years


class InvalidRecurrence(ValueError):
    pass


def _date(text: object, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError as exc:
        raise InvalidRecurrence(f"{what} must be a date (yyyy-mm-dd), not {text!r}") from exc


def _weekdays(pattern: dict[str, Any]) -> list[int]:
    days = pattern.get("daysOfWeek") or []
    try:
        return sorted({DAYS.index(str(d).lower()) for d in days})
    except ValueError as exc:
        raise InvalidRecurrence(f"daysOfWeek has an unknown day: {days!r}") from exc


def validate(recurrence: dict[str, Any]) -> None:
    """InvalidRecurrence unless the properties each pattern and range type requires are there."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    ptype, rtype = _canon(pattern.get("type"), PATTERN_TYPES), _canon(rng.get("type"), RANGE_TYPES)
    if ptype is None:
        raise InvalidRecurrence(f"pattern.type {pattern.get('type')!r} is not supported")
    if rtype is None:
        raise InvalidRecurrence(f"range.type {rng.get('type')!r} is not supported")
    interval = pattern.get("interval", 1)
    if not isinstance(interval, int) or interval < 1:
        raise InvalidRecurrence("pattern.interval must be a positive integer")
    if ptype in ("weekly", "relativeMonthly", "relativeYearly") and not _weekdays(pattern):
        raise InvalidRecurrence(f"daysOfWeek is required for {ptype}")
    if ptype in ("absoluteMonthly", "absoluteYearly") and not pattern.get("dayOfMonth"):
        raise InvalidRecurrence(f"dayOfMonth is required for {ptype}")
    if (
        ptype in ("absoluteYearly", "relativeYearly")
        and not 1 <= int(pattern.get("month", 0)) <= 12
    ):
        raise InvalidRecurrence(f"month is required for {ptype}")
    if ptype.startswith("relative") and str(pattern.get("index", "first")).lower() not in INDEXES:
        raise InvalidRecurrence(f"index {pattern.get('index')!r} is not a weekIndex")
    start = _date(rng.get("startDate"), "range.startDate")
    if rtype == "endDate" and _date(rng.get("endDate"), "range.endDate") < start:
        raise InvalidRecurrence("range.endDate is before range.startDate")
    if rtype == "numbered" and int(rng.get("numberOfOccurrences", 0)) < 1:
        raise InvalidRecurrence("range.numberOfOccurrences must be at least 1")


def _canon(value: object, allowed: tuple[str, ...]) -> str | None:
    for name in allowed:
        if str(value).lower() == name.lower():
            return name
    return None


def _relative_day(year: int, month: int, weekdays: list[int], index: str) -> dt.date:
    """The index-th day of the month whose weekday is one of weekdays ('last' = the last one)."""
    ndays = calendar.monthrange(year, month)[1]
    days = [dt.date(year, month, d) for d in range(1, ndays + 1)]
    matching = [d for d in days if d.weekday() in weekdays]
    return matching[INDEXES[index.lower()]]


def _absolute_day(year: int, month: int, day: int) -> dt.date:
    """dayOfMonth in that month; past its last day, the last day (as Outlook does)."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _add_months(start: dt.date, months: int) -> tuple[int, int]:
    total = start.year * 12 + start.month - 1 + months
    return total // 12, total % 12 + 1


def _period_dates(pattern: dict[str, Any], ptype: str, start: dt.date, k: int) -> list[dt.date]:
    """The candidate dates of the k-th period (every interval-th day/week/month/year)."""
    interval = int(pattern.get("interval", 1))
    if ptype == "daily":
        return [start + dt.timedelta(days=k * interval)]
    if ptype == "weekly":
        first = DAYS.index(str(pattern.get("firstDayOfWeek") or "sunday").lower())
        week0 = start - dt.timedelta(days=(start.weekday() - first) % 7)
        week = week0 + dt.timedelta(weeks=k * interval)
        days = [week + dt.timedelta(days=i) for i in range(7)]
        return [d for d in days if d.weekday() in _weekdays(pattern)]
    if ptype in ("absoluteMonthly", "relativeMonthly"):
        year, month = _add_months(start, k * interval)
    else:
        year, month = start.year + k * interval, int(pattern["month"])
    if ptype in ("absoluteMonthly", "absoluteYearly"):
        return [_absolute_day(year, month, int(pattern["dayOfMonth"]))]
    index = str(pattern.get("index") or "first")
    return [_relative_day(year, month, _weekdays(pattern), index)]


def occurrence_dates(recurrence: dict[str, Any], until: dt.date | None) -> Iterator[dt.date]:
    """The series' local dates in order, from range.startDate, stopping after `until` (or the
    range's own end). A noEnd series needs an `until`."""
    validate(recurrence)
    pattern, rng = recurrence["pattern"], recurrence["range"]
    ptype = _canon(pattern["type"], PATTERN_TYPES) or ""
    rtype = _canon(rng["type"], RANGE_TYPES) or ""
    start = _date(rng["startDate"], "range.startDate")
    end = _date(rng["endDate"], "range.endDate") if rtype == "endDate" else None
    remaining = int(rng["numberOfOccurrences"]) if rtype == "numbered" else None
    last = min(d for d in (end, until) if d is not None) if (end or until) else None
    if last is None and remaining is None:
        raise InvalidRecurrence("a noEnd series needs an upper bound to expand")
    if ptype == "absoluteYearly" or ptype == "relativeYearly":
        # Periods count from the first year whose date is on or after startDate.
        first_year = start.year
        if _period_dates(pattern, ptype, dt.date(first_year, 1, 1), 0)[0] < start:
            first_year += 1
        anchor = dt.date(first_year, 1, 1)
    elif ptype in ("absoluteMonthly", "relativeMonthly"):
        anchor = start.replace(day=1)
        if _period_dates(pattern, ptype, anchor, 0)[0] < start:
            y, m = _add_months(anchor, 1)
            anchor = dt.date(y, m, 1)
    else:
        anchor = start
    for k in range(MAX_PERIODS):
        dates = _period_dates(pattern, ptype, anchor, k)
        for day in dates:
            if day < start:
                continue
            if last is not None and day > last:
                return
            yield day
            if remaining is not None:
                remaining -= 1
                if remaining == 0:
                    return
        if last is not None and dates and min(dates) > last:
            return
