"""Pure conversion and planning: expansion, series copies, safe writes, change hashes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from archive_runner import ical
from archive_runner.backends.base import ArchivedCopy, SourceObject
from archive_runner.convert import ArchiveItem, build_items, clearly_in_window, in_window
from archive_runner.engine import Rules, plan
from archive_runner.result import TERMINATION_LIMIT, ObjectError, RunResult
from archive_runner.window import Window

from .helpers import SAMPLES, event, sample

MARCH = Window(date(2024, 3, 1), date(2024, 3, 31), ZoneInfo("Europe/London"))


def items_of(text: str, window: Window = MARCH, mode: str = "occurrences") -> list[ArchiveItem]:
    items, errors = build_items([SourceObject("x.ics", text)], window, mode, "src", "run-1")
    assert errors == []
    return items


def test_occurrences_get_derived_uids_and_no_recurrence_properties() -> None:
    items = items_of(sample("weekly-london.ics"))
    # 4, 11, (18 excluded), 25 moved to 26 March
    assert [i.uid for i in items] == [
        "weekly-london@example.org-20240304T090000Z",
        "weekly-london@example.org-20240311T090000Z",
        "weekly-london@example.org-20240325T090000Z",
    ]
    for item in items:
        text = ical.unfold(item.data.decode())
        vevent = text[text.index("BEGIN:VEVENT") :]
        for prop in ("RRULE:", "EXDATE", "RDATE", "RECURRENCE-ID;", "RECURRENCE-ID:"):
            assert f"\n{prop}" not in vevent
        assert "X-ARCHIVE-ORIGINAL-UID:weekly-london@example.org" in text
        assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/London" in text
    moved = ical.unfold(items[2].data.decode())
    assert "DTSTART;TZID=Europe/London:20240326T140000" in moved
    assert "SUMMARY:Weekly review (moved)" in moved
    assert "SEQUENCE:3" in moved  # never bumped


def test_scheduling_is_neutralised_on_every_attendee_and_the_organizer() -> None:
    first = ical.unfold(items_of(sample("weekly-london.ics"))[0].data.decode())
    lines = [line for line in first.splitlines() if line.startswith(("ATTENDEE", "ORGANIZER"))]
    assert len(lines) == 3
    for line in lines:
        assert line.count("SCHEDULE-AGENT=NONE") == 1
        assert "RSVP" not in line and "SCHEDULE-AGENT=SERVER" not in line
    assert "SEQUENCE:2" in first


def test_series_mode_copies_master_and_override_under_the_original_uid() -> None:
    (item,) = items_of(sample("weekly-london.ics"), mode="series")
    text = ical.unfold(item.data.decode())
    assert item.uid == "weekly-london@example.org"
    assert text.count("BEGIN:VEVENT") == 2
    assert "RRULE:FREQ=WEEKLY;COUNT=10" in text
    assert "EXDATE;TZID=Europe/London:20240318T090000" in text
    assert "RECURRENCE-ID;TZID=Europe/London:20240325T090000" in text


def test_open_ended_recurrence_is_expanded_only_inside_the_window() -> None:
    week = Window(date(2024, 3, 25), date(2024, 3, 31), ZoneInfo("Europe/London"))
    assert len(items_of(sample("daily-open-ended.ics"), week)) == 7


def test_all_day_and_floating_events_are_read_in_the_configured_zone() -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    all_day = sample("all-day.ics")  # 6 March
    assert len(items_of(all_day, Window(date(2024, 3, 6), date(2024, 3, 6), auckland))) == 1
    assert items_of(all_day, Window(date(2024, 3, 7), date(2024, 3, 7), auckland)) == []
    floating = sample("floating.ics")  # 8 March 01:00 wall time
    new_york = ZoneInfo("America/New_York")
    assert len(items_of(floating, Window(date(2024, 3, 8), date(2024, 3, 8), new_york))) == 1
    assert items_of(floating, Window(date(2024, 3, 7), date(2024, 3, 7), new_york)) == []


def test_hash_ignores_folding_and_dtstamp_but_not_content() -> None:
    text = event("a@x", "20240305T120000Z", "20240305T130000Z", "Title " * 20)
    folded = text.replace("SUMMARY:Title ", "SUMMARY:Tit\r\n le ", 1)
    restamped = text.replace("DTSTAMP:20240101T000000Z", "DTSTAMP:20240301T101010Z")
    edited = text.replace("SUMMARY:Title", "SUMMARY:Other", 1)
    (base,) = items_of(text)
    assert items_of(folded)[0].source_hash == base.source_hash
    assert items_of(restamped)[0].source_hash == base.source_hash
    assert items_of(edited)[0].source_hash != base.source_hash
    assert items_of(text)[0].name == base.name  # deterministic address


def test_malformed_objects_are_reported_and_others_converted() -> None:
    good = event("good@x", "20240305T120000Z", "20240305T130000Z")
    bad = event("bad@x", "notadate", "20240305T130000Z")
    items, errors = build_items(
        [SourceObject("bad.ics", bad), SourceObject("good.ics", good)],
        MARCH,
        "occurrences",
        "s",
        "r",
    )
    assert [i.uid for i in items] == ["good@x"]
    assert [(e.uid, e.href) for e in errors] == [("bad@x", "bad.ics")]


def rules(on_change: str, source_id: str = "src") -> Rules:
    return Rules(MARCH, on_change, source_id, now=datetime(2024, 4, 1, tzinfo=UTC))


def test_plan_detects_unchanged_changed_and_missing_copies() -> None:
    keep_text = event("keep@x", "20240305T120000Z", "20240305T130000Z")
    edit_text = event("edit@x", "20240306T120000Z", "20240306T130000Z")
    gone_text = event("gone@x", "20240307T120000Z", "20240307T130000Z")
    old = {i.uid: i for i in items_of(keep_text) + items_of(edit_text) + items_of(gone_text)}
    archive = {
        i.name: ArchivedCopy(name=i.name, etag=f'"{n}"', text=i.data.decode())
        for n, i in enumerate(old.values())
    }
    now = items_of(keep_text) + items_of(edit_text.replace("SUMMARY:Event", "SUMMARY:Edited"))
    kept = plan(now, archive, rules("keep"))
    assert [i.uid for i in kept.unchanged] == ["keep@x"]
    assert [i.uid for i in kept.changed_kept] == ["edit@x"]
    assert kept.create == [] and kept.update == []
    assert kept.source_missing == ["gone@x"]
    updated = plan(now, archive, rules("update"))
    assert [(i.uid, c.etag) for i, c in updated.update] == [("edit@x", '"1"')]
    # another source's copies are never reported as missing
    assert plan(now, archive, rules("keep", "other-source")).source_missing == []


def test_termination_message_fits_in_4_kib_with_counts_window_and_run_id() -> None:
    result = RunResult(
        run_id="run-1",
        user="alice",
        window=MARCH,
        mode="occurrences",
        on_change="keep",
        dry_run=False,
        source="s",
        destination="d",
        errors=[ObjectError(message="x" * 2000, uid=f"u{i}", href="h") for i in range(100)],
    )
    result.counts.failed = 100
    message = result.termination_message()
    assert len(message.encode()) <= TERMINATION_LIMIT
    parsed = json.loads(message)
    assert parsed["run_id"] == "run-1" and parsed["counts"]["failed"] == 100
    assert parsed["window"]["start"] == "2024-03-01" and parsed["errors_total"] == 100
    assert len(json.loads(result.to_json())["errors"]) == 50


def test_occurrences_of_an_event_timed_by_duration_carry_duration_only() -> None:
    """The expander adds DTEND to each occurrence; DTEND with DURATION is invalid and a server
    (Radicale) refuses such a copy, so the copy keeps the source's DURATION only."""
    text = event("d@x", "20240304T090000Z", "20240304T100000Z", extra="RRULE:FREQ=WEEKLY")
    text = text.replace("DTEND:20240304T100000Z", "DURATION:PT1H")
    items = items_of(text)
    assert len(items) == 4
    for item in items:
        vevent = ical.unfold(item.data.decode()).split("BEGIN:VEVENT")[1]
        assert "\nDURATION:PT1H" in vevent
        assert "\nDTEND" not in vevent


