"""Pure conversion of source calendar objects into archive copies.

``occurrences`` mode expands recurring events in the window into standalone events with
derived UIDs (never the original UID, which would destroy the series in a client);
``series`` mode copies the master and its overrides verbatim. Both keep VTIMEZONEs, never
touch SEQUENCE, and neutralise scheduling so that writing a copy cannot send an invitation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import ical
from .backends.base import ArchivedCopy, SourceObject
from .result import ObjectError
from .window import Window

if TYPE_CHECKING:
    from icalendar import Calendar, Event
    from icalendar.prop import vCalAddress

# icalendar and recurring-ical-events are imported where they are used: a re-run through the
# run cache that finds nothing changed parses no calendar, and their import is a measurable
# part of its start-up (docs/benchmarks.md).

PRODID = "-//archive-operator//archive-runner//EN"
_RECURRENCE_PROPS = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "EXRULE")
_TZID = re.compile(r";TZID=(\"[^\"]*\"|[^;:]*)", re.IGNORECASE)
_RECURRING = re.compile(r"^(RRULE|RDATE|EXRULE|EXDATE|RECURRENCE-ID)[;:]", re.I | re.M)
# Part of every copy's source fingerprint: bump it whenever conversion output changes, so
# copies made by an older converter are not reused unconverted.
CONVERTER_VERSION = "2"


@dataclass(frozen=True)
class ArchiveItem:
    """One copy to be archived."""

    name: str  # destination resource name, deterministic from source identity + key
    original_uid: str
    recurrence_id: str | None  # of an expanded occurrence (format_recurrence_id)
    uid: str  # the UID written into the copy
    source_href: str
    source_hash: str
    data: bytes
    # An occurrence's start (format_recurrence_id): a copy of the same occurrence with another
    # start is an earlier version, kept (engine.decide). None: a series, or a version already.
    start: str | None = None
    # A whole series (master and overrides): an update keeps the days it archived (history.py).
    series: bool = False
    # A past occurrence preserved from an archived series: never updated once written.
    history: bool = False

    @property
    def key(self) -> str:
        """The original UID, plus " @ <recurrence id>" for an expanded occurrence."""
        if self.recurrence_id:
            return f"{self.original_uid} @ {self.recurrence_id}"
        return self.original_uid


def copy_name(
    source_id: str, original_uid: str, recurrence_id: str | None, start: str | None = None
) -> str:
    """A copy's deterministic name; ``start`` names a later version of an occurrence that moved
    after it was archived (its first version keeps the name without it)."""
    parts = (source_id, original_uid, recurrence_id or "")
    return ical.digest(*parts, *([start] if start else [])) + ".ics"


def format_recurrence_id(value: date | datetime) -> str:
    """A stable text form: UTC for zoned times, as-is for dates and floating times."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def occurrences_in(calendar: Calendar, window: Window) -> list[Event]:
    """Events (expanded occurrences) overlapping the window; floating and all-day times are
    read in the window's zone because the bounds are aware datetimes in that zone."""
    import recurring_ical_events

    found: list[Event] = recurring_ical_events.of(calendar).between(
        window.local_start, window.local_end
    )
    return found


def source_fingerprint(text: str, recurrence: str) -> str:
    """Identifies a source object's exact text as converted by this converter in this mode."""
    return ical.digest(CONVERTER_VERSION, recurrence, text)


def build_items(
    objects: list[SourceObject],
    window: Window,
    recurrence: str,
    source_id: str,
    run_id: str,
    archived: Mapping[str, ArchivedCopy] | None = None,
) -> tuple[list[ArchiveItem], list[ObjectError]]:
    """Archive items of the source objects; ``archived`` (the copies read from the archive)
    lets an unchanged single event reuse its copy instead of being converted again."""
    items: dict[str, ArchiveItem] = {}
    errors: list[ObjectError] = []
    # In href order, so which of two colliding objects is archived does not depend on the
    # order a server listed them in.
    for obj in sorted(objects, key=lambda o: o.href):
        try:
            reused = _reuse(obj, archived or {}, window, recurrence, source_id)
            converted = (
                reused
                if reused is not None
                else _convert(obj, window, recurrence, source_id, run_id)
            )
        except Exception as exc:  # a malformed object must not stop the others
            errors.append(
                ObjectError(
                    message=f"cannot read event: {type(exc).__name__}: {exc}",
                    uid=_guess_uid(obj.text),
                    href=obj.href,
                )
            )
            continue
        for item in converted:
            first = items.setdefault(item.name, item)
            if first.source_href != item.source_href:
                errors.append(collision(first, item))
    return list(items.values()), errors


