"""The run's configuration: parsed and validated once, from CLI options, environment and files.

Every error names the setting (flag and environment variable), the offending value and the fix,
on one line. Credentials come only from the environment or a mounted Secret directory, never
from flags, and are held as ``SecretStr`` so they cannot leak through ``repr`` or logs.

Credentials go only where they were given for (docs/runner.md, "Credentials"): the destination
borrows the source's only when its URL has the source URL's origin (scheme, host, port), and
no credential is sent over plain http:// to a host that is not loopback unless the run opts in
(``--allow-insecure-credentials``).

The source URL may itself be a secret (a private feed whose token is in its path or query): it
is then read from a file (``--source-url-file``, the credentials Secret's key that
spec.source.ics.urlSecretKey names) and shown only as ``scheme://host[:port]/…`` (redact.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from . import contract
from .contract import CREDENTIAL_FILES, window_last_offset
from .errors import ConfigError
from .graph_config import GRAPH_SETTINGS, GraphSide, graph_side
from .redact import HIDDEN, redact_url, secret_url_parts
from .window import Window, reference_time, relative_window

SourceType = Literal["caldav", "ics", "graph"]
DestinationType = Literal["caldav", "directory", "graph"]
Recurrence = Literal["occurrences", "series"]
OnChange = Literal["keep", "update"]

MAX_WINDOW_DAYS = 3660
DEFAULT_DEADLINE_SECONDS = 600.0
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

# option key -> (flag, environment variable): how errors name a setting.
SETTINGS: dict[str, tuple[str, str]] = {
    "user": ("--user", contract.ENV_USER),
    "source_type": ("--source-type", contract.ENV_SOURCE_TYPE),
    "source_url": ("--source-url", contract.ENV_SOURCE_URL),
    "source_url_file": ("--source-url-file", contract.ENV_SOURCE_URL_FILE),
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
    "deadline": ("--deadline", contract.ENV_DEADLINE_SECONDS),
    "allow_insecure_credentials": (
        "--allow-insecure-credentials",
        contract.ENV_ALLOW_INSECURE_CREDENTIALS,
    ),
    **GRAPH_SETTINGS,  # Microsoft Graph: graph_config.py
}

# Where an ArchiveSchedule sets each URL: named in errors so a user of the operator, who never
# sees the runner's flags, knows which field to change.
_SCHEDULE_FIELDS = {
    ("source_url", "caldav"): "spec.source.caldav.url",
    ("source_url", "ics"): "spec.source.ics.url",
    ("source_url_file", "ics"): "spec.source.ics.urlSecretKey",
    ("destination_url", "caldav"): "spec.destination.caldav.url",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Credentials(BaseModel):
    """Basic (username + password) or bearer-token credentials; all empty means anonymous."""

    model_config = ConfigDict(frozen=True)

    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    @property
    def is_empty(self) -> bool:
        return self.username is None and self.password is None and self.token is None

    @property
    def kind(self) -> str:
        """What is sent, for logs: "bearer", "basic" or "none" (never the values)."""
        if self.token is not None:
            return "bearer"
        return "none" if self.is_empty else "basic"

    def secret_values(self) -> list[str]:
        return [s.get_secret_value() for s in (self.password, self.token) if s is not None]


class RunConfig(BaseModel):
    """A fully resolved run."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    user: str
    source_type: SourceType
    source_url: str
    # The source URL was given as a secret (--source-url-file): shown as scheme://host/… only.
    source_url_secret: bool = False
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
    # Seconds from the run's start within which every wait for a server that asked to be
    # retried must end (backends/http.RetryPolicy); past it, such an answer ends the run (exit 5).
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    source_credentials: Credentials
    destination_credentials: Credentials
    # True when the destination has no credentials of its own and the source's were not lent
    # to it because its origin differs (so a 401 from it can say why).
    destination_credentials_withheld: bool = False
    allow_insecure_credentials: bool = False
    # Microsoft Graph sides (source_type / destination_type "graph"); source_url and
    # destination_url then hold the calendar as a URL, for the result and logs.
    source_graph: GraphSide | None = None
    destination_graph: GraphSide | None = None

    def secret_values(self) -> list[str]:
        """Every value of this run that must never be shown (redact.Scrubber scrubs them)."""
        values = self.source_credentials.secret_values()
        values += self.destination_credentials.secret_values()
        for side in (self.source_graph, self.destination_graph):
            values += side.app.secret_values() if side is not None else []
        if self.source_url_secret:
            values += secret_url_parts(self.source_url)
            # As the HTTP client writes it (percent-encoded), e.g. in its exceptions.
            with contextlib.suppress(httpx.InvalidURL, ValueError):
                values += secret_url_parts(str(httpx.URL(self.source_url)))
        return values


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


def _seconds(options: Mapping[str, str | None], key: str, default: float) -> float:
    """A positive, finite number of seconds (the operator passes whole seconds)."""
    raw = options.get(key)
    if raw is None or not str(raw).strip():
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = -1.0
    if not 0 < value < math.inf:
        raise _error(key, raw, "is not a number of seconds above 0", f"use e.g. {default:.0f}")
    return value


def _http_url(options: Mapping[str, str | None], key: str, what: str) -> str:
    raw = (options.get(key) or "").strip()
    if not raw:
        raise _missing(key, f"set it to the {what}")
    return _check_http_url(raw, key, what)


def _check_http_url(raw: str, key: str, what: str, secret_of: str | None = None) -> str:
    """``raw`` if it is an http(s) URL without credentials that the HTTP client can send to.

    ``secret_of``: the URL is a secret of a source of this type; errors then show it as
    scheme://host/… only and name the schedule's field."""
    secret = secret_of is not None
    shown = redact_url(raw, secret=secret)
    if len(shown) > 80:
        shown = shown[:80] + "…"
    where = _name(key)
    field = _SCHEDULE_FIELDS.get((key, secret_of or ""))
    if field:
        where += f" ({field})"
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed [IPv6 address
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hidden = secret and shown == HIDDEN
        problem = "is not an http(s) URL" + (" (the file's content is not shown)" if hidden else "")
        raise ConfigError(f"{where}: {shown!r} {problem}; set it to the {what}")
    if parts.username or parts.password:
        raise ConfigError(
            f"{where}: {shown!r} contains credentials; remove them from the URL and use the "
            "credentials Secret / ARCHIVE_*_USERNAME/PASSWORD"
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
        httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as exc:
        # Only the reason's kind: httpx's own message may quote the URL.
        raise ConfigError(
            f"{where}: {shown!r} is not a valid URL ({type(exc).__name__}); set it to the {what}"
        ) from None
    return raw


def _secret_url(options: Mapping[str, str | None], source_type: str, what: str) -> str:
    """The source URL from the file --source-url-file names (a key of the mounted Secret)."""
    key = "source_url_file"
    path = Path((options.get(key) or "").strip())
    field = _SCHEDULE_FIELDS.get((key, source_type))
    where = f"{_name(key)}{f' ({field})' if field else ''}"
    # Under the operator the file is a key of the mounted credentials Secret.
    put = (
        f"put the {what} under the key {path.name!r} of the credentials Secret "
        f"(spec.credentialsSecretRef), or set {field} to the key that holds it"
        if field
        else f"write the {what} into that file"
    )
    try:
        raw = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{where}: {str(path)!r} does not exist; {put}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{where}: cannot read {str(path)!r} ({reason}); {put}") from None
    if not raw:
        raise ConfigError(f"{where}: {str(path)!r} is empty; {put}")
    return _check_http_url(raw, key, what, secret_of=source_type)


def origin(url: str) -> tuple[str, str, int] | None:
    """The URL's origin (RFC 6454): scheme, host (lower case) and port (the scheme's default
    when not written); None for anything but an http(s) URL with a host (e.g. a file path)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic to it stays on the
    machine (or in the pod), so cleartext there crosses no network."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_cleartext(
    key: str,
    kind: str,
    url: str | None,
    credentials: Credentials,
    allowed: bool,
    secret: bool = False,
) -> None:
    """Credentials over plain http:// to another machine: refused unless the run opts in."""
    if url is None or credentials.is_empty or allowed:
        return
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback_host(parts.hostname):
        return
    field = _SCHEDULE_FIELDS.get((key, kind))
    where = f"{_name(key)}{f' ({field})' if field else ''}"
    opt_in = _name("allow_insecure_credentials")
    raise ConfigError(
        f"{where}: {redact_url(url, secret=secret)!r} is plain http://, so the credentials would "
        "cross the network unencrypted; use an https:// URL, or, only on a network you "
        f"trust, allow it with {opt_in}=true (ArchiveSchedule spec.allowInsecureCredentials: true)"
    )


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


def _check_credential(env_name: str, value: str | None) -> str | None:
    """A credential the HTTP client can send as it is (never shown: errors name the key)."""
    if value is None:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problem = "contains a line break or another control character"
    elif env_name.endswith("_TOKEN") and not value.isascii():
        problem = "contains a character that is not ASCII, which an HTTP header cannot carry"
    else:
        return value
    key = CREDENTIAL_FILES[env_name]
    raise ConfigError(
        f"{env_name} (the credentials Secret's key {key}) {problem} (the value is not shown); "
        f"store the credential alone, e.g. kubectl create secret generic NAME "
        f"--from-literal={key}=VALUE"
    )


def _credentials(env: Mapping[str, str], prefix: str, credentials_dir: Path | None) -> Credentials:
    names = [f"ARCHIVE_{prefix}_{what}" for what in ("USERNAME", "PASSWORD", "TOKEN")]
    username, password, token = (
        _check_credential(name, _secret_from(env, credentials_dir, name)) for name in names
    )
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
    options: Mapping[str, str | None],
    env: Mapping[str, str],
    now: datetime,
    dry_run: bool,
    allow_insecure_credentials: bool = False,
) -> RunConfig:
    """Resolve and validate everything a run needs. Raises ConfigError with a one-line message."""
    user = (options.get("user") or "").strip()
    if not user:
        raise _missing("user", "set it to the user whose calendar is archived")
    if len(user) > 253 or any(ord(c) < 32 for c in user):
        raise _error(
            "user", user, "is not a valid user name", "use at most 253 printable characters"
        )

    source_type = _choice(options, "source_type", ("caldav", "ics", "graph"), "caldav")
    raw_dir = env.get(contract.ENV_CREDENTIALS_DIR)
    credentials_dir = Path(raw_dir) if raw_dir else None

    def read(name: str) -> str | None:
        return _secret_from(env, credentials_dir, name)

    source_graph: GraphSide | None = None
    source_url_secret = bool((options.get("source_url_file") or "").strip())
    if source_url_secret and (options.get("source_url") or "").strip():
        raise ConfigError(
            f"{_name('source_url')} and {_name('source_url_file')} are both set; use one "
            "(the file for a URL that is itself a secret, e.g. a private feed's)"
        )
    if source_url_secret and source_type != "ics":
        raise ConfigError(
            f"{_name('source_url_file')} is for {_name('source_type')} ics (a feed whose URL is "
            f"a secret); give the CalDAV collection URL in {_name('source_url')} and its "
            "credentials in the credentials Secret"
        )
    if source_type == "graph":
        source_graph = graph_side(options, "source", read, allow_insecure_credentials)
        source_url = source_graph.url
    elif source_url_secret:
        source_url = _secret_url(options, source_type, "iCalendar feed URL")
    elif source_type == "caldav":
        source_url = _http_url(options, "source_url", "source calendar collection URL")
    else:
        source_url = (options.get("source_url") or "").strip()
        if not source_url:
            raise _missing("source_url", "set it to an .ics file path or an http(s) URL")
        if urlsplit(source_url).scheme in ("http", "https"):
            source_url = _http_url(options, "source_url", "iCalendar feed URL")

    destination_type = _choice(
        options, "destination_type", ("caldav", "directory", "graph"), "caldav"
    )
    destination_url: str | None = None
    destination_path: Path | None = None
    destination_graph: GraphSide | None = None
    if destination_type == "graph":
        destination_graph = graph_side(
            options, "destination", read, allow_insecure_credentials, source_graph
        )
        destination_url = destination_graph.url
    elif destination_type == "caldav":
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
    deadline_seconds = _seconds(options, "deadline", DEFAULT_DEADLINE_SECONDS)

    source_credentials = _credentials(env, "SOURCE", credentials_dir)
    destination_credentials = _credentials(env, "DESTINATION", credentials_dir)
    withheld = False
    if destination_credentials.is_empty and destination_type == "caldav" and destination_url:
        # The source's credentials were given for the source's origin only: lending them to
        # another host would hand that host the user's password (issue 18).
        if origin(destination_url) == origin(source_url):
            destination_credentials = source_credentials
        else:
            withheld = not source_credentials.is_empty
    source_sent_to = source_url if origin(source_url) is not None else None
    _refuse_cleartext(
        "source_url_file" if source_url_secret else "source_url",
        source_type,
        source_sent_to,
        source_credentials,
        allow_insecure_credentials,
        secret=source_url_secret,
    )
    _refuse_cleartext(
        "destination_url",
        destination_type,
        destination_url,
        destination_credentials,
        allow_insecure_credentials,
    )

    recurrence = _choice(options, "recurrence", ("occurrences", "series"), "occurrences")
    if destination_graph is not None and recurrence == "series":
        raise ConfigError(
            f"{_name('recurrence')}: 'series' is not supported with a Microsoft Graph archive "
            "(it holds single events only); use occurrences"
        )
    return RunConfig(
        user=user,
        source_type=cast(SourceType, source_type),
        source_url=source_url,
        source_url_secret=source_url_secret,
        destination_type=cast(DestinationType, destination_type),
        destination_url=destination_url,
        destination_path=destination_path,
        window=window,
        recurrence=cast(Recurrence, recurrence),
        on_change=cast(OnChange, _choice(options, "on_change", ("keep", "update"), "keep")),
        dry_run=dry_run,
        run_id=run_id,
        termination_log=Path(options.get("termination_log") or "/dev/termination-log"),
        timeout_seconds=timeout_seconds,
        deadline_seconds=deadline_seconds,
        source_credentials=source_credentials,
        destination_credentials=destination_credentials,
        destination_credentials_withheld=withheld,
        allow_insecure_credentials=allow_insecure_credentials,
        source_graph=source_graph,
        destination_graph=destination_graph,
    )
