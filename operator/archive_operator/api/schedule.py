"""ArchiveSchedule: the models of its spec and status (see crds/, the one source of truth).

Defaults here equal the CRD's; tests/unit/test_api_defaults.py fails when they differ.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Condition, KubeModel, ObjectMeta

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Quantity = int | str


class Daily(KubeModel):
    at: str


class Weekly(KubeModel):
    days: list[Weekday]
    at: str


class ScheduleEntry(KubeModel):
    name: str
    daily: Daily | None = None
    weekly: Weekly | None = None
    cron: str | None = None
    jitter_minutes: int = 0

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ScheduleEntry:
        kinds = [k for k in (self.daily, self.weekly, self.cron) if k is not None]
        if len(kinds) != 1:
            raise ValueError(f"entry {self.name}: needs exactly one of daily, weekly or cron")
        return self

    @property
    def kind(self) -> Literal["daily", "weekly", "cron"]:
        if self.daily is not None:
            return "daily"
        if self.weekly is not None:
            return "weekly"
        return "cron"

    def describe(self) -> str:
        """Short human form for the Schedules printer column, e.g. "daily 23:59"."""
        if self.daily is not None:
            return f"daily {self.daily.at}"
        if self.weekly is not None:
            return f"weekly {','.join(self.weekly.days)} {self.weekly.at}"
        return f"cron {self.cron}"


class Window(KubeModel):
    offset_days: int = 0
    days: int = 1


class UrlRef(KubeModel):
    url: str


class IcsFeed(KubeModel):
    """An iCalendar feed: its URL in the spec, or (a private feed whose token is in its path or
    query) under a key of the credentials Secret, which only the runner reads (mounted)."""

    url: str | None = None
    url_secret_key: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> IcsFeed:
        if (self.url is None) == (self.url_secret_key is None):
            raise ValueError(
                "ics needs exactly one of url or urlSecretKey (urlSecretKey: the key of the "
                "credentials Secret that holds a private feed's URL)"
            )
        return self


GRAPH_ENDPOINT = "https://graph.microsoft.com"  # the CRD's defaults, said in its rules
GRAPH_AUTHORITY_HOST = "https://login.microsoftonline.com"


class GraphCalendar(KubeModel):
    """A Microsoft 365 calendar reached through Microsoft Graph as an app of its tenant."""

    tenant_id: str
    client_id: str
    mailbox: str
    calendar: str | None = None  # name or ID; a source's default: the mailbox's default one
    endpoint: str = GRAPH_ENDPOINT
    authority_host: str = GRAPH_AUTHORITY_HOST


class Source(KubeModel):
    caldav: UrlRef | None = None
    ics: IcsFeed | None = None
    graph: GraphCalendar | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if sum(x is not None for x in (self.caldav, self.ics, self.graph)) != 1:
            raise ValueError("source needs exactly one of caldav, ics or graph")
        return self

    @property
    def type(self) -> Literal["caldav", "ics", "graph"]:
        if self.caldav is not None:
            return "caldav"
        return "ics" if self.ics is not None else "graph"

    @property
    def url(self) -> str | None:
        """The URL given in the spec; None when it is in the credentials Secret, or for Graph
        (a mailbox and calendar, not a URL)."""
        if self.caldav is not None:
            return self.caldav.url
        return self.ics.url if self.ics is not None else None

    @property
    def url_secret_key(self) -> str | None:
        """The credentials Secret's key that holds the source URL, if that is where it is."""
        return self.ics.url_secret_key if self.ics is not None else None


class DirectoryDestination(KubeModel):
    claim_name: str
    sub_path: str = ""


class Destination(KubeModel):
    caldav: UrlRef | None = None
    directory: DirectoryDestination | None = None
    graph: GraphCalendar | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Destination:
        if sum(x is not None for x in (self.caldav, self.directory, self.graph)) != 1:
            raise ValueError("destination needs exactly one of caldav, directory or graph")
        if self.graph is not None and self.graph.calendar is None:
            raise ValueError("destination.graph needs calendar: the archive calendar's name or ID")
        return self

    @property
    def type(self) -> Literal["caldav", "directory", "graph"]:
        if self.caldav is not None:
            return "caldav"
        return "directory" if self.directory is not None else "graph"


class SecretRef(KubeModel):
    name: str


class SecretKeyRef(KubeModel):
    name: str
    key: str