def collision(first: ArchiveItem, second: ArchiveItem) -> ObjectError:
    """Two source objects (e.g. two CalDAV resources with one UID) map to one archive copy:
    only the first is archived, and the second is reported, never dropped silently."""
    return ObjectError(
        message=(
            f"not archived: {second.source_href} has the same event as {first.source_href} "
            f"({second.key}), and both map to one archive copy; only the first is archived. "
            "Give one of them another UID in the source calendar"
        ),
        uid=second.original_uid,
        href=second.source_href,
    )


def _reuse(
    obj: SourceObject,
    archived: Mapping[str, ArchivedCopy],
    window: Window,
    recurrence: str,
    source_id: str,
) -> list[ArchiveItem] | None:
    """The item of a single (non-recurring) event whose copy was made from exactly this text
    by this converter: that copy is what converting would produce (its run id aside), so
    only its window is checked. None means "convert it" (anything else, or no such copy).
    This keeps a no-change re-run from parsing, expanding and serialising every event."""
    unfolded = ical.unfold(obj.text)
    if unfolded.count("BEGIN:VEVENT") != 1:
        return None
    if _RECURRING.search(unfolded, unfolded.index("BEGIN:VEVENT")):  # not a VTIMEZONE's RRULE
        return None
    uid = _guess_uid(obj.text)
    copy = archived.get(copy_name(source_id, uid, None)) if uid else None
    if copy is None or uid is None:
        return None
    markers = ical.archive_markers(copy.text)
    fingerprint = source_fingerprint(obj.text, recurrence)
    if markers.get(ical.SOURCE_OBJECT) != fingerprint or ical.SOURCE_HASH not in markers:
        return None
    if not (clearly_in_window(copy.text, window) or in_window(copy.text, window)):
        return []
    return [
        ArchiveItem(
            name=copy.name,
            original_uid=uid,
            recurrence_id=None,
            uid=uid,
            source_href=obj.href,
            source_hash=markers[ical.SOURCE_HASH],
            data=copy.text.encode(),
        )
    ]


