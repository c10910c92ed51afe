"""Pure conversion between Microsoft Graph events (JSON) and iCalendar text.

Source side: a Graph ``calendarView`` answer (read with ``Prefer: outlook.timezone="UTC"``)
becomes one VCALENDAR per event or per series, the form every other source gives the engine,
so convert.py, engine.py and history.py treat Graph events exactly like CalDAV ones:

- a ``singleInstance`` event: one VEVENT, UID = its ``iCalUId``;
- a series (``seriesMaster`` + the ``occurrence``/``exception`` instances the view returned):
  the master with an RRULE from its ``patternedRecurrence`` (DTSTART in the series' own zone,
  so it repeats in wall-clock time across DST), each ``exception`` as an override with
  RECURRENCE-ID = its ``originalStart``, and each slot the pattern yields in the queried range
  that the view did not return as an EXDATE (Graph omits cancelled and deleted occurrences).
  An instance whose original slot the RRULE does not yield (the expansions disagree, e.g. in a
  zone :mod:`graph_tz` does not know) is added as an RDATE with its override, so what Graph
  shows in the range is archived whatever the rule says;
- ``isAllDay`` as DATE values; attendees and organizer as ATTENDEE/ORGANIZER (convert.py then
  marks them SCHEDULE-AGENT=NONE).

Destination side: an archive copy (iCalendar text) becomes the JSON of a Graph event with no
``attendees`` (Graph would send them invitations), its people listed in the body, and the
copy's name, hash and full text in extended properties: the archive reads its copies back
verbatim from them, so history and change detection work on the same text as for CalDAV.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import ical
from .graph_tz import iana_name, vtimezone, windows_name

PRODID = "-//archive-operator//archive-runner microsoft-graph//EN"
# The archive's extended properties on every copy written to Graph: a fixed property set (GUID),
# so another app's properties can never be mistaken for ours.
PROPERTY_SET = "{6b7c1f0e-3d2a-4c55-9a41-0f4e6a2b8c17}"
PROP_NAME = f"String {PROPERTY_SET} Name X-Archive-Copy-Name"
PROP_HASH = f"String {PROPERTY_SET} Name X-Archive-Source-Hash"
PROP_ICAL = f"String {PROPERTY_SET} Name X-Archive-Copy"

_DAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_RESPONSE = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentativelyAccepted": "TENTATIVE",
    "organizer": "ACCEPTED",
}
_ROLE = {"required": "REQ-PARTICIPANT", "optional": "OPT-PARTICIPANT"}
_SENSITIVITY = {"private": "PRIVATE", "personal": "PRIVATE", "confidential": "CONFIDENTIAL"}


# --- values ------------------------------------------------------------------------------


def parse_local(value: str) -> datetime:
    """A Graph ``dateTime`` ("2024-03-05T12:00:00.0000000", 7 fraction digits) as naive."""
    head, _, fraction = value.strip().rstrip("Z").partition(".")
    parsed = datetime.fromisoformat(head)
    return parsed.replace(microsecond=int((fraction + "000000")[:6])) if fraction else parsed


def zone_of(name: str | None) -> ZoneInfo:
    """The zone Graph names (Windows or IANA), UTC when unknown (see graph_tz)."""
    return ZoneInfo(iana_name(name) or "UTC")


def instant(value: Mapping[str, str]) -> datetime:
    """A ``dateTimeTimeZone`` as an aware datetime."""
    return parse_local(value["dateTime"]).replace(tzinfo=zone_of(value.get("timeZone")))


def utc_instant(value: str) -> datetime:
    """A Graph ``DateTimeOffset`` ("2024-03-25T09:00:00Z", ``originalStart``) in UTC."""
    text = value.strip().replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # drop a fraction longer than Python reads, keep the offset
        offset = rest[next((i for i, c in enumerate(rest) if c in "+-"), len(rest)) :]
        text = head + offset
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def escape_text(value: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon, comma and line breaks escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _param(value: str) -> str:
    """A parameter value, quoted when it holds ``:;,`` (quotes cannot be escaped: dropped)."""
    value = "".join(c for c in value if c != '"' and ord(c) >= 32)
    return f'"{value}"' if any(c in value for c in ":;,") else value


def _time_value(name: str, when: datetime | date, zone: str) -> str:
    if not isinstance(when, datetime):
        return f"{name};VALUE=DATE:{when:%Y%m%d}"
    if zone == "UTC":
        return f"{name}:{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone}:{when.astimezone(ZoneInfo(zone)):%Y%m%dT%H%M%S}"


# --- recurrence --------------------------------------------------------------------------


def pattern_rrule(recurrence: Mapping[str, Any], all_day: bool, zone: str) -> str:
    """A ``patternedRecurrence`` as an RRULE value. UNTIL is the end of the range's last local
    day (inclusive in Graph), in UTC as RFC 5545 requires for a zoned DTSTART, or a DATE for an
    all-day series. WKST only matters for weekly rules with an interval, and only then written."""
    pattern = recurrence.get("pattern") or {}
    kind = str(pattern.get("type"))
    frequency = {
        "daily": "DAILY",
        "weekly": "WEEKLY",
        "absoluteMonthly": "MONTHLY",
        "relativeMonthly": "MONTHLY",
        "absoluteYearly": "YEARLY",
        "relativeYearly": "YEARLY",
    }.get(str(kind))
    if frequency is None:
        raise ValueError(f"unknown recurrence pattern type {kind!r}")
    parts = [f"FREQ={frequency}"]
    interval = int(pattern.get("interval") or 1)
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    span = recurrence.get("range") or {}
    if span.get("type") == "endDate" and span.get("endDate"):
        last = date.fromisoformat(span["endDate"])
        if all_day:
            parts.append(f"UNTIL={last:%Y%m%d}")
        else:
            end = datetime.combine(last, datetime.max.time().replace(microsecond=0))
            until = end.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    elif span.get("type") == "numbered":
        parts.append(f"COUNT={int(span.get('numberOfOccurrences') or 1)}")
    days = ",".join(_DAYS[d.lower()] for d in pattern.get("daysOfWeek") or [])
    if kind.endswith("Yearly"):
        parts.append(f"BYMONTH={int(pattern['month'])}")
    if kind.startswith("absolute"):
        parts.append(f"BYMONTHDAY={int(pattern['dayOfMonth'])}")
    if kind == "weekly" and days:
        parts.append(f"BYDAY={days}")
    if kind.startswith("relative"):
        parts.append(f"BYDAY={days}")
        parts.append(f"BYSETPOS={_INDEX[str(pattern.get('index') or 'first')]}")
    if kind == "weekly" and interval > 1:
        parts.append(f"WKST={_DAYS[str(pattern.get('firstDayOfWeek') or 'sunday').lower()]}")
    return ";".join(parts)


# --- Graph event -> VEVENT -----------------------------------------------------------------


def _person(kind: str, person: Mapping[str, Any], params: list[str]) -> str | None:
    email = person.get("emailAddress") or {}
    address = (email.get("address") or "").strip()
    if not address:
        return None
    name = (email.get("name") or "").strip()
    shown = [f"CN={_param(name)}"] if name and name != address else []
    return ";".join([kind, *shown, *params]) + f":mailto:{address}"


def _attendee(attendee: Mapping[str, Any]) -> str | None:
    kind = attendee.get("type") or "required"
    params = (
        ["CUTYPE=RESOURCE", "ROLE=NON-PARTICIPANT"]
        if kind == "resource"
        else [f"ROLE={_ROLE.get(kind, 'REQ-PARTICIPANT')}"]
    )
    response = ((attendee.get("status") or {}).get("response")) or "none"
    params.append(f"PARTSTAT={_RESPONSE.get(response, 'NEEDS-ACTION')}")
    return _person("ATTENDEE", attendee, params)


def _start_end(event: Mapping[str, Any], zone: str) -> tuple[datetime | date, datetime | date]:
    start, end = instant(event["start"]), instant(event.get("end") or event["start"])
    if event.get("isAllDay"):
        # An all-day event spans whole days of no zone: its dates as written.
        return start.date(), max(end.date(), start.date() + timedelta(days=1))
    return start, end


def vevent(
    event: Mapping[str, Any],
    uid: str,
    zone: str,
    *,
    recurrence_id: datetime | date | None = None,
    rules: Iterable[str] = (),
) -> list[str]:
    """One VEVENT's content lines (unfolded) for a Graph event; ``rules``: RRULE/RDATE/EXDATE
    lines of a master. Volatile Graph fields (changeKey, lastModifiedDateTime but as DTSTAMP,
    which the change hash ignores) are left out, so the text changes only with the event."""
    start, end = _start_end(event, zone)
    stamp = event.get("lastModifiedDateTime") or event.get("createdDateTime")
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{utc_instant(stamp):%Y%m%dT%H%M%SZ}" if stamp else "DTSTAMP:19700101T000000Z",
    ]
    if recurrence_id is not None:
        lines.append(_time_value("RECURRENCE-ID", recurrence_id, zone))
    lines += [_time_value("DTSTART", start, zone), _time_value("DTEND", end, zone), *rules]
    lines.append(f"SUMMARY:{escape_text(event.get('subject') or '')}")
    body = event.get("body") or {}
    content = (body.get("content") or "").strip()
    if content:
        if (body.get("contentType") or "text").lower() == "html":
            content = _plain(content)
        lines.append(f"DESCRIPTION:{escape_text(content)}")
    location = ((event.get("location") or {}).get("displayName") or "").strip()
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    organizer = _person("ORGANIZER", event.get("organizer") or {}, [])
    lines += [organizer] if organizer else []
    lines += [a for a in (_attendee(x) for x in event.get("attendees") or []) if a]
    categories = [escape_text(c) for c in event.get("categories") or [] if c]
    lines += [f"CATEGORIES:{','.join(categories)}"] if categories else []
    sensitivity = _SENSITIVITY.get(str(event.get("sensitivity")))
    lines += [f"CLASS:{sensitivity}"] if sensitivity else []
    lines += ["TRANSP:TRANSPARENT"] if event.get("showAs") == "free" else []
    lines += ["STATUS:CANCELLED"] if event.get("isCancelled") else []
    return [*lines, "END:VEVENT"]


def _plain(html: str) -> str:
    """HTML body as text, crudely; the runner asks Graph for text bodies (Prefer:
    outlook.body-content-type="text"), so this only guards a server that ignores it."""
    import re
    from html import unescape

    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return unescape(re.sub(r"<[^>]+>", "", text)).strip()


def calendar_text(events: list[list[str]], zones: Iterable[str], year: int) -> str:
    """A VCALENDAR of VEVENT line lists, with a VTIMEZONE for every zone but UTC."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}"]
    for zone in sorted(set(zones) - {"UTC"}):
        # From the year before: an event early in its first year precedes that year's onset.
        lines += vtimezone(zone, year - 1)
    for event in events:
        lines += event
    lines.append("END:VCALENDAR")
    return "\r\n".join(ical.fold(line) for line in lines) + "\r\n"


