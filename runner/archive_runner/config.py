"""The run's configuration: parsed and validated once, from CLI options, environment and files.

Every error names the setting (flag and environment variable), the offending value and the fix,
on one line. Credentials come only from the environment or a mounted Secret directory, never
from flags, and are held as ``SecretStr`` so they cannot leak through ``repr`` or logs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, SecretStr

from . import contract
from .contract import CREDENTIAL_FILES, window_last_offset
from .errors import ConfigError
from .window import Window, reference_time, relative_window

SourceType = Literal["caldav", "ics"]
DestinationType = Literal["caldav", "directory"]
Recurrence = Literal["occurrences", "series"]
OnChange = Literal["keep", "update"]

MAX_WINDOW_DAYS = 3660
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

# option key -> (flag, environment variable): how errors name a setting.
SETTINGS: dict[str, tuple[str, str]] = {
    "user": ("--user", contract.ENV_USER),
    "source_type": ("--source-type", contract.ENV_SOURCE_TYPE),
    "source_url": ("--source-url", contract.ENV_SOURCE_URL),
    "destination_type": ("--destination-type", contract.ENV_DESTINATION_TYPE),
    "destination_url": ("--destination-url", contract.ENV_DESTINATION_URL),
    "destination_path": ("--destination-path", contract.ENV_DESTINATION_PATH),
    "start": ("--start", contract.ENV_START),
    "end": ("--end", contract.ENV_END),
    "window_offset_days": ("--window-offset-days", contract.ENV_WINDOW_OFFSET_DAYS),
    "window_days": ("--window-days", contract.ENV_WINDOW_DAYS),
    "reference_time": ("--reference-time", contract.ENV_REFERENCE_TIME),
    "time_zone": ("--time-zone", contract.ENV_TIME_ZONE),
    "recurrence": ("--recurrence", contract.ENV_RECURRENCE),
    "on_change": ("--on-change", contract.ENV_ON_CHANGE),
    "run_id": ("--run-id", contract.ENV_RUN_ID),
    "termination_log": ("--termination-log", contract.ENV_TERMINATION_LOG),
    "timeout": ("--timeout", contract.ENV_TIMEOUT_SECONDS),
}


class Credentials(BaseModel):
    """Basic (username + password) or bearer-token credentials; all empty means anonymous."""

    model_config = ConfigDict(frozen=True)

    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    @property
    def is_empty(self) -> bool:
        return self.username is None and self.password is None and self.token is None


class RunConfig(BaseModel):
    """A fully resolved run."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    user: str
    source_type: SourceType
    source_url: str
    destination_type: DestinationType
    destination_url: str | None
    destination_path: Path | None
    window: Window
    recurrence: Recurrence
    on_change: OnChange
    dry_run: bool
    run_id: str
    termination_log: Path
    timeout_seconds: float
    source_credentials: Credentials
    destination_credentials: Credentials


def _name(key: str) -> str:
    flag, env = SETTINGS[key]
    return f"{flag} / {env}"


def _error(key: str, value: object, problem: str, fix: str) -> ConfigError:
    shown = (
        repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:80] + "…")
    )
    return ConfigError(f"{_name(key)}: {shown} {problem}; {fix}")


def _missing(key: str, fix: str) -> ConfigError:
    return ConfigError(f"{_name(key)} is required; {fix}")


def _choice(
    options: Mapping[str, str | None], key: str, choices: tuple[str, ...], default: str
) -> str:
    value = (options.get(key) or default).strip().lower()
    if value not in choices:
        raise _error(
            key, options.get(key), "is not a valid choice", f"use one of {', '.join(choices)}"
        )
    return value


def _date(options: Mapping[str, str | None], key: str) -> date | None:
    raw = options.get(key)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise _error(key, raw, "is not a date", "use YYYY-MM-DD, e.g. 2024-03-31") from None


def _int(options: Mapping[str, str | None], key: str) -> int | None:
    raw = options.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise _error(key, raw, "is not a whole number", "use e.g. -1 or 7") from None


