"""The pure Graph <-> iCalendar conversion, with expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from archive_runner import graph_ical as g
from archive_runner.backends.base import SourceObject
from archive_runner.convert import build_items
from archive_runner.graph_tz import iana_name, transitions, vtimezone, windows_name
from archive_runner.window import Window

from . import graph_helpers as samples
from .test_caldav import EXPECTED_MARCH

LONDON = "Europe/London"


def _range(kind: str, **extra: object) -> dict[str, object]:
    return {"type": kind, "startDate": "2024-03-04", **extra}


@pytest.mark.parametrize(
    ("pattern", "span", "all_day", "rule"),
    [
        ({"type": "daily", "interval": 1}, _range("noEnd"), False, "FREQ=DAILY"),
        ({"type": "daily", "interval": 3}, _range("numbered", numberOfOccurrences=5), False,
         "FREQ=DAILY;INTERVAL=3;COUNT=5"),
        # The range ends with its last local day: 2024-06-30 23:59:59 BST = 22:59:59 UTC.
        ({"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "Thursday"]},
         _range("endDate", endDate="2024-06-30"), False,
         "FREQ=WEEKLY;UNTIL=20240630T225959Z;BYDAY=MO,TH"),
        ({"type": "weekly", "interval": 2, "daysOfWeek": ["friday"], "firstDayOfWeek": "monday"},
         _range("noEnd"), False, "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;WKST=MO"),
        ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15},
         _range("endDate", endDate="2024-12-31"), True,
         "FREQ=MONTHLY;UNTIL=20241231;BYMONTHDAY=15"),
        ({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"},
         _range("noEnd"), False, "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2"),
        ({"type": "relativeMonthly", "interval": 1, "index": "last",
          "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"]},
         _range("noEnd"), False, "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        ({"type": "absoluteYearly", "interval": 1, "month": 3, "dayOfMonth": 4},
         _range("numbered", numberOfOccurrences=3), False,
         "FREQ=YEARLY;COUNT=3;BYMONTH=3;BYMONTHDAY=4"),
        ({"type": "relativeYearly", "interval": 1, "month": 11, "daysOfWeek": ["thursday"],
          "index": "fourth"}, _range("noEnd"), False,
         "FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4"),
    ],
)  # fmt: skip
def test_patterned_recurrence_as_rrule(
    pattern: dict[str, object], span: dict[str, object], all_day: bool, rule: str
) -> None:
    assert g.pattern_rrule({"pattern": pattern, "range": span}, all_day, LONDON) == rule


def test_an_unknown_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown recurrence pattern"):
        g.pattern_rrule({"pattern": {"type": "hourly"}, "range": _range("noEnd")}, False, "UTC")


def test_windows_zone_names_map_to_iana_and_back() -> None:
    assert iana_name("Pacific Standard Time") == "America/Los_Angeles"
    assert iana_name("GMT Standard Time") == LONDON
    assert iana_name("Europe/Paris") == "Europe/Paris"
    assert iana_name("tzone://Microsoft/Utc") == "UTC"
    assert iana_name("tzone://Microsoft/Custom") is None
    assert iana_name("Nowhere Standard Time") is None
    assert windows_name("America/New_York") == "Eastern Standard Time"
    assert windows_name("Europe/Kyiv") == "FLE Standard Time"
    assert windows_name("America/Nome") == "America/Nome"  # not in the table: as is


def test_a_vtimezone_follows_the_zone_rules() -> None:
    # London 2024: BST from 31 March 01:00 UTC, GMT from 27 October 01:00 UTC.
    assert transitions(ZoneInfo(LONDON), 2024) == [
        datetime(2024, 3, 31, 1, tzinfo=UTC),
        datetime(2024, 10, 27, 1, tzinfo=UTC),
    ]
    lines = vtimezone("America/New_York", 2024)
    assert lines[lines.index("BEGIN:DAYLIGHT") + 1 :][:4] == [
        "DTSTART:20240310T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0400",
    ]
    assert "TZOFFSETTO:+0900" in vtimezone("Asia/Tokyo", 2024)  # no DST: one observance


def test_graph_values() -> None:
    assert g.parse_local("2024-03-05T12:00:00.1234567") == datetime(2024, 3, 5, 12, 0, 0, 123456)
    assert g.utc_instant("2024-03-25T09:00:00.0000000+01:00") == datetime(
        2024, 3, 25, 8, tzinfo=UTC
    )
    assert g.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def _utc_view(event: dict[str, object], **extra: object) -> dict[str, object]:
    """An event as calendarView gives it with Prefer: outlook.timezone="UTC"."""
    out = dict(event, **extra)
    if not event.get("isAllDay"):
        for key in ("start", "end"):
            when = g.instant(event[key])  # type: ignore[arg-type]
            out[key] = {"dateTime": f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.0000000",
                        "timeZone": "UTC"}  # fmt: skip
    return out


def _occurrence(start: datetime, minutes: int, **extra: object) -> dict[str, object]:
    end = start.timestamp() + minutes * 60
    return {
        "type": "occurrence", "originalStart": f"{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "start": {"dateTime": f"{start.astimezone(UTC):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"},
        "end": {"dateTime": f"{datetime.fromtimestamp(end, UTC):%Y-%m-%dT%H:%M:%S}",
                "timeZone": "UTC"}, **extra,
    }  # fmt: skip


def test_the_sample_calendar_converts_to_the_march_truth() -> None:
    window = Window(date(2024, 3, 1), date(2024, 3, 31), ZoneInfo(LONDON))
    start, end = window.query_range()
    objects = [SourceObject(f"g#{e['iCalUId']}", g.single_object(_utc_view(e)))
               for e in samples.SINGLES]  # fmt: skip
    london = ZoneInfo(LONDON)
    weekly = [_occurrence(datetime(2024, 3, d, 9, tzinfo=london), 60) for d in (4, 11)]
    moved = _occurrence(
        datetime(2024, 3, 26, 14, tzinfo=london),
        60,
        type="exception",
        subject="Weekly review (moved)",
        originalStart="2024-03-25T09:00:00Z",
    )
    master = _utc_view(samples.WEEKLY, type="seriesMaster", id="W")
    weekly_text = g.series_object(master, [*weekly, moved], start, end)
    # Not returned by the view: 03-18 (deleted) and 04-01 (past the view here): EXDATEs.
    assert "EXDATE;TZID=Europe/London:20240318T090000" in weekly_text
    assert "RECURRENCE-ID;TZID=Europe/London:20240325T090000" in weekly_text
    assert "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO" in weekly_text
    daily = [_occurrence(datetime(2024, 3, d, 9, 30, tzinfo=london), 15) for d in range(1, 32)]
    daily += [_occurrence(datetime(2024, 2, 29, 9, 30, tzinfo=london), 15)]
    daily_text = g.series_object(_utc_view(samples.DAILY, type="seriesMaster", id="D"), daily,
                                 start, end)  # fmt: skip
    objects += [SourceObject("g#w", weekly_text), SourceObject("g#d", daily_text)]
    items, errors = build_items(objects, window, "occurrences", "src", "run")
    assert not errors
    assert {item.uid for item in items} == EXPECTED_MARCH


def test_an_instance_the_rule_does_not_yield_is_kept_as_an_rdate() -> None:
    # A series in a zone the table lacks is read in UTC; Graph's own 08:00 UTC occurrence
    # (09:00 in summer) is then not one the rule yields, and is archived all the same.
    master = {"id": "M", "iCalUId": "u", "subject": "s", "type": "seriesMaster",
              "start": {"dateTime": "2024-03-29T09:00:00", "timeZone": "UTC"},
              "end": {"dateTime": "2024-03-29T10:00:00", "timeZone": "UTC"},
              "originalStartTimeZone": "Custom Zone",
              "recurrence": {"pattern": {"type": "daily", "interval": 1},
                             "range": {"type": "numbered", "numberOfOccurrences": 3,
                                       "startDate": "2024-03-29"}}}  # fmt: skip
    given = [_occurrence(datetime(2024, 3, 29, 9, tzinfo=UTC), 60),
             _occurrence(datetime(2024, 3, 30, 9, tzinfo=UTC), 60),
             _occurrence(datetime(2024, 3, 31, 8, tzinfo=UTC), 60)]  # fmt: skip
    text = g.series_object(master, given, datetime(2024, 3, 28, tzinfo=UTC),
                           datetime(2024, 4, 2, tzinfo=UTC))  # fmt: skip
    assert "RDATE:20240331T080000Z" in text
    assert "EXDATE:20240331T090000Z" in text
    assert "RECURRENCE-ID:20240331T080000Z" in text


def test_an_archive_copy_as_a_graph_event_invites_nobody() -> None:
    copy = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u-1\r\n"
        "DTSTAMP:20240101T000000Z\r\nDTSTART;TZID=America/New_York:20240308T090000\r\n"
        "DTEND;TZID=America/New_York:20240308T100000\r\nSUMMARY:Review\r\n"
        "ORGANIZER;CN=Ann;SCHEDULE-AGENT=NONE:mailto:ann@example.org\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=NONE:mailto:bob@example.org\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    event = g.graph_event(copy, "abc.ics", "h1", LONDON)
    assert "attendees" not in event and event["isReminderOn"] is False
    assert event["start"] == {
        "dateTime": "2024-03-08T09:00:00",
        "timeZone": "Eastern Standard Time",
    }
    assert "Organizer: Ann <ann@example.org>" in event["body"]["content"]
    assert "Attendee: bob@example.org (accepted)" in event["body"]["content"]
    assert g.copy_of(event) == ("abc.ics", copy)
    all_day = copy.replace(
        "DTSTART;TZID=America/New_York:20240308T090000", "DTSTART;VALUE=DATE:20240306"
    )
    all_day = all_day.replace("DTEND;TZID=America/New_York:20240308T100000\r\n", "")
    event = g.graph_event(all_day, "d.ics", "h2", LONDON)
    assert event["isAllDay"] is True
    assert event["start"] == {"dateTime": "2024-03-06T00:00:00", "timeZone": "GMT Standard Time"}
    assert event["end"]["dateTime"] == "2024-03-07T00:00:00"
    assert g.copy_of({"singleValueExtendedProperties": []}) is None