def single_object(event: Mapping[str, Any]) -> str:
    """A ``singleInstance`` event (or an instance whose master is unknown) as one VCALENDAR."""
    zone = iana_name(event.get("originalStartTimeZone")) or "UTC"
    start, _ = _start_end(event, zone)
    uid = event.get("iCalUId") or event["id"]
    return calendar_text([vevent(event, uid, zone)], [zone], start.year)


def series_zone(master: Mapping[str, Any]) -> str:
    recurrence = master.get("recurrence") or {}
    named = (recurrence.get("range") or {}).get("recurrenceTimeZone")
    return iana_name(named) or iana_name(master.get("originalStartTimeZone")) or "UTC"


def expected_slots(
    master_text: str, query_start: datetime, query_end: datetime
) -> dict[datetime | date, datetime | date]:
    """The slots (UTC instant, or date) the master's rule yields overlapping the range, by
    their comparable key, from the master alone."""
    import recurring_ical_events
    from icalendar import Calendar

    found = recurring_ical_events.of(Calendar.from_ical(master_text)).between(
        query_start, query_end
    )
    slots: dict[datetime | date, datetime | date] = {}
    for occurrence in found:
        value = occurrence["DTSTART"].dt
        slots[_key(value)] = value
    return slots


def _key(value: datetime | date) -> datetime | date:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _original(instance: Mapping[str, Any], all_day: bool) -> datetime | date:
    """The slot an instance fills: its ``originalStart`` (UTC), else its start."""
    raw = instance.get("originalStart")
    when = utc_instant(raw) if raw else instant(instance["start"]).astimezone(UTC)
    if all_day:
        return (parse_local(raw) if raw else parse_local(instance["start"]["dateTime"])).date()
    return when


