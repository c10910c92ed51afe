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
from typing import Any

import recurring_ical_events
from icalendar import Calendar, Event
from icalendar.prop import vCalAddress

from . import ical
from .backends.base import ArchivedCopy, SourceObject
from .result import ObjectError
from .window import Window

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
    key: str  # original UID, plus " @ <recurrence id>" for an expanded occurrence
    uid: str  # the UID written into the copy
    source_href: str
    source_hash: str
    data: bytes


def copy_name(source_id: str, original_uid: str, recurrence_id: str | None) -> str:
    return ical.digest(source_id, original_uid, recurrence_id or "") + ".ics"


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
    for obj in objects:
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
            items.setdefault(item.name, item)
    return list(items.values()), errors


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
            key=uid,
            uid=uid,
            source_href=obj.href,
            source_hash=markers[ical.SOURCE_HASH],
            data=copy.text.encode(),
        )
    ]


def _convert(
    obj: SourceObject, window: Window, recurrence: str, source_id: str, run_id: str
) -> list[ArchiveItem]:
    calendar = Calendar.from_ical(obj.text)
    events = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    for event in events:
        if not str(event.get("UID", "")).strip():
            raise ValueError("event without UID")
        if "DTSTART" not in event:
            raise ValueError(f"event {event['UID']} has no valid DTSTART")
    context = _Context(calendar, obj.href, source_id)
    fingerprint = source_fingerprint(obj.text, recurrence)
    occurrences = occurrences_in(calendar, window)
    if recurrence == "series":
        items = []
        for original_uid in dict.fromkeys(str(o["UID"]) for o in occurrences):
            components = [e for e in events if str(e["UID"]) == original_uid]
            copies = [
                _archived_event(c, original_uid, original_uid, None, source_id, run_id, fingerprint)
                for c in components
            ]
            items.append(context.item(copies, original_uid, original_uid, None))
        return items
    recurring = {
        str(e["UID"]) for e in events if any(p in e for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    items = []
    for occurrence in occurrences:
        original_uid = str(occurrence["UID"])
        recurrence_id: str | None = None
        if original_uid in recurring:
            anchor = occurrence.get("RECURRENCE-ID") or occurrence["DTSTART"]
            recurrence_id = format_recurrence_id(anchor.dt)
        uid = f"{original_uid}-{recurrence_id}" if recurrence_id else original_uid
        copy = _archived_event(
            occurrence, uid, original_uid, recurrence_id, source_id, run_id, fingerprint
        )
        for prop in _RECURRENCE_PROPS:
            copy.pop(prop, None)
        if "DTEND" in copy and "DURATION" in copy:
            # The expander adds DTEND to occurrences of an event timed by DURATION; a VEVENT
            # with both is invalid (RFC 5545 3.6.1) and servers refuse it. Keep the source's.
            del copy["DTEND"]
        items.append(context.item([copy], uid, original_uid, recurrence_id))
    return items


class _Context:
    """What every copy made from one source object shares: the calendar's header and its
    time zones, each serialised once."""

    def __init__(self, calendar: Calendar, href: str, source_id: str) -> None:
        self.href = href
        self.source_id = source_id
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
        self, copies: list[Event], uid: str, original_uid: str, recurrence_id: str | None
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
            key=f"{original_uid} @ {recurrence_id}" if recurrence_id else original_uid,
            uid=uid,
            source_href=self.href,
            source_hash=source_hash,
            data=data,
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
        return bool(occurrences_in(Calendar.from_ical(text), window))
    except Exception:
        return False