def _as_archived(items: list[ArchiveItem]) -> dict[str, ArchivedCopy]:
    return {i.name: ArchivedCopy(name=i.name, etag='"e"', text=i.data.decode()) for i in items}


def _summary(items: list[ArchiveItem]) -> list[tuple[str, str, str, str]]:
    return sorted((i.name, i.key, i.uid, i.source_hash) for i in items)


def test_unchanged_single_events_reuse_their_copy_and_give_the_same_items() -> None:
    objects = [SourceObject(n, sample(n)) for n in SAMPLES]
    fresh, _ = build_items(objects, MARCH, "occurrences", "src", "run-1")
    reused, errors = build_items(objects, MARCH, "occurrences", "src", "run-2", _as_archived(fresh))
    assert errors == []
    assert _summary(reused) == _summary(fresh)
    by_uid = {i.uid: i for i in reused}
    assert b"X-ARCHIVE-RUN-ID:run-1" in by_uid["plain-utc@example.org"].data  # the copy itself
    assert b"X-ARCHIVE-RUN-ID:run-1" in by_uid["new-york@example.org"].data  # VTIMEZONE RRULE
    assert clearly_in_window(by_uid["new-york@example.org"].data.decode(), MARCH)
    assert b"X-ARCHIVE-RUN-ID:run-2" in by_uid["daily@example.org-20240301T093000Z"].data
    # a single event outside the window: its copy is not an item of this window
    april = Window(date(2024, 4, 1), date(2024, 4, 30), ZoneInfo("Europe/London"))
    later, _ = build_items(objects, april, "occurrences", "src", "run-3", _as_archived(fresh))
    assert "plain-utc@example.org" not in {i.uid for i in later}