def series_object(
    master: Mapping[str, Any],
    instances: list[Mapping[str, Any]],
    query_start: datetime,
    query_end: datetime,
) -> str:
    """A series as one VCALENDAR: the master with its rule, RDATE/EXDATE so that its slots in
    [query_start, query_end) are exactly the instances Graph returned, and an override per
    ``exception`` (or per instance in a slot the rule does not yield)."""
    zone = series_zone(master)
    all_day = bool(master.get("isAllDay"))
    uid = master.get("iCalUId") or master["id"]
    rule = pattern_rrule(master.get("recurrence") or {}, all_day, zone)
    start, _ = _start_end(master, zone)
    bare = calendar_text([vevent(master, uid, zone, rules=[f"RRULE:{rule}"])], [zone], start.year)
    expected = expected_slots(bare, query_start, query_end)
    given = {_key(_original(i, all_day)): i for i in instances}
    rules = [f"RRULE:{rule}"]
    extra = sorted((k for k in given if k not in expected), key=_sortable)
    rules += [_time_value("RDATE", key, zone) for key in extra]
    missing = sorted((k for k in expected if k not in given), key=_sortable)
    rules += [_time_value("EXDATE", expected[key], zone) for key in missing]
    events = [vevent(master, uid, zone, rules=rules)]
    for key in sorted(given, key=_sortable):
        instance = given[key]
        if instance.get("type") == "exception" or key in extra:
            events.append(vevent(instance, uid, zone, recurrence_id=key))
    return calendar_text(events, [zone], start.year)


