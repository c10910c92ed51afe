"""What an archive holds, read the way a calendar client reads it: every occurrence on the days
it covers, keyed by (original UID, recurrence id, start), with the state a reader sees.

Written for the tests from the iCalendar text alone (icalendar + recurring-ical-events), not
with the runner's own conversion helpers, so a runner bug cannot hide behind a shared helper.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import recurring_ical_events
from icalendar import Calendar

# (original UID, recurrence id or "", start), each time as YYYYMMDD[THHMMSS[Z]]
Key = tuple[str, str, str]


def stamp(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return value.strftime("%Y%m%dT%H%M%S")
    assert isinstance(value, date)
    return value.strftime("%Y%m%d")


def occurrences(texts: list[str], first: datetime, end: datetime) -> dict[Key, str]:
    """Every occurrence in [first, end) of the archived objects: key -> SUMMARY.

    Two copies showing one occurrence is a duplicate a reader would see: it fails here.
    """
    found: dict[Key, str] = {}
    for text in texts:
        calendar = Calendar.from_ical(text)
        recurring = {
            str(c["UID"])
            for c in calendar.walk("VEVENT")
            if any(p in c for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
        }
        for occurrence in recurring_ical_events.of(calendar).between(first, end):
            original = str(occurrence.get("X-ARCHIVE-ORIGINAL-UID") or occurrence["UID"])
            start = stamp(occurrence["DTSTART"].dt)
            if "X-ARCHIVE-RECURRENCE-ID" in occurrence:  # a standalone copy of an occurrence
                recurrence_id = str(occurrence["X-ARCHIVE-RECURRENCE-ID"])
            elif str(occurrence["UID"]) in recurring:  # an occurrence of a series
                anchor = occurrence.get("RECURRENCE-ID") or occurrence["DTSTART"]
                recurrence_id = stamp(anchor.dt)
            else:
                recurrence_id = ""
            key = (original, recurrence_id, start)
            assert key not in found, f"{key} is shown twice"
            found[key] = str(occurrence.get("SUMMARY", ""))
    return found


def directory_texts(path: Path) -> list[str]:
    return [p.read_text("utf-8") for p in sorted(path.glob("*.ics"))]