def _one(text: str, run_id: str, archived: dict[str, ArchivedCopy]) -> ArchiveItem:
    items, errors = build_items(
        [SourceObject("x.ics", text)], MARCH, "occurrences", "src", run_id, archived
    )
    assert errors == [] and len(items) == 1
    return items[0]


def test_a_changed_source_text_or_an_older_copy_is_converted_again() -> None:
    text = event("e@x", "20240305T100000Z", "20240305T110000Z", "Before")
    (item,) = items_of(text)
    archived = _as_archived([item])
    assert b"run-1" in _one(text, "r0", archived).data  # unchanged: the copy is reused
    edited = _one(text.replace("SUMMARY:Before", "SUMMARY:After"), "r1", archived)
    assert edited.source_hash != item.source_hash  # detected as a change
    restamped = _one(text.replace("DTSTAMP:20240101", "DTSTAMP:20240301"), "r2", archived)
    assert restamped.source_hash == item.source_hash  # same content ...
    assert b"X-ARCHIVE-RUN-ID:r2" in restamped.data  # ... but converted, not reused
    older = {
        name: ArchivedCopy(name, copy.etag, copy.text.replace("SOURCE-OBJECT:", "SOURCE-OBJECT:0"))
        for name, copy in archived.items()
    }  # as if written by another converter version
    assert b"X-ARCHIVE-RUN-ID:r3" in _one(text, "r3", older).data


@pytest.mark.parametrize(
    ("times", "inside"),
    [
        (("DTSTART:20240305T100000Z", "DTEND:20240305T110000Z"), True),
        (("DTSTART;TZID=Europe/London:20240305T100000", "DTEND;TZID=Europe/London:2024030"
          "5T110000"), True),
        (("DTSTART;VALUE=DATE:20240305", "DTEND;VALUE=DATE:20240306"), True),
        (('DTSTART;TZID="Odd:Zone":20240305T100000',), True),
        (("DTSTART:20240301T100000Z", "DTEND:20240301T110000Z"), False),  # near the edge
        (("DTSTART:20240330T100000Z", "DTEND:20240402T110000Z"), False),  # crosses it
        (("DTSTART:20240305T100000Z", "DURATION:PT1H"), False),  # not read: unsure
        (("DTSTART:20240405T100000Z", "DTEND:20240405T110000Z"), False),  # outside
        (("DTSTART:2024-03-05",), False),  # unexpected form: unsure
    ],
)  # fmt: skip
def test_clearly_in_window_is_a_conservative_shortcut(times: tuple[str, ...], inside: bool) -> None:
    text = event("u@x", "20240305T100000Z", "20240305T110000Z")
    text = text.replace("DTSTART:20240305T100000Z\r\nDTEND:20240305T110000Z", "\r\n".join(times))
    assert clearly_in_window(text, MARCH) is inside
    if inside:
        assert in_window(text, MARCH)  # never claims more than the exact check


def test_two_source_objects_with_one_uid_are_reported_not_dropped_silently() -> None:
    """Two resources of one CalDAV collection holding the same UID (RFC 4791 forbids it, but a
    server fed through its storage or a buggy client can have it) map to one copy name: the
    first by href is archived, the second is an error naming both hrefs."""
    first = event("dup@x", "20240305T120000Z", "20240305T130000Z", "First")
    second = event("dup@x", "20240306T120000Z", "20240306T130000Z", "Second")
    objects = [SourceObject("/cal/b.ics", second), SourceObject("/cal/a.ics", first)]
    items, errors = build_items(objects, MARCH, "series", "src", "run-1")
    assert [i.source_href for i in items] == ["/cal/a.ics"]
    (error,) = errors
    assert (error.uid, error.href) == ("dup@x", "/cal/b.ics")
    assert "/cal/a.ics" in error.message and "another UID" in error.message
