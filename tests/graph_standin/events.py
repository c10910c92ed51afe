"""Event records: creation defaults, PATCH, series expansion and rendering (pure but for ids/clock).

Shapes follow the "event resource type" page of the Graph v1.0 reference and the example
responses of "List calendarView" and "Get incremental changes to events in a calendar view".
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import html
import re
import secrets
from typing import Any

from . import recurrence as rec
from . import timezones as tz

Event = dict[str, Any]

READ_ONLY = {
    "id",
    "@odata.etag",
    "@odata.context",
    "changeKey",
    "iCalUId",
    "type",
    "seriesMasterId",
    "originalStart",
    "createdDateTime",
    "lastModifiedDateTime",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "webLink",
    "isOrganizer",
    "hasAttachments",
    "bodyPreview",
}
ICAL_PREFIX = "040000008200E00074C5B7101A82E008"  # the Outlook GlobalObjectId class id


class InvalidEvent(ValueError):
    pass


def new_id(prefix: str = "AAMkAD") -> str:
    raw = base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()
    return prefix + raw.rstrip("=") + "AAA="


def occurrence_id(master_id: str, original_start: dt.datetime) -> str:
    digest = hashlib.sha256(f"{master_id}|{original_start.isoformat()}".encode()).digest()
    return "AAMkADocc" + base64.urlsafe_b64encode(digest[:27]).decode() + "AAA="


def new_change_key() -> str:
    return base64.b64encode(secrets.token_bytes(18)).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def touch(event: Event) -> None:
    """A new version: new changeKey and etag, lastModifiedDateTime now."""
    key = new_change_key()
    event["changeKey"] = key
    event["@odata.etag"] = f'W/"{key}"'
    event["lastModifiedDateTime"] = tz.format_offset_utc(_now())


def _check_times(event: Event) -> None:
    for name in ("start", "end"):
        value = event.get(name)
        if not isinstance(value, dict) or not value.get("dateTime"):
            raise InvalidEvent(f"The property '{name}' is required.")
        try:
            tz.dtz_to_utc(value)
        except tz.UnknownTimeZone as exc:
            raise InvalidEvent(
                "A valid TimeZone value must be specified. The following TimeZone value is "
                f"not supported: '{value.get('timeZone')}'."
            ) from exc
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from exc
    if tz.dtz_to_utc(event["end"]) < tz.dtz_to_utc(event["start"]):
        raise InvalidEvent("The end of the event is before its start.")


def create(body: Event, organizer: dict[str, str]) -> Event:
    """A stored event from a POSTed body (singleInstance, or seriesMaster with recurrence)."""
    event: Event = {
        "@odata.type": "#microsoft.graph.event",
        "subject": "",
        "body": {"contentType": "html", "content": ""},
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "responseRequested": True,
        "showAs": "busy",
        "categories": [],
        "attendees": [],
        "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
        "locations": [],
        "organizer": {"emailAddress": dict(organizer)},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "recurrence": None,
        "seriesMasterId": None,
        "hasAttachments": False,
        "isOnlineMeeting": False,
        "onlineMeeting": None,
        "transactionId": None,
    }
    event.update({k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY})
    _check_times(event)
    if event.get("recurrence"):
        try:
            rec.validate(event["recurrence"])
        except rec.InvalidRecurrence as exc:
            raise InvalidEvent(str(exc)) from exc
    now = tz.format_offset_utc(_now())
    event["id"] = new_id()
    event["type"] = "seriesMaster" if event.get("recurrence") else "singleInstance"
    event["iCalUId"] = ICAL_PREFIX + "00000000" + secrets.token_hex(28).upper()
    event["createdDateTime"] = now
    event["originalStartTimeZone"] = event["start"].get("timeZone", "UTC")
    event["originalEndTimeZone"] = event["end"].get("timeZone", "UTC")
    touch(event)
    return event


def merge_properties(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """singleValueExtendedProperties after a PATCH: added, or replaced by id."""
    from .odata import property_key

    merged = {property_key(str(p.get("id", ""))): dict(p) for p in old}
    for p in new:
        merged[property_key(str(p.get("id", "")))] = {"id": p.get("id"), "value": p.get("value")}
    return list(merged.values())


def patch(event: Event, body: Event) -> bool:
    """Apply a PATCH body; True when the series (recurrence or times of a master) changed."""
    changes = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}
    if "singleValueExtendedProperties" in changes:
        changes["singleValueExtendedProperties"] = merge_properties(
            event.get("singleValueExtendedProperties") or [],
            changes["singleValueExtendedProperties"] or [],
        )
    if event.get("type") in ("exception", "occurrence") and changes.get("recurrence"):
        raise InvalidEvent("An occurrence or exception cannot have a recurrence.")
    candidate = {**event, **changes}
    _check_times(candidate)
    if candidate.get("recurrence"):
        try:
            rec.validate(candidate["recurrence"])
        except rec.InvalidRecurrence as exc:
            raise InvalidEvent(str(exc)) from exc
    series_changed = event.get("type") == "seriesMaster" and any(
        k in changes and changes[k] != event.get(k) for k in ("recurrence", "start", "end")
    )
    event.update(changes)
    if event.get("type") in ("seriesMaster", "singleInstance"):
        event["type"] = "seriesMaster" if event.get("recurrence") else "singleInstance"
    touch(event)
    return series_changed


def span_utc(event: Event) -> tuple[dt.datetime, dt.datetime]:
    return tz.dtz_to_utc(event["start"]), tz.dtz_to_utc(event["end"])


def all_day_span(event: Event, zone_name: str | None) -> tuple[dt.datetime, dt.datetime]:
    """An all-day event floats: its dates' midnights in the zone the view is asked in."""
    zone = tz.zone(zone_name or "UTC")
    start, _ = tz.parse_datetime(str(event["start"]["dateTime"]))
    end, _ = tz.parse_datetime(str(event["end"]["dateTime"]))
    return (
        start.replace(tzinfo=zone).astimezone(dt.UTC),
        end.replace(tzinfo=zone).astimezone(dt.UTC),
    )


