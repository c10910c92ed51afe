"""Client-side checks of flags, with the CRDs' rules, so bad input fails before any request.

Pure functions: each returns the normalised value or raises :class:`BadInput` with one line
naming the flag, the value, what is wrong and the fix.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

from archive_runner import contract

from .errors import BadInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RUN_DAYS = 366  # the ArchiveRun CRD: end - start < 8784h

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_USER_CHAR = re.compile(r"^[A-Za-z0-9._@+-]$")
_URL = re.compile(r"^https?://[^\s/@]+(/\S*)?$")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _bad(flag: str, value: object, problem: str, fix: str) -> BadInput:
    shown = str(value)
    if len(shown) > 60:  # one readable line, even for an oversized value
        shown = shown[:57] + "..."
    return BadInput(f'{flag} "{shown}": {problem}; {fix}')


def at_time(value: str, flag: str = "--at") -> str:
    if not _HHMM.match(value):
        raise _bad(flag, value, "not a 24-hour time HH:MM between 00:00 and 23:59", "e.g. 23:59")
    return value


def weekdays(value: str, flag: str = "--weekly") -> list[str]:
    """``mon,fri`` (or full names, any case) → ``["mon", "fri"]`` in week order."""
    days = set()
    for part in (p.strip().lower() for p in value.split(",")):
        short = part[:3]
        if short not in WEEKDAYS or (len(part) > 3 and not _full_day(part)):
            raise _bad(flag, value, f"{part or 'an empty item'} is not a day", "e.g. mon,fri")
        days.add(short)
    return [d for d in WEEKDAYS if d in days]


def _full_day(word: str) -> bool:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return word in names


def entry_name(value: str, flag: str = "--entry") -> str:
    if len(value) > 20 or not _DNS_LABEL.match(value):
        raise _bad(
            flag,
            value,
            "not a lowercase DNS label of at most 20 characters (a-z, 0-9, -)",
            "e.g. nightly",
        )
    return value


def schedule_name(value: str, flag: str = "NAME") -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise _bad(
            flag, value, "not a valid Kubernetes object name", "use lowercase a-z, 0-9, - and ."
        )
    return value


def user(value: str, flag: str = "--user") -> str:
    if len(value) > 128:
        raise _bad(
            flag, value, f"a user has at most 128 characters, not {len(value)}", "shorten it"
        )
    if not _USER.match(value):
        rule = (
            "a user starts with a letter or digit and has only ASCII letters (A-Z, a-z), "
            "digits and . _ @ + -"
        )
        if value and not _USER.match(value[0]):
            rule += f" ({value[0]!r} cannot start it)"
        elif bad := next((c for c in value if not _USER_CHAR.match(c)), None):
            rule += f" ({bad!r} is not one of them)"
        raise _bad(flag, value, rule, "e.g. alice or alice@example.com")
    return value


def name_for_user(value: str) -> str:
    """A default object name for a user: ``Al.Smith@example.com`` → ``al.smith-example.com``."""
    name = re.sub(r"[^a-z0-9.-]+", "-", value.lower()).strip("-.")
    name = re.sub(r"\.{2,}", ".", name)[:253].strip("-.")
    return schedule_name(name or "archive", "NAME (derived from --user)")


def cron(value: str, flag: str = "--cron") -> str:
    from archive_operator.schedule import CronError, fires, never_fires_explanation, parse_cron

    if "TZ" in value:
        raise _bad(flag, value, "TZ= and CRON_TZ= are not allowed", "set --time-zone instead")
    if value.startswith("@") and value not in _CRON_MACROS:
        raise _bad(flag, value, "unknown macro", "use one of " + ", ".join(_CRON_MACROS))
    if not value.startswith("@") and len(value.split()) != 5:
        raise _bad(
            flag, value, "needs five fields (minute hour day-of-month month day-of-week)",
            'e.g. "30 2 * * 1-5"',
        )  # fmt: skip
    try:
        schedule = parse_cron(value)
    except CronError as exc:
        raise _bad(flag, value, str(exc), 'e.g. "30 2 * * 1-5"') from exc
    if not fires(schedule):
        raise _bad(flag, value, *never_fires_explanation(schedule))
    return value


def time_zone(value: str, flag: str = "--time-zone") -> str:
    from archive_operator.schedule import load_time_zone

    try:
        load_time_zone(value)
    except ValueError as exc:
        raise _bad(flag, value, "not an IANA time zone", "e.g. Europe/London or UTC") from exc
    return value


def shown_url(value: str) -> str:
    """A URL as the plugin shows it: without user info, query or fragment (they may hold
    secrets)."""
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed [IPv6 address
        parts = None
    if parts is None or not parts.scheme or not parts.netloc:
        return value.partition("?")[0].partition("#")[0].rpartition("@")[2]
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


# Query parameters and path segments that usually carry a private feed's token.
_TOKEN_NAMES = re.compile(r"token|key|secret|auth|pass|sig|private|access|code", re.IGNORECASE)
_TOKEN_VALUE = re.compile(r"^(?=(?:\D*\d){6})[A-Za-z0-9_\-.~+/=]{20,}$")  # >= 6 digits


def token_in_url(value: str) -> str | None:
    """What of a URL looks like a token (a query parameter's name, or a long opaque path
    segment), for a warning; None if nothing does. Never the value itself."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    for name, secret in parse_qsl(parts.query, keep_blank_values=True):
        if _TOKEN_NAMES.search(name) or _TOKEN_VALUE.match(secret):
            return f"its query parameter {name!r}"
    for segment in parts.path.split("/"):
        if _TOKEN_VALUE.match(segment) or segment.lower().startswith("private-"):
            return "a path segment"
    return None