def _convert(
    obj: SourceObject, window: Window, recurrence: str, source_id: str, run_id: str
) -> list[ArchiveItem]:
    from icalendar import Calendar

    calendar = Calendar.from_ical(obj.text)
    events = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    for event in events:
        if not str(event.get("UID", "")).strip():
            raise ValueError("event without UID")
        if "DTSTART" not in event:
            raise ValueError(f"event {event['UID']} has no valid DTSTART")
    context = Context(calendar, obj.href, source_id)
    fingerprint = source_fingerprint(obj.text, recurrence)
    occurrences = occurrences_in(calendar, window)
    recurring = {
        str(e["UID"]) for e in events if any(p in e for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    if recurrence == "series":
        items = []
        for original_uid in dict.fromkeys(str(o["UID"]) for o in occurrences):
            components = [e for e in events if str(e["UID"]) == original_uid]
            copies = [
                _archived_event(c, original_uid, original_uid, None, source_id, run_id, fingerprint)
                for c in components
            ]
            if original_uid in recurring:
                item = context.item(copies, original_uid, original_uid, None, series=True)
            else:  # one event: versioned by its start, as in occurrences mode
                start = occurrence_start(components[0])
                item = context.item(copies, original_uid, original_uid, None, start=start)
            items.append(item)
        return items
    items = []
    for occurrence in occurrences:
        original_uid = str(occurrence["UID"])
        recurrence_id: str | None = None
        if original_uid in recurring:
            recurrence_id = format_recurrence_id(occurrence_anchor(occurrence))
        items.append(
            standalone_item(context, occurrence, original_uid, recurrence_id, run_id, fingerprint)
        )
    return items


def occurrence_start(event: Event) -> str:
    """An event's start as ``format_recurrence_id`` writes it: what tells versions apart."""
    return format_recurrence_id(event["DTSTART"].dt)


def occurrence_anchor(occurrence: Event) -> date | datetime:
    """The slot an expanded occurrence fills: its RECURRENCE-ID, else its start."""
    anchor = occurrence.get("RECURRENCE-ID") or occurrence["DTSTART"]
    value: date | datetime = anchor.dt
    return value


def standalone_item(
    context: Context,
    occurrence: Event,
    original_uid: str,
    recurrence_id: str | None,
    run_id: str,
    fingerprint: str,
    history: bool = False,
) -> ArchiveItem:
    """One occurrence as a standalone event: UID ``<uid>-<recurrence id>``, no recurrence."""
    uid = f"{original_uid}-{recurrence_id}" if recurrence_id else original_uid
    copy = _archived_event(
        occurrence, uid, original_uid, recurrence_id, context.source_id, run_id, fingerprint
    )
    for prop in _RECURRENCE_PROPS:
        copy.pop(prop, None)
    if "DTEND" in copy and "DURATION" in copy:
        # The expander adds DTEND to occurrences of an event timed by DURATION; a VEVENT
        # with both is invalid (RFC 5545 3.6.1) and servers refuse it. Keep the source's.
        del copy["DTEND"]
    start = occurrence_start(occurrence)
    return context.item([copy], uid, original_uid, recurrence_id, start=start, history=history)


class Context:
    """What every copy made from one source object shares: the calendar's header and its
    time zones, each serialised once."""

    def __init__(self, calendar: Calendar, href: str, source_id: str) -> None:
        self.href = href
        self.source_id = source_id
        from icalendar import Calendar

        header = Calendar()
        header.add("VERSION", "2.0")
        header.add("PRODID", str(calendar.get("PRODID", PRODID)))
        if "CALSCALE" in calendar:
            header.add("CALSCALE", str(calendar["CALSCALE"]))
        self.header = header.to_ical().decode().removesuffix("END:VCALENDAR\r\n")
        self.timezones = {
            str(tz["TZID"]): tz
            for tz in calendar.subcomponents
            if tz.name == "VTIMEZONE" and "TZID" in tz
        }
        self._serialised_zones: dict[str, str] = {}

    def _zone(self, tzid: str) -> str:
        if tzid not in self._serialised_zones:
            self._serialised_zones[tzid] = self.timezones[tzid].to_ical().decode()
        return self._serialised_zones[tzid]

    def item(
        self,
        copies: list[Event],
        uid: str,
        original_uid: str,
        recurrence_id: str | None,
        *,
        start: str | None = None,
        series: bool = False,
        history: bool = False,
    ) -> ArchiveItem:
        """Serialise each copy once: the change hash is taken from that text (a deterministic
        function of the source), then written into it as X-ARCHIVE-SOURCE-HASH."""
        texts = [c.to_ical().decode() for c in copies]
        source_hash = ical.content_hash(texts)
        marker = f"{ical.SOURCE_HASH}:{source_hash}\r\n"
        texts = [t[: t.rindex("END:VEVENT")] + marker + "END:VEVENT\r\n" for t in texts]
        body = "".join(texts)
        referenced = sorted({m.strip('"') for m in _TZID.findall(ical.unfold(body))})
        zones = "".join(self._zone(tzid) for tzid in referenced if tzid in self.timezones)
        # METHOD is never copied: a stored calendar object must not carry an iTIP method.
        data = f"{self.header}{zones}{body}END:VCALENDAR\r\n".encode()
        return ArchiveItem(
            name=copy_name(self.source_id, original_uid, recurrence_id),
            original_uid=original_uid,
            recurrence_id=recurrence_id,
            uid=uid,
            source_href=self.href,
            source_hash=source_hash,
            data=data,
            start=start,
            series=series,
            history=history,
        )


def _archived_event(
    event: Event,
    uid: str,
    original_uid: str,
    recurrence_id: str | None,
    source_id: str,
    run_id: str,
    fingerprint: str,
) -> Event:
    """A copy of ``event`` (the source is never mutated) with archive markers and no
    scheduling: SCHEDULE-AGENT=NONE on ORGANIZER/ATTENDEE tells a CalDAV server not to send
    invitations or replies (RFC 6638 7.1)."""
    copy = event.copy()
    copy.subcomponents = list(event.subcomponents)
    for prop in ("ORGANIZER", "ATTENDEE"):
        if prop in copy:
            value = copy[prop]
            values = value if isinstance(value, list) else [value]
            neutral = [_without_scheduling(v) for v in values]
            copy[prop] = neutral if isinstance(value, list) else neutral[0]
    copy["UID"] = uid
    for marker in [k for k in copy if k.upper().startswith(ical.PREFIX)]:
        del copy[marker]
    copy.add(ical.SOURCE_ID, source_id)
    copy.add(ical.ORIGINAL_UID, original_uid)
    if recurrence_id:
        copy.add(ical.RECURRENCE_ID, recurrence_id)
    copy.add(ical.RUN_ID, run_id)
    copy.add(ical.SOURCE_OBJECT, fingerprint)
    return copy


def _without_scheduling(address: Any) -> vCalAddress:
    from icalendar.prop import vCalAddress

    neutral = vCalAddress(str(address))
    params = getattr(address, "params", {})
    for name, value in params.items():
        if name.upper() not in ("SCHEDULE-AGENT", "SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND", "RSVP"):
            neutral.params[name] = value
    neutral.params["SCHEDULE-AGENT"] = "NONE"
    return neutral


def _guess_uid(text: str) -> str | None:
    for line in ical.content_lines(text):
        if ical.property_name(line) == "UID":
            return line.partition(":")[2].strip() or None
    return None


_TIME_PROPERTY = re.compile(r"(DTSTART|DTEND|DURATION)(?:;.*)?:([^:]*)", re.I)
_DATE_OR_TIME = re.compile(r"(\d{8})(?:T(\d{6})Z?)?")
_SLACK = timedelta(days=1)  # more than any UTC offset: local vs UTC readings cannot matter


def clearly_in_window(text: str, window: Window) -> bool:
    """True only when a single event's start and end lie well inside the window, read from
    its text alone (no parsing): a cheap, conservative shortcut for ``in_window``. False means
    "not sure" (an edge case, DURATION, an unexpected form), not "outside"."""
    found: dict[str, datetime] = {}
    unfolded = ical.unfold(text)
    event = unfolded[unfolded.find("BEGIN:VEVENT") :]  # not a VTIMEZONE's DTSTART
    for line in event.splitlines():
        match = _TIME_PROPERTY.fullmatch(line)
        if match is None:
            continue
        name, value = match.group(1).upper(), match.group(2)
        parsed = _DATE_OR_TIME.fullmatch(value.strip())
        if name == "DURATION" or parsed is None:
            return False
        day, clock = parsed.groups()
        found.setdefault(name, datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S"))
    if "DTSTART" not in found:
        return False
    start = found["DTSTART"].replace(tzinfo=UTC)
    end = found.get("DTEND", found["DTSTART"]).replace(tzinfo=UTC)
    return window.utc_start + _SLACK <= start <= end <= window.utc_end - _SLACK


def in_window(text: str, window: Window) -> bool:
    """Whether an archived copy has an event in the window (False if it cannot be read)."""
    try:
        from icalendar import Calendar

        return bool(occurrences_in(Calendar.from_ical(text), window))
    except Exception:
        return False


def copy_start(text: str) -> str | None:
    """The start of an archived occurrence (as ``format_recurrence_id`` writes it), or None
    if the copy cannot be read."""
    try:
        from icalendar import Calendar

        event = next(iter(Calendar.from_ical(text).walk("VEVENT")))
        return occurrence_start(event)
    except Exception:
        return None
