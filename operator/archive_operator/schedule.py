"""Cron expressions the way Kubernetes reads them, and the schedule entries that produce them.

Kubernetes validates ``CronJob.spec.schedule`` with robfig/cron v3's standard parser
(``cron.ParseStandard``) and computes run times with that library's ``Schedule.Next`` in the
location named by ``spec.timeZone``. This module reimplements exactly that, so the operator
rejects what the API server would reject (before trying to create a CronJob) and reports the
same next run times the CronJob controller will use, including its behaviour at DST changes:
a time inside a spring-forward gap is skipped that day, and a time inside a fall-back overlap
can fire in both occurrences (in whichever order Go's time arithmetic visits them).

Everything here is pure: the current time is always a parameter.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_DAY_NAMES = {
    name: number for number, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
}
WEEKDAY_NUMBERS: dict[str, int] = dict(_DAY_NAMES)

# Go's strconv.Atoi: an optional sign and ASCII digits.
_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class CronError(ValueError):
    """A cron expression Kubernetes would reject; the message says why, as Kubernetes does."""


@dataclass(frozen=True)
class _Field:
    label: str
    low: int
    high: int
    names: dict[str, int] | None


_FIELDS = (
    _Field("minute", 0, 59, None),
    _Field("hour", 0, 23, None),
    _Field("day of month", 1, 31, None),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day of week", 0, 6, _DAY_NAMES),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed five-field schedule: the allowed values of each field."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    # robfig/cron: when either day field is "*" or "?" (without a step > 1) both must match,
    # otherwise either may match (classic cron semantics).
    dom_star: bool
    dow_star: bool

    def day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days_of_month
        dow = (moment.isoweekday() % 7) in self.days_of_week
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow


def _parse_int(text: str) -> int:
    if not _GO_INT.match(text):
        raise CronError(f"failed to parse int from {text}")
    number = int(text)
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {text}")
    return number


def _parse_value(text: str, field: _Field) -> int:
    if field.names is not None and text.lower() in field.names:
        return field.names[text.lower()]
    return _parse_int(text)


def _parse_range(expr: str, field: _Field) -> tuple[set[int], bool]:
    """One comma-separated part of a field, as robfig/cron's getRange reads it."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = field.low, field.high, True
    else:
        start = _parse_value(low_and_high[0], field)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_value(low_and_high[1], field)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:  # "5/15" means "from 5 to the end, every 15"
            end = field.high
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < field.low:
        raise CronError(f"beginning of range ({start}) below minimum ({field.low}): {expr}")
    if end > field.high:
        raise CronError(f"end of range ({end}) above maximum ({field.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _parse_field(text: str, field: _Field) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        part_values, part_star = _parse_range(part, field)
        values |= part_values
        star = star or part_star
    return frozenset(values), star


def parse_cron(expression: str) -> CronSchedule:
    """Parse like Kubernetes' CronJob validation; raise CronError with its reason otherwise.

    Accepts five fields (ranges, steps, lists, ``*``, ``?``, JAN-DEC, SUN-SAT) and the
    macros @yearly @annually @monthly @weekly @daily @midnight @hourly. Rejects ``TZ=`` and
    ``CRON_TZ=`` (Kubernetes wants spec.timeZone instead) and ``@every`` (this API only
    offers calendar schedules).
    """
    if not expression:
        raise CronError("empty spec string")
    if "TZ" in expression:
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    spec = expression
    if spec.startswith("@"):
        if spec not in MACROS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = MACROS[spec]
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {expression}")
    parsed = [_parse_field(text, field) for text, field in zip(fields, _FIELDS, strict=True)]
    return CronSchedule(
        expression=expression,
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days_of_month=parsed[2][0],
        months=parsed[3][0],
        days_of_week=parsed[4][0],
        dom_star=parsed[2][1],
        dow_star=parsed[4][1],
    )


# The longest each month gets, leap years included (February 29).
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def fires(schedule: CronSchedule) -> bool:
    """Whether the schedule fires at all: some day matches it at least once in every four
    years (February 29 comes in leap years). Kubernetes accepts "0 0 30 2 *" and
    "0 0 31 4,6 *", which never fire (its CronJob then never makes a Job).

    Minutes, hours and months are never empty, so only the day can be missing. When both day
    fields are restricted a day matches if either does, and every month has every weekday, so
    such a schedule fires; likewise when only the weekdays are restricted (the day of the month
    is then "*"). Left: a restricted day of the month with any weekday ("*" or "?"), which
    fires only if one of its days exists in one of its months.
    """
    if not schedule.dow_star or schedule.dom_star:
        return True
    return any(
        day <= _LONGEST_MONTH[month - 1]
        for month in schedule.months
        for day in schedule.days_of_month
    )


def _listing(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def never_fires_explanation(schedule: CronSchedule) -> tuple[str, str]:
    """(what is wrong, the fix) for a schedule that does not fire(), in words for a user."""
    months = sorted(schedule.months)
    month_names = _listing([calendar.month_name[m] for m in months], "and")
    days = _listing([str(d) for d in sorted(schedule.days_of_month)], "or")
    # The last day every month named has in every year: February 28, else the 30th.
    fields = schedule.expression.split()
    same_day = " ".join([*fields[:2], "28" if 2 in months else "30", *fields[3:]])
    mondays = " ".join([*fields[:2], "*", fields[3], "1"])
    problem = (
        f"never fires: {month_names} {'has' if len(months) == 1 else 'have'} no day {days} "
        "(February has at most 29 days; April, June, September and November 30)"
    )
    fix = (
        f'use a day of the month every month named has, e.g. "{same_day}", or days of the '
        f'week instead, e.g. "{mondays}" for Mondays'
    )
    return problem, fix


# Names a time-zone database ships that are not time zones: "Factory" (the tz database's
# placeholder for "not configured", abbreviated -00) and the files some systems add beside the
# zones ("localtime", "posixrules"). "Local" is Go's name for the host's zone, which Kubernetes
# refuses in a CronJob.
NOT_TIME_ZONES = frozenset({"Factory", "localtime", "posixrules", "Local"})


@cache
def iana_time_zones() -> frozenset[str]:
    """The zone names of the IANA tz database: what spec.timeZone may be.

    Read from the ``tzdata`` package when it is installed (the list the ArchiveSchedule CRD's
    rule is generated from, by scripts/crd_time_zones.py), else from the system's database,
    as ``zoneinfo.available_timezones()`` finds them; minus NOT_TIME_ZONES.
    """
    try:
        listing = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
        names = {line.strip() for line in listing.splitlines() if line.strip()}
    except (ImportError, FileNotFoundError):
        names = zoneinfo.available_timezones()
    return frozenset(names - NOT_TIME_ZONES)


def load_time_zone(name: str) -> ZoneInfo:
    """The zone spec.timeZone names; ValueError unless it is a zone of the IANA tz database
    (iana_time_zones(), the CRD's list) that this process can load."""
    if name not in iana_time_zones():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


# --- Go time arithmetic -------------------------------------------------------------------------
# robfig/cron walks wall-clock fields with Go's time.Date / AddDate / Add. Times are kept here as
# integer Unix seconds so that "add an hour" is absolute, as in Go, and wall fields are read in
# the zone on demand.


def _offset_at(unix: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(unix, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _go_date(year: int, month: int, day: int, hour: int, minute: int, zone: ZoneInfo) -> int:
    """Go's time.Date(year, month, day, hour, minute, 0, 0, zone) as Unix seconds.

    Out-of-range fields are normalised (day 32 → next month), and a wall time that does not
    exist or exists twice is resolved exactly as Go does: look up the offset in force at the
    wall time read as UTC, then correct it once if that instant falls outside that offset's
    period. (Python's fold=0 would choose differently in some zones.)
    """
    years, month_index = divmod(month - 1, 12)
    wall = datetime(year + years, month_index + 1, 1) + timedelta(
        days=day - 1, hours=hour, minutes=minute
    )
    unix = calendar.timegm(wall.timetuple())
    offset = _offset_at(unix, zone)
    if offset != 0:
        utc = unix - offset
        if _offset_at(utc, zone) != offset:
            offset = _offset_at(utc, zone)
        unix -= offset
    return unix


def _wall(unix: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(unix, zone)


def next_run(schedule: CronSchedule, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first run strictly after ``after``, as robfig/cron's SpecSchedule.Next computes it.

    Returns an aware datetime in ``zone``, or None if nothing matches within five years
    (e.g. "0 0 30 2 *").
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    t = int(after.timestamp()) + 1  # the upcoming whole second
    added = False
    year_limit = _wall(t, zone).year + 5

    while True:  # WRAP
        w = _wall(t, zone)
        if w.year > year_limit:
            return None
        wrapped = False
        while w.month not in schedule.months:
            if not added:
                added = True
                t = _go_date(w.year, w.month, 1, 0, 0, zone)
                w = _wall(t, zone)
            t = _go_date(w.year, w.month + 1, w.day, w.hour, w.minute, zone)
            w = _wall(t, zone)
            if w.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not schedule.day_matches(w):
            if not added:
                added = True
                t = _go_date(w.year, w.month, w.day, 0, 0, zone)
                w = _wall(t, zone)
            t = _go_date(w.year, w.month, w.day + 1, w.hour, w.minute, zone)
            w = _wall(t, zone)
            # A DST change can move "midnight": snap back to the start of the day.
            if w.hour != 0:
                t += (24 - w.hour) * 3600 if w.hour > 12 else -w.hour * 3600
                w = _wall(t, zone)
            if w.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while w.hour not in schedule.hours:
            if not added:
                added = True
                t = _go_date(w.year, w.month, w.day, w.hour, 0, zone)
            t += 3600
            w = _wall(t, zone)
            if w.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while w.minute not in schedule.minutes:
            if not added:
                added = True
                t -= t % 60
            t += 60
            w = _wall(t, zone)
            if w.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        if t % 60 != 0:  # the seconds field is always 0
            added = True
            t += 60 - t % 60
            continue
        return w


def next_runs(
    schedule: CronSchedule, after: datetime, zone: ZoneInfo, count: int
) -> list[datetime]:
    """The next ``count`` runs after ``after`` (fewer if the schedule ends)."""
    runs: list[datetime] = []
    current = after
    while len(runs) < count:
        found = next_run(schedule, current, zone)
        if found is None:
            break
        runs.append(found)
        current = found
    return runs


# --- Schedule entries ---------------------------------------------------------------------------


def parse_hhmm(at: str) -> tuple[int, int]:
    match = _HHMM.match(at)
    if not match:
        raise ValueError(f"{at!r} is not a 24-hour time HH:MM")
    return int(match.group(1)), int(match.group(2))


def jitter_minutes(namespace: str, schedule: str, user: str, entry: str, bound: int) -> int:
    """A stable per-user offset in 0..bound minutes.

    SHA-256 of "namespace/schedule/user/entry": the same in every process and on every
    reconcile (Python's hash() is salted per process, so it is not used).
    """
    if bound <= 0:
        return 0
    digest = hashlib.sha256(f"{namespace}/{schedule}/{user}/{entry}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (bound + 1)


@dataclass(frozen=True)
class EntryCron:
    """The cron expression an entry becomes, and how far jitter moved it past midnight."""

    cron: str
    # 1 when jitter pushed a daily/weekly run into the next day: the CronJob fires on the next
    # day, so the run's window starts one day earlier to archive the day that was meant.
    day_shift: int = 0


def daily_cron(at: str, jitter: int = 0) -> EntryCron:
    hour, minute = parse_hhmm(at)
    total = hour * 60 + minute + jitter
    shift, total = divmod(total, 24 * 60)
    return EntryCron(f"{total % 60} {total // 60} * * *", shift)


def weekly_cron(days: list[str], at: str, jitter: int = 0) -> EntryCron:
    hour, minute = parse_hhmm(at)
    total = hour * 60 + minute + jitter
    shift, total = divmod(total, 24 * 60)
    numbers = sorted({(WEEKDAY_NUMBERS[day] + shift) % 7 for day in days})
    return EntryCron(f"{total % 60} {total // 60} * * {','.join(map(str, numbers))}", shift)


def utc_now() -> datetime:
    """The real clock, for the impure edges only (handlers pass it into pure code)."""
    return datetime.now(UTC)
