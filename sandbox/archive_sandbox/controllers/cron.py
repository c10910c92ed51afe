"""Cron schedules as the Kubernetes CronJob controller reads them (robfig/cron v3, ParseStandard).

Pure functions. `parse(spec, zone)` accepts what `cron.ParseStandard` accepts: five fields
(minute hour day-of-month month day-of-week, with names, ranges, steps, `*` and `?`), the
descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and `@every <duration>`,
and an optional `TZ=`/`CRON_TZ=` prefix. `Schedule.next(t)` walks wall-clock fields in the
schedule's zone exactly as robfig does, so daylight-saving transitions behave as in a cluster:
a time inside a spring-forward gap is skipped that day, a time inside a fall-back overlap fires
twice, and a day whose midnight does not exist is handled by robfig's hour correction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (minimum, maximum, names) per field, in the order of the five-field spec.
_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class CronError(ValueError):
    """An unparseable schedule; the message reads like robfig/cron's."""


@dataclass(frozen=True)
class Field:
    values: frozenset[int]
    star: bool  # written as * or ? (robfig's starBit): matters for the day-of-month/week rule


@dataclass(frozen=True)
class Schedule:
    minute: Field
    hour: Field
    dom: Field
    month: Field
    dow: Field
    zone: ZoneInfo | None  # None: UTC (the controller manager's local time in a cluster)
    every: timedelta | None = None  # "@every <duration>" schedules

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after `after` (None if none within five years)."""
        if self.every is not None:
            return after.replace(microsecond=0) + self.every
        return _next(self, after)


def load_zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None


def parse(spec: str, zone: str | None = None) -> Schedule:
    """Parse like cron.ParseStandard; `zone` plays the part of the CronJob's spec.timeZone."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    loc = load_zone(zone) if zone else None
    if text.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, text = text.partition(" ")
        name = prefix.split("=", 1)[1]
        try:
            loc = load_zone(name)
        except CronError:
            raise CronError(f"provided bad location {name}: unknown time zone {name}") from None
        text = text.strip()
    if text.startswith("@"):
        if text.startswith("@every "):
            every = _go_duration(text[len("@every ") :].strip())
            star = Field(frozenset(), True)
            return Schedule(star, star, star, star, star, loc, every=every)
        if text not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = DESCRIPTORS[text]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(parts)}: {parts}")
    fields = [_parse_field(part, *bounds) for part, bounds in zip(parts, _FIELDS, strict=True)]
    return Schedule(*fields, zone=loc)


def _parse_field(text: str, lo: int, hi: int, names: dict[str, int]) -> Field:
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        got, is_star = _parse_range(expr, lo, hi, names)
        values |= got
        star = star or is_star
    return Field(frozenset(values), star)


def _parse_range(expr: str, lo: int, hi: int, names: dict[str, int]) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _parse_value(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _parse_value(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = hi
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _parse_value(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    return _parse_int(text)


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise CronError(f"failed to parse int from {text}")
    return int(text)


def _go_duration(text: str) -> timedelta:
    """Go's time.ParseDuration for @every, rounded as robfig's Every does (whole seconds, >= 1s)."""
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)", text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise CronError(f'failed to parse duration {text}: time: invalid duration "{text}"')
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return timedelta(seconds=max(1, int(seconds)))


# --- robfig's SpecSchedule.Next, on Go's time semantics ------------------------------------


def _go_date(y: int, mo: int, d: int, h: int, mi: int, s: int, zone: ZoneInfo) -> datetime:
    """Go's time.Date: normalises overflowing fields and resolves gaps/overlaps as Go does."""
    y, mo = y + (mo - 1) // 12, (mo - 1) % 12 + 1
    day = date(y, mo, 1) + timedelta(days=d - 1)
    wall = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=h, minutes=mi, seconds=s
    )
    unix = wall.timestamp()
    offset = _offset_at(unix, zone)
    if offset:
        corrected = _offset_at(unix - offset, zone)
        if corrected != offset:  # unix - offset lies outside the zone period found first
            offset = corrected
        unix -= offset
    return datetime.fromtimestamp(unix, zone)


def _offset_at(unix: float, zone: ZoneInfo) -> float:
    offset = datetime.fromtimestamp(unix, zone).utcoffset()
    return offset.total_seconds() if offset else 0.0


def _add(t: datetime, seconds: float) -> datetime:
    return datetime.fromtimestamp(t.timestamp() + seconds, t.tzinfo)


def _truncate(t: datetime, seconds: int) -> datetime:
    stamp = t.timestamp()
    return datetime.fromtimestamp(stamp - stamp % seconds, t.tzinfo)


def _day_matches(s: Schedule, t: datetime) -> bool:
    dom = t.day in s.dom.values
    dow = (t.weekday() + 1) % 7 in s.dow.values  # Go: Sunday is 0
    if s.dom.star or s.dow.star:
        return dom and dow
    return dom or dow


def _next(s: Schedule, after: datetime) -> datetime | None:
    zone = s.zone or ZoneInfo("UTC")
    t = _add(_truncate(after.astimezone(zone), 1), 1)
    added = False
    year_limit = t.year + 5
    while t.year <= year_limit:
        while t.month not in s.month.values:
            if not added:
                added = True
                t = _go_date(t.year, t.month, 1, 0, 0, 0, zone)
            t = _go_date(t.year, t.month + 1, t.day, t.hour, t.minute, t.second, zone)
            if t.month == 1:
                break
        else:
            while not _day_matches(s, t):
                if not added:
                    added = True
                    t = _go_date(t.year, t.month, t.day, 0, 0, 0, zone)
                t = _go_date(t.year, t.month, t.day + 1, t.hour, t.minute, t.second, zone)
                if t.hour != 0:  # midnight did not exist (DST): robfig moves to the nearest hour
                    t = _add(t, (24 - t.hour) * 3600 if t.hour > 12 else -t.hour * 3600)
                if t.day == 1:
                    break
            else:
                while t.hour not in s.hour.values:
                    if not added:
                        added = True
                        t = _go_date(t.year, t.month, t.day, t.hour, 0, 0, zone)
                    t = _add(t, 3600)
                    if t.hour == 0:
                        break
                else:
                    while t.minute not in s.minute.values:
                        if not added:
                            added = True
                            t = _truncate(t, 60)
                        t = _add(t, 60)
                        if t.minute == 0:
                            break
                    else:
                        if t.second != 0:  # the seconds field is always 0 in standard specs
                            added = True
                            t = _add(_truncate(t, 60), 60)
                            continue
                        return t.astimezone(after.tzinfo or UTC)
    return None