def _sortable(value: datetime | date) -> str:
    return value.isoformat()


# --- archive copy -> Graph event -----------------------------------------------------------


def _graph_time(value: datetime | date, default_zone: str) -> dict[str, str]:
    """A ``dateTimeTimeZone``: a zoned time in its own zone (Windows name when known), UTC as
    UTC, a floating time or a date in the run's zone (Graph has no floating times)."""
    if not isinstance(value, datetime):
        return {"dateTime": f"{value:%Y-%m-%d}T00:00:00", "timeZone": windows_name(default_zone)}
    if value.tzinfo is None:
        return {"dateTime": f"{value:%Y-%m-%dT%H:%M:%S}", "timeZone": windows_name(default_zone)}
    key = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
    if not key or iana_name(str(key)) in (None, "UTC"):  # a zone Graph may not know: UTC
        return {"dateTime": f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S}", "timeZone": "UTC"}
    return {"dateTime": f"{value:%Y-%m-%dT%H:%M:%S}", "timeZone": windows_name(str(key))}


def _people(event: Any) -> str:
    """The organizer and attendees as body text: never as Graph ``attendees``, which would
    send each of them an invitation."""
    lines = []
    for prop in ("ORGANIZER", "ATTENDEE"):
        found = event.get(prop)
        for person in found if isinstance(found, list) else [found] if found else []:
            address = str(person).removeprefix("mailto:").removeprefix("MAILTO:")
            name = person.params.get("CN") if hasattr(person, "params") else None
            state = person.params.get("PARTSTAT") if hasattr(person, "params") else None
            label = "Organizer" if prop == "ORGANIZER" else "Attendee"
            shown = f"{name} <{address}>" if name else address
            lines.append(f"{label}: {shown}{f' ({state.lower()})' if state else ''}")
    return "\n".join(lines)


def graph_event(text: str, name: str, source_hash: str, default_zone: str) -> dict[str, Any]:
    """The Graph event that holds the archive copy ``text`` (one VEVENT: occurrences mode) under
    ``name``: what a reader of the archive calendar sees, plus the copy itself, verbatim, in an
    extended property (what the runner reads back). No attendees (invitations), no reminder."""
    from icalendar import Calendar

    events = Calendar.from_ical(text).walk("VEVENT")
    if len(events) != 1:
        raise ValueError(f"{name}: a Graph archive holds single events, not {len(events)}")
    event = events[0]
    start = event["DTSTART"].dt
    if "DTEND" in event:
        end = event["DTEND"].dt
    elif "DURATION" in event:
        end = start + event["DURATION"].dt
    else:
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    body = "\n\n".join(
        part for part in (str(event.get("DESCRIPTION", "")).strip(), _people(event)) if part
    )
    categories = event.get("CATEGORIES")
    names: list[str] = []
    for group in categories if isinstance(categories, list) else [categories] if categories else []:
        names += [str(c) for c in getattr(group, "cats", [group])]
    return {
        "subject": str(event.get("SUMMARY", "")),
        "body": {"contentType": "text", "content": body},
        "start": _graph_time(start, default_zone),
        "end": _graph_time(end, default_zone),
        "isAllDay": not isinstance(start, datetime),
        "location": {"displayName": str(event.get("LOCATION", ""))},
        "categories": names,
        "showAs": "free" if str(event.get("TRANSP", "")).upper() == "TRANSPARENT" else "busy",
        "sensitivity": "private" if str(event.get("CLASS", "")).upper() == "PRIVATE" else "normal",
        "isReminderOn": False,
        "responseRequested": False,
        "singleValueExtendedProperties": [
            {"id": PROP_NAME, "value": name},
            {"id": PROP_HASH, "value": source_hash},
            {"id": PROP_ICAL, "value": text},
        ],
    }


def copy_of(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(name, text) of an archive copy held by a Graph event, from its extended properties;
    None for an event that is not one of the archive's."""
    found = {
        str(p.get("id", "")).lower(): p.get("value")
        for p in event.get("singleValueExtendedProperties") or []
    }
    name = found.get(PROP_NAME.lower())
    if not name:
        return None
    return str(name), str(found.get(PROP_ICAL.lower()) or "")
