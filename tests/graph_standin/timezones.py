"""Time-zone names and Graph's dateTimeTimeZone values (pure).

Graph accepts Windows zone names ("GMT Standard Time") and IANA names ("Europe/London") in
dateTimeTimeZone.timeZone and in `Prefer: outlook.timezone="..."`. It writes dateTime as a local
wall-clock time with seven fractional digits and no offset: "2016-12-09T20:30:00.0000000".
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC

# The subset of the Windows -> IANA ("territory 001") mapping of the Unicode CLDR windowsZones table
# that the stand-in knows. Graph knows all of them; see README.md.
WINDOWS_TO_IANA: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Russian Standard Time": "Europe/Moscow",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Calcutta",
    "Tokyo Standard Time": "Asia/Tokyo",
    "China Standard Time": "Asia/Shanghai",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
_WINDOWS_LOWER = {k.lower(): v for k, v in WINDOWS_TO_IANA.items()}

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


class UnknownTimeZone(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    """The zone for a Windows or IANA name; UnknownTimeZone if neither."""
    key = name.strip()
    iana = _WINDOWS_LOWER.get(key.lower(), key)
    if not iana or iana.startswith(("/", ".")) or ".." in iana:
        raise UnknownTimeZone(name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(name) from exc


def parse_datetime(text: str) -> tuple[dt.datetime, bool]:
    """A naive or aware datetime from ISO 8601 text; the flag says whether an offset was given."""
    m = _DATETIME.match(text.strip())
    if not m:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    y, mo, d, h, mi, s, frac, off = m.groups()
    micro = int((frac or "0").ljust(7, "0")[:6])
    value = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
    if off is None:
        return value, False
    if off == "Z":
        return value.replace(tzinfo=UTC), True
    sign = 1 if off[0] == "+" else -1
    digits = off[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.replace(tzinfo=dt.timezone(sign * delta)), True


def parse_query_instant(text: str) -> dt.datetime:
    """startDateTime/endDateTime of calendarView: its offset if any, else UTC (as documented)."""
    value, aware = parse_datetime(text)
    return value.astimezone(UTC) if aware else value.replace(tzinfo=UTC)


def dtz_to_utc(value: dict[str, object]) -> dt.datetime:
    """A dateTimeTimeZone {dateTime, timeZone} as an aware UTC datetime."""
    text = str(value.get("dateTime", ""))
    local, aware = parse_datetime(text)
    if aware:
        return local.astimezone(UTC)
    tz = zone(str(value.get("timeZone") or "UTC"))
    return local.replace(tzinfo=tz).astimezone(UTC)


def dtz_local(value: dict[str, object]) -> tuple[dt.datetime, ZoneInfo]:
    """The naive wall-clock time and the zone of a dateTimeTimeZone."""
    tz = zone(str(value.get("timeZone") or "UTC"))
    local, aware = parse_datetime(str(value.get("dateTime", "")))
    if aware:
        local = local.astimezone(tz).replace(tzinfo=None)
    return local, tz


def format_local(value: dt.datetime) -> str:
    """Graph's dateTime text: wall clock, seven fractional digits, no offset."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def utc_to_dtz(instant: dt.datetime, zone_name: str | None) -> dict[str, str]:
    """An instant as Graph returns it: in the preferred zone (named as asked), else in UTC."""
    name = zone_name or "UTC"
    local = instant.astimezone(zone(name)).replace(tzinfo=None)
    return {"dateTime": format_local(local), "timeZone": name}


def format_offset_utc(instant: dt.datetime) -> str:
    """A DateTimeOffset property (originalStart, lastModifiedDateTime...) in UTC with Z."""
    value = instant.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_prefer(header_values: list[str]) -> dict[str, str]:
    """Preferences from one or more Prefer headers: {'outlook.timezone': 'X', ...}."""
    out: dict[str, str] = {}
    for header in header_values:
        for part in re.findall(r'(?:[^,"]|"[^"]*")+', header):
            name, _, value = part.strip().partition("=")
            if name:
                out[name.strip().lower()] = value.strip().strip('"')
    return out