def _http_url(options: Mapping[str, str | None], key: str, what: str) -> str:
    raw = (options.get(key) or "").strip()
    if not raw:
        raise _missing(key, f"set it to the {what}")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(key, redact_url(raw), "is not an http(s) URL", f"set it to the {what}")
    if parts.username or parts.password:
        raise _error(
            key,
            redact_url(raw),
            "contains credentials",
            "remove them from the URL and use the credentials Secret / ARCHIVE_*_USERNAME/PASSWORD",
        )
    return raw


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment (they may carry secrets)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _zone(options: Mapping[str, str | None]) -> ZoneInfo:
    raw = (options.get("time_zone") or "UTC").strip()
    try:
        if not raw or raw.startswith(("/", ".")) or ".." in raw:
            raise ValueError(raw)
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise _error(
            "time_zone", raw, "is not a known IANA time zone", "use e.g. Europe/London or UTC"
        ) from None


def _reference(options: Mapping[str, str | None]) -> datetime | None:
    raw = options.get("reference_time")
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _error(
            "reference_time", raw, "is not an RFC 3339 time", "use e.g. 2024-03-31T23:59:00Z"
        )
    return parsed


def _window(
    options: Mapping[str, str | None], zone: ZoneInfo, job_name: str | None, now: datetime
) -> Window:
    start, end = _date(options, "start"), _date(options, "end")
    offset, days = _int(options, "window_offset_days"), _int(options, "window_days")
    fixed = start is not None or end is not None
    relative = offset is not None or days is not None
    if fixed and relative:
        raise ConfigError(
            f"{_name('start')} and {_name('window_days')} are both set; "
            "use either --start/--end or --window-offset-days/--window-days"
        )
    if fixed:
        if start is None:
            raise _missing("start", "set it with --end, e.g. --start 2024-03-01")
        if end is None:
            raise _missing("end", "set it with --start, e.g. --end 2024-03-31")
        if end < start:
            raise _error("end", end.isoformat(), f"is before the start {start}", "swap them")
        window = Window(start=start, end=end, zone=zone)
    elif relative:
        offset = 0 if offset is None else offset
        days = 1 if days is None else days
        if days < 1:
            raise _error("window_days", days, "is less than 1", "use 1 or more")
        if days > MAX_WINDOW_DAYS:
            raise _error("window_days", days, "is too large", f"use at most {MAX_WINDOW_DAYS}")
        last = window_last_offset(offset, days)
        if last > 0:
            # The offset is the FIRST day: the window ends offset + days - 1 days from the
            # reference day, and a run archives only days that have begun.
            raise _error(
                "window_offset_days",
                offset,
                f"with {_name('window_days')} {days} ends {last} day(s) after the reference day "
                "(the last day is offset + days - 1; it cannot be in the future)",
                f"use {1 - days} or less ({1 - days} with {days} day(s) ends on the reference day)",
            )
        ref = reference_time(_reference(options), job_name, now)
        window = relative_window(ref, zone, offset, days)
    else:
        raise ConfigError(
            "no window: set --start/--end (ARCHIVE_START/ARCHIVE_END) or "
            "--window-offset-days/--window-days (ARCHIVE_WINDOW_OFFSET_DAYS/ARCHIVE_WINDOW_DAYS)"
        )
    if window.days > MAX_WINDOW_DAYS:
        raise _error(
            "end",
            window.end.isoformat(),
            f"makes a {window.days}-day window",
            f"use at most {MAX_WINDOW_DAYS} days",
        )
    return window


def _secret_from(env: Mapping[str, str], credentials_dir: Path | None, env_name: str) -> str | None:
    """An environment variable wins over the mounted file of the same credential."""
    value = env.get(env_name)
    if value:
        return value
    if credentials_dir is None:
        return None
    path = credentials_dir / CREDENTIAL_FILES[env_name]
    try:
        text = path.read_text(encoding="utf-8").strip("\r\n")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"ARCHIVE_CREDENTIALS_DIR: cannot read {path.name} ({exc.strerror}); "
            "check the Secret's mount and permissions"
        ) from None
    return text or None


