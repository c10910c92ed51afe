"""The benchmark's source calendar: 2,000 deterministic calendar objects, one UID each.

1,800 single events spread over January-June 2024 (a third each: UTC times, Europe/London
times with a VTIMEZONE, all-day dates) and 200 recurring events (weekly in London, some with
EXDATEs and a moved occurrence; weekly in UTC with COUNT; daily all-day with COUNT; monthly).
Written straight into Radicale's filesystem storage (one <uid>.ics per object), which takes
well under a second instead of 2,000 PUTs.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

SINGLE = 1800
RECURRING = 200
FIRST_DAY = date(2024, 1, 1)
DAYS = 182  # January to June 2024

LONDON = """BEGIN:VTIMEZONE
TZID:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:BST
DTSTART:19810329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:GMT
DTSTART:19961027T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def _calendar(body: str, zone: bool) -> str:
    head = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//archive-operator bench//EN\n"
    return head + (LONDON if zone else "") + body + "END:VCALENDAR\n"


def _event(uid: str, when: str, summary: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20231201T000000Z\n{when}SUMMARY:{summary}\n"
        f"DESCRIPTION:Benchmark event {uid}\\, with some text to make it realistic.\n"
        f"{extra}END:VEVENT\n"
    )


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def single(n: int) -> tuple[str, str]:
    """(uid, calendar text) of the n-th single event."""
    uid = f"single-{n:04d}@bench.example"
    day = FIRST_DAY + timedelta(days=n % DAYS)
    hour = 8 + n % 10
    kind = n % 3
    if kind == 0:
        when = f"DTSTART:{_ymd(day)}T{hour:02d}0000Z\nDTEND:{_ymd(day)}T{hour:02d}4500Z\n"
    elif kind == 1:
        when = (
            f"DTSTART;TZID=Europe/London:{_ymd(day)}T{hour:02d}0000\n"
            f"DTEND;TZID=Europe/London:{_ymd(day)}T{hour:02d}3000\n"
        )
    else:
        when = f"DTSTART;VALUE=DATE:{_ymd(day)}\nDTEND;VALUE=DATE:{_ymd(day + timedelta(days=1))}\n"
    extra = ""
    if n % 10 == 0:  # some meetings: the archive must neutralise their scheduling
        extra = (
            "ORGANIZER;CN=Boss:mailto:boss@bench.example\n"
            "ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:alice@bench.example\n"
        )
    return uid, _calendar(_event(uid, when, f"Single {n}", extra), zone=kind == 1)


def recurring(n: int) -> tuple[str, str]:
    """(uid, calendar text) of the n-th recurring event."""
    uid = f"recurring-{n:03d}@bench.example"
    day = FIRST_DAY + timedelta(days=n % 28)
    kind = n % 4
    if kind == 0:  # weekly in London, open-ended, one EXDATE and one moved occurrence
        start = f"{_ymd(day)}T{9 + n % 8:02d}0000"
        exdate = _ymd(day + timedelta(weeks=6))
        moved = _ymd(day + timedelta(weeks=8))
        master = _event(
            uid,
            f"DTSTART;TZID=Europe/London:{start}\nDURATION:PT1H\n",
            f"Weekly {n}",
            f"RRULE:FREQ=WEEKLY\nEXDATE;TZID=Europe/London:{exdate}{start[8:]}\n",
        )
        override = _event(
            uid,
            f"RECURRENCE-ID;TZID=Europe/London:{moved}{start[8:]}\n"
            f"DTSTART;TZID=Europe/London:{moved}T180000\nDURATION:PT1H\n",
            f"Weekly {n} (moved)",
        )
        return uid, _calendar(master + override, zone=True)
    if kind == 1:  # weekly in UTC, 30 times
        body = _event(
            uid,
            f"DTSTART:{_ymd(day)}T{8 + n % 9:02d}3000Z\nDTEND:{_ymd(day)}T{9 + n % 9:02d}0000Z\n",
            f"Weekly UTC {n}",
            "RRULE:FREQ=WEEKLY;COUNT=30\n",
        )
        return uid, _calendar(body, zone=False)
    if kind == 2:  # daily all-day, 10 days, starting somewhere in January to June
        first = FIRST_DAY + timedelta(days=(n * 7) % DAYS)
        body = _event(
            uid,
            f"DTSTART;VALUE=DATE:{_ymd(first)}\nDTEND;VALUE=DATE:{_ymd(first + timedelta(1))}\n",
            f"Daily all-day {n}",
            "RRULE:FREQ=DAILY;COUNT=10\n",
        )
        return uid, _calendar(body, zone=False)
    body = _event(  # monthly in London, open-ended
        uid,
        f"DTSTART;TZID=Europe/London:{_ymd(day)}T120000\n"
        f"DTEND;TZID=Europe/London:{_ymd(day)}T130000\n",
        f"Monthly {n}",
        "RRULE:FREQ=MONTHLY\n",
    )
    return uid, _calendar(body, zone=True)


def calendar_objects() -> list[tuple[str, str]]:
    return [single(n) for n in range(SINGLE)] + [recurring(n) for n in range(RECURRING)]


def write_collection(path: Path) -> int:
    """Write every object into a Radicale collection folder; returns how many."""
    objects = calendar_objects()
    for uid, text in objects:
        name = uid.split("@", 1)[0] + ".ics"
        (path / name).write_text(text.replace("\n", "\r\n"), "utf-8", newline="")
    return len(objects)
