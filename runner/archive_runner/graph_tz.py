"""Time zones between Microsoft Graph and iCalendar (pure).

Graph names zones the Windows way ("Pacific Standard Time") in ``originalStartTimeZone`` and
``recurrence.range.recurrenceTimeZone`` (sometimes an IANA name, "UTC" or "tzone://Microsoft/…").
:data:`WINDOWS_TO_IANA` maps the common Windows names to the IANA zone of CLDR's windowsZones.xml
(territory "001", the zone CLDR gives for the whole world); a name missing from it is read as UTC
by the callers, which keeps every instant right but loses the wall-clock rule a series repeats
in across a DST change (documented in docs/runner.md).

A copy that names a zone with TZID carries a VTIMEZONE for it (RFC 5545 3.6.5; servers and
clients need it): :func:`vtimezone` derives one from the IANA rules of the copy's year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# CLDR windowsZones (common/supplemental/windowsZones.xml), territory 001.
WINDOWS_TO_IANA = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Aleutian Standard Time": "America/Adak",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Yukon Standard Time": "America/Whitehorse",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York",
    "Haiti Standard Time": "America/Port-au-Prince",
    "Cuba Standard Time": "America/Havana",
    "US Eastern Standard Time": "America/Indiana/Indianapolis",
    "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax",
    "Venezuela Standard Time": "America/Caracas",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "SA Eastern Standard Time": "America/Cayenne",
    "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "Greenland Standard Time": "America/Nuuk",
    "Montevideo Standard Time": "America/Montevideo",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Morocco Standard Time": "Africa/Casablanca",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kiev",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Sudan Standard Time": "Africa/Juba",
    "Kaliningrad Standard Time": "Europe/Kaliningrad",
    "Sudan Standard Time": "Africa/Khartoum",
    "Libya Standard Time": "Africa/Tripoli",
    "Namibia Standard Time": "Africa/Windhoek",
    "Arabic Standard Time": "Asia/Baghdad",
    "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh",
    "Belarus Standard Time": "Europe/Minsk",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Azerbaijan Standard Time": "Asia/Baku",
    "Russia Time Zone 3": "Europe/Samara",
    "Mauritius Standard Time": "Indian/Mauritius",
    "Georgian Standard Time": "Asia/Tbilisi",
    "Caucasus Standard Time": "Asia/Yerevan",
    "Afghanistan Standard Time": "Asia/Kabul",
    "West Asia Standard Time": "Asia/Tashkent",
    "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Kolkata",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Kathmandu",
    "Central Asia Standard Time": "Asia/Almaty",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Omsk Standard Time": "Asia/Omsk",
    "Myanmar Standard Time": "Asia/Yangon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "N. Central Asia Standard Time": "Asia/Novosibirsk",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "China Standard Time": "Asia/Shanghai",
    "North Asia East Standard Time": "Asia/Irkutsk",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Yakutsk Standard Time": "Asia/Yakutsk",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "Magadan Standard Time": "Asia/Magadan",
    "Russia Time Zone 10": "Asia/Srednekolymsk",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "Russia Time Zone 11": "Asia/Kamchatka",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}
# IANA -> Windows, for writing to Graph; the first Windows name of a zone wins.
IANA_TO_WINDOWS = {iana: win for win, iana in reversed(WINDOWS_TO_IANA.items())}
IANA_TO_WINDOWS.update({"Etc/UTC": "UTC", "Etc/GMT": "UTC", "Europe/Kyiv": "FLE Standard Time"})
_UTC_NAMES = {"utc", "etc/utc", "etc/gmt", "gmt", "z", "tzone://microsoft/utc"}


def iana_name(name: str | None) -> str | None:
    """The IANA name of a zone Graph names (Windows or IANA); None when unknown (a custom zone,
    "tzone://Microsoft/Custom", or a name this table lacks)."""
    if not name:
        return None
    name = name.strip()
    if name.lower() in _UTC_NAMES:
        return "UTC"
    if name in WINDOWS_TO_IANA:
        return WINDOWS_TO_IANA[name]
    if "/" in name and not name.startswith(("/", "tzone:")) and ".." not in name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return name
    return None


def windows_name(iana: str) -> str:
    """The zone name written to Graph: the Windows name when known, else the IANA name (Graph
    accepts many IANA names too)."""
    return IANA_TO_WINDOWS.get(iana, iana)


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def transitions(zone: tzinfo, year: int) -> list[datetime]:
    """The UTC instants in ``year`` at which ``zone``'s offset changes (to the minute)."""
    found = []
    day = datetime(year, 1, 1, 12, tzinfo=UTC)
    while day.year == year:
        after = day + timedelta(days=1)
        if _offset(zone, day) != _offset(zone, after):
            low, high = day, after  # bisect to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if _offset(zone, middle) == _offset(zone, low):
                    low = middle
                else:
                    high = middle
            found.append(high)
        day = after
    return found


def _hhmm(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _onset(zone: tzinfo, change: datetime) -> datetime:
    """A transition's onset in the wall clock before it (naive), as VTIMEZONE DTSTART is."""
    return (change + _offset(zone, change - timedelta(minutes=1))).replace(tzinfo=None)


def _rule(local: datetime) -> str:
    """The yearly rule a transition on ``local`` (its wall clock) follows: the n-th, or last,
    weekday of its month, as tz rules are written."""
    last = (local + timedelta(days=7)).month != local.month
    nth = -1 if last else (local.day - 1) // 7 + 1
    return f"FREQ=YEARLY;BYMONTH={local.month};BYDAY={nth}{_DAYS[local.weekday()]}"


def vtimezone(name: str, year: int) -> list[str]:
    """A VTIMEZONE for the IANA zone ``name`` valid from ``year`` on, as content lines: one
    observance per transition of ``year``, with a yearly RRULE when the next year's transition
    follows the same rule (true of today's DST rules), or none for a zone without DST."""
    zone = ZoneInfo(name)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]
    changes = transitions(zone, year)
    following = {_rule(_onset(zone, t)) for t in transitions(zone, year + 1)}
    if not changes:
        offset = _offset(zone, datetime(year, 1, 1, tzinfo=UTC))
        standard = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
        lines += [
            "BEGIN:STANDARD",
            f"DTSTART:{year:04d}0101T000000",
            f"TZOFFSETFROM:{_hhmm(offset)}",
            f"TZOFFSETTO:{_hhmm(offset)}",
            f"TZNAME:{standard.tzname()}",
            "END:STANDARD",
        ]
    for change in changes:
        before, after = _offset(zone, change - timedelta(minutes=1)), _offset(zone, change)
        local = _onset(zone, change)
        kind = "DAYLIGHT" if change.astimezone(zone).dst() else "STANDARD"
        rule = _rule(local)
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{local:%Y%m%dT%H%M%S}",
            *([f"RRULE:{rule}"] if rule in following else []),
            f"TZOFFSETFROM:{_hhmm(before)}",
            f"TZOFFSETTO:{_hhmm(after)}",
            f"TZNAME:{change.astimezone(zone).tzname()}",
            f"END:{kind}",
        ]
    return [*lines, "END:VTIMEZONE"]