def _credentials(env: Mapping[str, str], prefix: str, credentials_dir: Path | None) -> Credentials:
    username = _secret_from(env, credentials_dir, f"ARCHIVE_{prefix}_USERNAME")
    password = _secret_from(env, credentials_dir, f"ARCHIVE_{prefix}_PASSWORD")
    token = _secret_from(env, credentials_dir, f"ARCHIVE_{prefix}_TOKEN")
    if (username is None) != (password is None):
        have, lack = ("USERNAME", "PASSWORD") if password is None else ("PASSWORD", "USERNAME")
        raise ConfigError(
            f"ARCHIVE_{prefix}_{have} is set but ARCHIVE_{prefix}_{lack} is not; "
            "set both (or neither, and a token instead)"
        )
    return Credentials(
        username=username,
        password=SecretStr(password) if password is not None else None,
        token=SecretStr(token) if token is not None else None,
    )


def load_config(
    options: Mapping[str, str | None], env: Mapping[str, str], now: datetime, dry_run: bool
) -> RunConfig:
    """Resolve and validate everything a run needs. Raises ConfigError with a one-line message."""
    user = (options.get("user") or "").strip()
    if not user:
        raise _missing("user", "set it to the user whose calendar is archived")
    if len(user) > 253 or any(ord(c) < 32 for c in user):
        raise _error(
            "user", user, "is not a valid user name", "use at most 253 printable characters"
        )

    source_type = _choice(options, "source_type", ("caldav", "ics"), "caldav")
    if source_type == "caldav":
        source_url = _http_url(options, "source_url", "source calendar collection URL")
    else:
        source_url = (options.get("source_url") or "").strip()
        if not source_url:
            raise _missing("source_url", "set it to an .ics file path or an http(s) URL")
        if urlsplit(source_url).scheme in ("http", "https"):
            source_url = _http_url(options, "source_url", "iCalendar feed URL")

    destination_type = _choice(options, "destination_type", ("caldav", "directory"), "caldav")
    destination_url: str | None = None
    destination_path: Path | None = None
    if destination_type == "caldav":
        destination_url = _http_url(options, "destination_url", "archive calendar collection URL")
    else:
        raw_path = (options.get("destination_path") or "").strip()
        if not raw_path:
            raise _missing("destination_path", "set it to the archive directory")
        destination_path = Path(raw_path)

    zone = _zone(options)
    window = _window(options, zone, env.get(contract.ENV_JOB_NAME), now)

    run_id = (options.get("run_id") or "").strip() or f"run-{uuid.uuid4().hex[:12]}"
    if not _RUN_ID.match(run_id):
        raise _error(
            "run_id", run_id, "is not a valid run id", "use up to 63 letters, digits, '.', '_', '-'"
        )

    timeout = options.get("timeout") or "30"
    try:
        timeout_seconds = float(timeout)
    except ValueError:
        timeout_seconds = -1.0
    if not 0 < timeout_seconds <= 3600:
        raise _error("timeout", timeout, "is not a timeout in seconds", "use e.g. 30")

    raw_dir = env.get(contract.ENV_CREDENTIALS_DIR)
    credentials_dir = Path(raw_dir) if raw_dir else None
    source_credentials = _credentials(env, "SOURCE", credentials_dir)
    destination_credentials = _credentials(env, "DESTINATION", credentials_dir)
    if destination_credentials.is_empty:
        destination_credentials = source_credentials

    return RunConfig(
        user=user,
        source_type=cast(SourceType, source_type),
        source_url=source_url,
        destination_type=cast(DestinationType, destination_type),
        destination_url=destination_url,
        destination_path=destination_path,
        window=window,
        recurrence=cast(
            Recurrence, _choice(options, "recurrence", ("occurrences", "series"), "occurrences")
        ),
        on_change=cast(OnChange, _choice(options, "on_change", ("keep", "update"), "keep")),
        dry_run=dry_run,
        run_id=run_id,
        termination_log=Path(options.get("termination_log") or "/dev/termination-log"),
        timeout_seconds=timeout_seconds,
        source_credentials=source_credentials,
        destination_credentials=destination_credentials,
    )
