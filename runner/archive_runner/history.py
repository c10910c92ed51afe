"""What a run may not change: the archive's past (issue 14). Pure.

A run brings the copies of its own window up to date (``--on-change update``), but what the
archive shows for a day outside that window stays as it was archived:

- an occurrence whose start moved after it was archived gets a new copy, a *version* named by
  its start (``moved_version``); the first copy stays, and each version is updated only while
  its own start is in a run's window;
- a series copy is updated only after the past occurrences the update would change or remove
  are preserved (``preserve_past``): each becomes a standalone copy, as ``occurrences`` mode
  writes it, and the updated series excludes it (EXDATE, recorded in X-ARCHIVE-FROZEN so later
  updates keep excluding it), so a reader sees it once, as it was archived.

What the archive holds of a series is every occurrence that has begun by the run's time or
is in the run's window; later ones are not archived yet, so they follow the source. None of
those may disappear (a removed or moved one is kept apart), and those outside the window keep
their state; those inside it take the source's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from . import ical
from .convert import (
    ArchiveItem,
    Context,
    copy_name,
    format_recurrence_id,
    occurrence_anchor,
    occurrence_start,
    standalone_item,
)
from .window import Window

if TYPE_CHECKING:
    from icalendar import Calendar, Event

# A recurrence id an updated series excludes because its archived occurrence is kept apart.
FROZEN = "X-ARCHIVE-FROZEN"
_BEGINNING = datetime(1900, 1, 1, tzinfo=UTC)
# What an occurrence's state is not: how it recurs, and what the archive adds.
_NOT_STATE = ("DTSTAMP", ical.PREFIX, "UID", "RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID")


def moved_version(item: ArchiveItem, source_id: str) -> ArchiveItem:
    """The copy of an occurrence whose archived copy has another start: named by its start,
    with a UID of its own (a CalDAV collection holds one object per UID, RFC 4791 5.3.2.1)."""
    uid = f"{item.uid}-moved-{item.start}"
    return replace(
        item,
        name=version_name(item, source_id),
        uid=uid,
        data=ical.replace_uid(item.data.decode(), uid).encode(),
        start=None,  # a version is never versioned again: its name holds its start
    )


def version_name(item: ArchiveItem, source_id: str) -> str:
    """Where the version of a moved occurrence (``moved_version``) is archived."""
    assert item.start is not None
    return copy_name(source_id, item.original_uid, item.recurrence_id, item.start)


@dataclass(frozen=True)
class SeriesUpdate:
    """What updating a series copy writes: the series, and what keeps its past."""

    series: ArchiveItem  # the source's series, minus the occurrences kept apart
    kept: list[ArchiveItem]  # past occurrences as they were archived (history: never updated)
    # Occurrences kept apart earlier that are in this run's window: their standalone copies
    # are what a reader sees for them, so they take the source's state now.
    refreshed: list[ArchiveItem]


def preserve_past(
    archived: str, item: ArchiveItem, window: Window, now: datetime, source_id: str
) -> SeriesUpdate | None:
    """How to update the series copy ``archived`` to ``item`` without changing or removing any
    of its past occurrences. None: the archived copy is kept as it is (it cannot be read, or
    nothing of the update would be left once its past is kept apart)."""
    from icalendar import Calendar

    try:
        old = Calendar.from_ical(archived)
    except Exception:
        return None
    new = Calendar.from_ical(item.data)
    archived_span = [(_BEGINNING, max(window.local_end, now))]
    before, after = _occurrences(old, archived_span), _occurrences(new, archived_span)
    inside = _occurrences(old, [(window.local_start, window.local_end)])
    changed = sorted(
        rid for rid, old_one in before.items() if _must_keep(old_one, after.get(rid), rid in inside)
    )
    frozen = sorted(set(changed) | _frozen(old))
    if not frozen:
        return SeriesUpdate(series=item, kept=[], refreshed=[])
    markers = ical.archive_markers(archived)
    run_id = markers.get(ical.RUN_ID, "")
    fingerprint = markers.get(ical.SOURCE_OBJECT, "")
    old_context = Context(old, item.source_href, source_id)
    kept = [
        standalone_item(
            old_context, before[rid], item.original_uid, rid, run_id, fingerprint, history=True
        )
        for rid in changed
    ]
    in_window = _occurrences(new, [(window.local_start, window.local_end)])
    new_markers = ical.archive_markers(item.data.decode())
    new_context = Context(new, item.source_href, source_id)
    refreshed = [
        standalone_item(
            new_context,
            in_window[rid],
            item.original_uid,
            rid,
            new_markers.get(ical.RUN_ID, ""),
            new_markers.get(ical.SOURCE_OBJECT, ""),
        )
        for rid in frozen
        if rid in in_window
    ]
    data = _excluding(new, frozen)
    if data is None:
        return None
    return SeriesUpdate(series=replace(item, data=data), kept=kept, refreshed=refreshed)


def _must_keep(archived: Event, now: Event | None, in_window: bool) -> bool:
    """Whether an archived occurrence must be kept apart from the updated series: it would
    disappear (removed, or moved to another start: its day would lose it), or it is outside
    the window and would change."""
    if now is None or occurrence_start(archived) != occurrence_start(now):
        return True
    return not in_window and _state(archived) != _state(now)


def _occurrences(calendar: Calendar, ranges: list[tuple[datetime, datetime]]) -> dict[str, Event]:
    import recurring_ical_events

    found: dict[str, Event] = {}
    for first, end in ranges:
        for occurrence in recurring_ical_events.of(calendar).between(first, end):
            found[format_recurrence_id(occurrence_anchor(occurrence))] = occurrence
    return found


def _state(occurrence: Event) -> str:
    """What a reader sees of an occurrence: every content line but how it recurs and ours."""
    lines = ical.content_lines(occurrence.to_ical().decode())
    shown = (line for line in lines if not ical.property_name(line).startswith(_NOT_STATE))
    return ical.digest(*sorted(shown))


def _frozen(calendar: Calendar) -> set[str]:
    values: set[str] = set()
    for event in calendar.walk("VEVENT"):
        found = event.get(FROZEN, [])
        values.update(str(v) for v in (found if isinstance(found, list) else [found]))
    return values


def _excluding(calendar: Calendar, frozen: list[str]) -> bytes | None:
    """The series without the occurrences kept apart: EXDATE on the master, their overrides
    removed, and FROZEN saying which exclusions are the archive's. None when nothing of the
    series would be left to hold them (a copy of overrides only, all kept apart)."""
    calendar.subcomponents = [
        c
        for c in calendar.subcomponents
        if not (
            c.name == "VEVENT"
            and "RECURRENCE-ID" in c
            and format_recurrence_id(c["RECURRENCE-ID"].dt) in frozen
        )
    ]
    events = calendar.walk("VEVENT")
    if not events:
        return None
    holder = next((e for e in events if "RECURRENCE-ID" not in e), events[0])
    for rid in frozen:
        if "RECURRENCE-ID" not in holder:  # a master: exclude the slot from its recurrence
            holder.add("EXDATE", _parse(rid))
        holder.add(FROZEN, rid)
    data: bytes = calendar.to_ical()
    return data


def _parse(rid: str) -> date | datetime:
    """A recurrence id back into the value it was formatted from (format_recurrence_id)."""
    if "T" not in rid:
        return datetime.strptime(rid, "%Y%m%d").date()
    if rid.endswith("Z"):
        return datetime.strptime(rid, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(rid, "%Y%m%dT%H%M%S")