def url(value: str, flag: str) -> str:
    if len(value) > 2048 or not _URL.match(value):
        raise _bad(
            flag,
            shown_url(value),
            "not an http(s) URL without credentials",
            "e.g. https://cal.example.com/alice/work/ (credentials go in the --credentials Secret)",
        )
    return value


def graph_tenant(value: str, flag: str = "--graph-tenant") -> str:
    if not contract.is_graph_tenant(value):  # the CRD's rule, and the runner's
        raise _bad(
            flag,
            value,
            "is not a tenant ID or domain",
            "give the directory (tenant) ID, a GUID, or its domain, e.g. contoso.onmicrosoft.com",
        )
    return value


def graph_client_id(value: str, flag: str = "--graph-client-id") -> str:
    if not contract.is_graph_id(value):
        raise _bad(
            flag,
            value,
            "is not an application (client) ID",
            "give the app registration's application (client) ID, a GUID",
        )
    return value


def graph_calendar(value: str, flag: str, *, calendar_required: bool) -> tuple[str, str | None]:
    """MAILBOX[/CALENDAR] → (mailbox, calendar name or ID); a mailbox holds no '/'."""
    mailbox, _, calendar = value.partition("/")
    if not contract.is_graph_mailbox(mailbox):
        raise _bad(
            flag,
            value,
            "does not start with a mailbox",
            "give MAILBOX[/CALENDAR]: a user principal name or user ID, e.g. "
            "alice@contoso.com/Archive",
        )
    if calendar_required and not calendar:
        raise _bad(
            flag,
            value,
            "names no calendar",
            f"give MAILBOX/CALENDAR, the archive calendar's name or ID, e.g. {mailbox}/Archive",
        )
    if len(calendar) > 255:
        raise _bad(flag, value, "has a calendar name over 255 characters", "use its ID")
    return mailbox, calendar or None


def claim(value: str, flag: str = "--destination-pvc") -> tuple[str, str]:
    """``CLAIM`` or ``CLAIM/SUB/PATH`` → (claim name, sub path)."""
    name, _, sub_path = value.partition("/")
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise _bad(flag, value, "not a PersistentVolumeClaim name", "e.g. calendar-archive/alice")
    if sub_path.startswith("/") or ".." in sub_path.split("/"):
        raise _bad(flag, value, "the sub path must be relative without ..", "e.g. archive/alice")
    return name, sub_path


def day(value: str, flag: str, today: date) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (``today`` is the schedule's local date)."""
    word = value.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _bad(
            flag, value, "not a date YYYY-MM-DD", "e.g. 2024-12-18, today or yesterday"
        ) from exc


def not_after_today(day: date, flag: str, value: str, today: date, time_zone: str) -> date:
    """A run archives days that have begun (the operator fails one that ends after today)."""
    if day > today:
        raise _bad(
            flag,
            value,
            f"after today ({today.isoformat()} in {time_zone}): a run archives only days that "
            "have begun",
            f"use {flag} {today.isoformat()} (today) or earlier",
        )
    return day


def date_range(start: date, end: date, max_days: int | None = MAX_RUN_DAYS) -> tuple[date, date]:
    if end < start:
        raise BadInput(
            f"--end {end.isoformat()} is before --start {start.isoformat()}; "
            "the range is inclusive, so --end must be on or after --start"
        )
    days = (end - start).days + 1
    if max_days is not None and days > max_days:
        raise BadInput(
            f"--start {start.isoformat()} --end {end.isoformat()} covers {days} days, more than a "
            f"run may ({max_days}); use kubectl archive backfill for a longer range"
        )
    return start, end


def split_range(start: date, end: date, chunk_days: int) -> list[tuple[date, date]]:
    """Consecutive inclusive ranges of at most ``chunk_days`` days covering start..end."""
    if not 1 <= chunk_days <= MAX_RUN_DAYS:
        raise _bad("--days-per-run", chunk_days, f"must be 1 to {MAX_RUN_DAYS}", "e.g. 31")
    date_range(start, end, max_days=None)
    chunks = []
    first = start
    while first <= end:
        last = min(first + timedelta(days=chunk_days - 1), end)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks
