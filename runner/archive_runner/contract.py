"""The runner contract: what the operator and the runner agree on, in one place.

The operator renders a runner Job's environment, names its Jobs, reads the runner's exit code
and records which days a scheduled run archives; the runner reads that environment, derives its
day from the Job's name and exits with those codes. Both import this module, so the two sides
cannot drift apart (issue 13: they once disagreed on what ``offsetDays`` means).

Standard library only: the operator's image holds this module without the runner's
dependencies (operator/Dockerfile copies it alone).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum

# --- environment variables the operator sets and the runner reads --------------------------

ENV_USER = "ARCHIVE_USER"
ENV_SOURCE_TYPE = "ARCHIVE_SOURCE_TYPE"
ENV_SOURCE_URL = "ARCHIVE_SOURCE_URL"
# Instead of ENV_SOURCE_URL: a file holding the source URL, for a URL that is itself a secret
# (a private feed's token in its path or query). The operator points it at a key of the mounted
# credentials Secret (spec.source.ics.urlSecretKey), so the URL is in no pod spec and no env, and
# the runner shows it only as scheme://host[:port]/….
ENV_SOURCE_URL_FILE = "ARCHIVE_SOURCE_URL_FILE"
ENV_DESTINATION_TYPE = "ARCHIVE_DESTINATION_TYPE"
ENV_DESTINATION_URL = "ARCHIVE_DESTINATION_URL"
ENV_DESTINATION_PATH = "ARCHIVE_DESTINATION_PATH"
ENV_START = "ARCHIVE_START"
ENV_END = "ARCHIVE_END"
# The relative window (see window_dates): its first day, and how many days it has.
ENV_WINDOW_OFFSET_DAYS = "ARCHIVE_WINDOW_OFFSET_DAYS"
ENV_WINDOW_DAYS = "ARCHIVE_WINDOW_DAYS"
ENV_REFERENCE_TIME = "ARCHIVE_REFERENCE_TIME"
ENV_TIME_ZONE = "ARCHIVE_TIME_ZONE"
ENV_RECURRENCE = "ARCHIVE_RECURRENCE"
ENV_ON_CHANGE = "ARCHIVE_ON_CHANGE"
ENV_DRY_RUN = "ARCHIVE_DRY_RUN"
ENV_RUN_ID = "ARCHIVE_RUN_ID"
ENV_TERMINATION_LOG = "ARCHIVE_TERMINATION_LOG"
ENV_TIMEOUT_SECONDS = "ARCHIVE_TIMEOUT_SECONDS"
# Seconds from the runner's start within which every wait for a server that asked to be retried
# (429, 503, Retry-After ...) must end; the operator sets the Job's activeDeadlineSeconds.
ENV_DEADLINE_SECONDS = "ARCHIVE_DEADLINE_SECONDS"
# The Job's name, from which a scheduled run reads the minute it was scheduled for.
ENV_JOB_NAME = "ARCHIVE_JOB_NAME"
# A mounted Secret directory; its files hold the credentials (CREDENTIAL_FILES).
ENV_CREDENTIALS_DIR = "ARCHIVE_CREDENTIALS_DIR"
# "true": credentials may be sent over plain http:// to a host that is not loopback (the
# schedule's spec.allowInsecureCredentials). Unset or "false": such a run is refused (exit 4).
ENV_ALLOW_INSECURE_CREDENTIALS = "ARCHIVE_ALLOW_INSECURE_CREDENTIALS"

# Microsoft Graph (ARCHIVE_SOURCE_TYPE / ARCHIVE_DESTINATION_TYPE "graph"): the app registration
# (tenant, client id; its secret or certificate are credentials: CREDENTIAL_FILES), the mailbox
# and the calendar (name or id; the source's unset = the mailbox's default calendar). An archive
# without a tenant and client id of its own uses the source's app.
ENV_SOURCE_GRAPH_TENANT_ID = "ARCHIVE_SOURCE_GRAPH_TENANT_ID"
ENV_SOURCE_GRAPH_CLIENT_ID = "ARCHIVE_SOURCE_GRAPH_CLIENT_ID"
ENV_SOURCE_GRAPH_MAILBOX = "ARCHIVE_SOURCE_GRAPH_MAILBOX"
ENV_SOURCE_GRAPH_CALENDAR = "ARCHIVE_SOURCE_GRAPH_CALENDAR"
ENV_DESTINATION_GRAPH_TENANT_ID = "ARCHIVE_DESTINATION_GRAPH_TENANT_ID"
ENV_DESTINATION_GRAPH_CLIENT_ID = "ARCHIVE_DESTINATION_GRAPH_CLIENT_ID"
ENV_DESTINATION_GRAPH_MAILBOX = "ARCHIVE_DESTINATION_GRAPH_MAILBOX"
ENV_DESTINATION_GRAPH_CALENDAR = "ARCHIVE_DESTINATION_GRAPH_CALENDAR"
# What a tenant, a client id and a mailbox may look like: one rule for the CRD's CEL, the plugin
# and the runner (tests/crds/test_graph_rules.py holds the CRD to these). RE2 syntax, which CEL
# uses: no look-ahead, so the lengths are checked apart (the CRD's maxLength).
GRAPH_GUID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# A DNS name with a top-level domain of letters, e.g. contoso.onmicrosoft.com.
GRAPH_DOMAIN_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
GRAPH_DOMAIN_MAX_LENGTH = 253
# A user principal name: no character that would change the Graph URL it goes into.
GRAPH_MAILBOX_PATTERN = r'^[^@\s/\\?#%"<>]{1,64}@[A-Za-z0-9.-]{1,253}$'
GRAPH_MAILBOX_MAX_LENGTH = 320
_GRAPH_GUID = re.compile(GRAPH_GUID_PATTERN)
_GRAPH_DOMAIN = re.compile(GRAPH_DOMAIN_PATTERN)
_GRAPH_MAILBOX = re.compile(GRAPH_MAILBOX_PATTERN)


def is_graph_id(value: str) -> bool:
    """A directory object's id (an app's client id, a user's id): a GUID."""
    return _GRAPH_GUID.match(value) is not None


def is_graph_tenant(value: str) -> bool:
    """A tenant's id (a GUID) or one of its domains."""
    is_domain = len(value) <= GRAPH_DOMAIN_MAX_LENGTH and _GRAPH_DOMAIN.match(value) is not None
    return is_graph_id(value) or is_domain


def is_graph_mailbox(value: str) -> bool:
    """A mailbox: its user principal name or its user id (a GUID)."""
    is_upn = len(value) <= GRAPH_MAILBOX_MAX_LENGTH and _GRAPH_MAILBOX.match(value) is not None
    return is_upn or is_graph_id(value)


# Graph's root and the Microsoft identity platform's host (national clouds and tests change
# them); scheme://host[:port] only. Defaults: https://graph.microsoft.com and
# https://login.microsoftonline.com.
ENV_GRAPH_ENDPOINT = "ARCHIVE_GRAPH_ENDPOINT"
ENV_GRAPH_AUTHORITY_HOST = "ARCHIVE_GRAPH_AUTHORITY_HOST"

# Credential environment variable -> the file of the same credential in ENV_CREDENTIALS_DIR
# (the credentials Secret's keys). The destination's default to the source's only when the
# destination URL has the source URL's origin (scheme, host, port: RFC 6454).
CREDENTIAL_FILES = {
    "ARCHIVE_SOURCE_USERNAME": "username",
    "ARCHIVE_SOURCE_PASSWORD": "password",
    "ARCHIVE_SOURCE_TOKEN": "token",
    "ARCHIVE_DESTINATION_USERNAME": "destination-username",
    "ARCHIVE_DESTINATION_PASSWORD": "destination-password",
    "ARCHIVE_DESTINATION_TOKEN": "destination-token",
    # Microsoft Graph: the app's client secret, or its certificate (PEM: certificate and
    # private key). An archive of the source's app (same tenant and client id) without its own
    # uses the source's; any other app gets none.
    "ARCHIVE_SOURCE_GRAPH_CLIENT_SECRET": "client-secret",
    "ARCHIVE_SOURCE_GRAPH_CLIENT_CERTIFICATE": "client-certificate",
    "ARCHIVE_DESTINATION_GRAPH_CLIENT_SECRET": "destination-client-secret",
    "ARCHIVE_DESTINATION_GRAPH_CLIENT_CERTIFICATE": "destination-client-certificate",
}


# --- exit codes ------------------------------------------------------------------------------


class ExitCode(IntEnum):
    """The runner's exit codes; the operator's Job failure policy and run reasons act on them
    (docs/runner.md)."""

    SUCCEEDED = 0
    CRASHED = 1  # an unexpected exception: a bug
    USAGE = 2  # click's own usage errors (unknown option, ...)
    PARTIAL = 3  # some objects failed; the rest was archived
    BAD_CONFIGURATION = 4  # bad settings or rejected credentials: retrying will not help
    UNREACHABLE = 5  # a server could not be reached or went away: worth retrying


# --- the window ------------------------------------------------------------------------------


def window_last_offset(offset_days: int, days: int) -> int:
    """The last archived day, relative to the run's day: ``offset_days + days - 1``.

    It must be <= 0 (a run archives only days that have begun); the CRD's rule on spec.window
    and the runner's configuration check it.
    """
    return offset_days + days - 1


def window_dates(run_day: date, offset_days: int, days: int) -> tuple[date, date]:
    """The inclusive local dates (first, last) a relative window covers.

    ``offset_days`` is the FIRST day relative to ``run_day`` (0 = that day, -1 = the day
    before) and ``days`` how many days from there: ``(-6, 7)`` is the week ending on the run's
    day, ``(0, 1)`` the run's day alone. Pure calendar arithmetic on dates: a day in a DST
    change is still one whole local day.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, not {days}")
    first = run_day + timedelta(days=offset_days)
    return first, first + timedelta(days=days - 1)


# --- Job names -------------------------------------------------------------------------------

# A Kubernetes CronJob names each Job "<cronjob>-<scheduled time in minutes since the epoch>".
_JOB_NAME_MINUTES = re.compile(r"-([0-9]{7,10})$")
# Plausible suffixes only (2001-09-09 .. 2128-06-11), so an unrelated number such as the 42 of
# "run-42" is not read as a time.
_MIN_SCHEDULED_MINUTE = 16_666_667
_MAX_SCHEDULED_MINUTE = 5_000_000_000 // 60


def scheduled_job_name(cronjob: str, scheduled: datetime) -> str:
    """The Job a CronJob starts for a time: ``<cronjob>-<minutes since the epoch>``.

    Kubernetes' own naming (getJobName); the operator names the record of a missed time the
    same way, so a time never gets two records.
    """
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def scheduled_time_from_job_name(job_name: str | None) -> datetime | None:
    """The scheduled minute (UTC) a CronJob encoded in its Job's name, or None."""
    if not job_name:
        return None
    match = _JOB_NAME_MINUTES.search(job_name)
    if match is None:
        return None
    minutes = int(match.group(1))
    if not _MIN_SCHEDULED_MINUTE <= minutes <= _MAX_SCHEDULED_MINUTE:
        return None
    return datetime.fromtimestamp(minutes * 60, tz=UTC)


def is_job_of_cronjob(job_name: str, cronjob: str) -> bool:
    """Whether ``job_name`` is one a CronJob named ``cronjob`` starts (``<cronjob>-<minute>``)."""
    if not job_name.startswith(cronjob):
        return False
    suffix = job_name[len(cronjob) :]
    return _JOB_NAME_MINUTES.fullmatch(suffix) is not None and (
        scheduled_time_from_job_name(job_name) is not None
    )