class History(KubeModel):
    successful_runs: int = 10
    failed_runs: int = 10


class Resources(KubeModel):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class Runner(KubeModel):
    resources: Resources | None = None
    # Unset: the operator's defaults (settings), which the installation may change.
    active_deadline_seconds: int | None = None
    backoff_limit: int | None = None
    ttl_seconds_after_finished: int | None = None


NotifyEvent = Literal["failure", "recovery", "success"]


def _default_notify_events() -> list[NotifyEvent]:
    return ["failure", "recovery"]


class Webhook(KubeModel):
    url_secret_ref: SecretKeyRef
    events: list[NotifyEvent] = Field(default_factory=_default_notify_events)


class Notify(KubeModel):
    webhook: Webhook | None = None


class ArchiveScheduleSpec(KubeModel):
    user: str
    suspend: bool = False
    time_zone: str = "UTC"
    schedules: list[ScheduleEntry] = Field(default_factory=list)
    window: Window = Field(default_factory=Window)
    source: Source
    destination: Destination
    credentials_secret_ref: SecretRef | None = None
    # Credentials over plain http:// to a host that is not loopback: refused by the runner
    # unless true (contract.ENV_ALLOW_INSECURE_CREDENTIALS).
    allow_insecure_credentials: bool = False
    recurrence: Literal["occurrences", "series"] = "occurrences"
    on_change: Literal["keep", "update"] = "keep"
    concurrency_policy: Literal["Forbid", "Allow", "Replace"] = "Forbid"
    starting_deadline_seconds: int | None = None
    history: History = Field(default_factory=History)
    runner: Runner = Field(default_factory=Runner)
    notify: Notify | None = None


class ScheduleEntryStatus(KubeModel):
    name: str
    cron_job_name: str | None = None
    cron: str | None = None
    next_run_time: datetime | None = None
    # Every scheduled time of the entry up to this one has a run or a Skipped record (missed.py).
    last_checked_time: datetime | None = None


class LastRun(KubeModel):
    name: str | None = None
    phase: str | None = None
    completion_time: datetime | None = None
    counts: dict[str, int] | None = None


class DateRange(KubeModel):
    start: date
    end: date


class CoverageGap(KubeModel):
    """Consecutive owed local days not archived yet, for one reason (coverage.py)."""

    start: date
    end: date
    reason: str
    message: str
    # When the schedule's own runs had their last chance at the first day: from then on only a
    # catch-up run archives it, and Healthy turns False once it is older than the grace.
    due_time: datetime | None = None


class Coverage(KubeModel):
    """Which local days (in spec.timeZone) the schedule owes and has archived (coverage.py)."""

    since: date
    covered_through: date | None = None
    # Days archived after coveredThrough (a memory: the runs that archived them may be pruned).
    covered: list[DateRange] = Field(default_factory=list)
    gaps: list[CoverageGap] = Field(default_factory=list)  # the oldest few
    missing_days: int = 0
    catch_up_failures: int | None = None
    next_catch_up_time: datetime | None = None


class ArchiveScheduleStatus(KubeModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    schedules_summary: str | None = None
    next_run_time: datetime | None = None
    schedules: list[ScheduleEntryStatus] = Field(default_factory=list)
    last_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None
    last_failure_time: datetime | None = None
    consecutive_failures: int | None = None
    active_runs: list[str] = Field(default_factory=list)
    last_run: LastRun | None = None
    # Scheduled times the CronJobs did not start (missed.py): all of them, the newest, and
    # how many since the last scheduled run that did start.
    missed_runs: int | None = None
    last_missed_time: datetime | None = None
    consecutive_missed: int | None = None
    coverage: Coverage | None = None

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class ArchiveSchedule(KubeModel):
    """The whole resource, parsed once from a watch event or a GET."""

    metadata: ObjectMeta
    spec: ArchiveScheduleSpec
    status: ArchiveScheduleStatus = Field(default_factory=ArchiveScheduleStatus)

    @classmethod
    def from_body(cls, body: Any) -> ArchiveSchedule:
        """Parse a kopf Body or a plain dict (pydantic.ValidationError if it does not fit)."""
        return cls.model_validate(
            {
                "metadata": dict(body.get("metadata") or {}),
                "spec": dict(body.get("spec") or {}),
                "status": dict(body.get("status") or {}),
            }
        )