def occurrences(
    master: Event, window_end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, dt.datetime]]:
    """(originalStart, start, end) in UTC of every occurrence starting before window_end, in the
    recurrence time zone (else the start's zone), keeping the master's wall-clock times."""
    recurrence = master["recurrence"]
    local_start, zone = tz.dtz_local(master["start"])
    zone_name = (recurrence.get("range") or {}).get("recurrenceTimeZone")
    if zone_name:
        zone = tz.zone(zone_name)
        local_start = tz.dtz_to_utc(master["start"]).astimezone(zone).replace(tzinfo=None)
    local_end = tz.dtz_to_utc(master["end"]).astimezone(zone).replace(tzinfo=None)
    duration = local_end - local_start
    until = window_end.astimezone(zone).date() + dt.timedelta(days=1)
    out = []
    for day in rec.occurrence_dates(recurrence, until):
        wall = dt.datetime.combine(day, local_start.time())
        start = wall.replace(tzinfo=zone).astimezone(dt.UTC)
        end = (wall + duration).replace(tzinfo=zone).astimezone(dt.UTC)
        if start >= window_end:
            break
        out.append((start, start, end))
    return out


def occurrence_ical_uid(master_uid: str, original_start: dt.datetime) -> str:
    """Outlook's per-instance GlobalObjectId: the instance date in bytes 16-19."""
    d = original_start.date()
    return master_uid[:32] + f"{d.year:04X}{d.month:02X}{d.day:02X}" + master_uid[40:]


def make_occurrence(
    master: Event, original_start: dt.datetime, start: dt.datetime, end: dt.datetime
) -> Event:
    event = copy.deepcopy(master)
    zone = master["start"].get("timeZone", "UTC")
    event.update(
        {
            "id": occurrence_id(master["id"], original_start),
            "type": "occurrence",
            "seriesMasterId": master["id"],
            "originalStart": tz.format_offset_utc(original_start),
            "recurrence": None,
            "iCalUId": occurrence_ical_uid(master["iCalUId"], original_start),
            "start": tz.utc_to_dtz(start, zone),
            "end": tz.utc_to_dtz(end, master["end"].get("timeZone", zone)),
        }
    )
    return event


def _body(body: Any, wanted: str | None) -> Any:
    if not isinstance(body, dict):
        return body
    kind = str(body.get("contentType", "html")).lower()
    content = str(body.get("content", ""))
    if kind == "text" and wanted != "text":
        escaped = html.escape(content).replace("\n", "<br>\r\n")
        content = (
            '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; '
            'charset=utf-8">\r\n</head>\r\n<body>\r\n' + escaped + "\r\n</body>\r\n</html>\r\n"
        )
        return {"contentType": "html", "content": content}
    if kind == "html" and wanted == "text":
        text = re.sub(r"<br\s*/?>", "\n", content, flags=re.IGNORECASE)
        text = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        return {"contentType": "text", "content": text}
    return dict(body)


def render(
    event: Event,
    zone_name: str | None,
    *,
    body_type: str | None = None,
    expand: list[str] | None = None,
    with_properties: bool = False,
) -> Event:
    """An event as Graph returns it: start/end in the preferred zone (else UTC); extended
    properties only when expanded (or for the test-side view)."""
    from .odata import expanded_properties

    out = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
    props = out.pop("singleValueExtendedProperties", None)
    if event.get("isAllDay"):
        for name in ("start", "end"):
            local, _ = tz.parse_datetime(str(event[name]["dateTime"]))
            out[name] = {"dateTime": tz.format_local(local), "timeZone": zone_name or "UTC"}
    else:
        start, end = span_utc(event)
        out["start"], out["end"] = tz.utc_to_dtz(start, zone_name), tz.utc_to_dtz(end, zone_name)
    out["body"] = _body(event.get("body"), body_type)
    content = str((event.get("body") or {}).get("content", ""))
    out["bodyPreview"] = html.unescape(re.sub(r"<[^>]+>", "", content)).strip()[:255]
    if with_properties and props:
        out["singleValueExtendedProperties"] = copy.deepcopy(props)
    elif expand is not None:
        out["singleValueExtendedProperties"] = expanded_properties(event, expand)
    return out
