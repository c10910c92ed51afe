"""Pure: the scheduled times a CronJob did not start, each with the reason it was skipped.

The CronJob controller keeps no record of a time it skips: it starts only the most recent
unmet time, gives up on one whose ``startingDeadlineSeconds`` has passed, and with
``concurrencyPolicy: Forbid`` does not start while its previous Job is active (an Event at
most, and Events expire). So the operator works it out, per entry, the way the controller
decides (pkg/controller/cronjob): it walks the entry's cron times, in the schedule's time zone,
after the last time it has already accounted for (``status.schedules[].lastCheckedTime``) up
to ``now``. A time is

* **started** when a Job or an ArchiveRun of that name exists — the name is the Job's,
  ``<cronjob>-<minutes since the epoch>``, so a retried reconcile, a restarted operator or a
  late Job never makes a second record of one time;
* **missed** when it has neither and can no longer start: the CronJob's ``lastScheduleTime``
  is later (the controller never goes back), a later time of the entry has a Job, a later
  time has passed, or its starting deadline has passed — the last two only after a margin
  (:data:`SETTLE`) for clock skew between the operator and the controller;
* **open** otherwise (the most recent time, which may still start).

Missed times become ArchiveRuns in phase Skipped, named like their Job would have been, at
most :data:`MAX_RECORDS_PER_ENTRY` per entry and reconcile (the controller's own bound on
missed start times) and never more than the schedule keeps (``history.failedRuns``): the
newest are recorded, all are counted. The watermark moves to the last time before which
every time is started or missed, so nothing is examined twice and an unchanged resync
changes nothing.

Times while the schedule was suspended are not runs that were missed: nothing is checked
while it is suspended, and when it is resumed the watermark jumps to the latest time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from archive_runner.contract import is_job_of_cronjob, scheduled_job_name

from . import constants as c
from .api.base import kube_time
from .api.run import TERMINAL_PHASES, ArchiveRun
from .api.schedule import ArchiveScheduleStatus
from .jobs import JobView
from .lifecycle import is_missed_record, scheduled_time
from .pod_start import parse_time
from .schedule import CronError, CronSchedule, load_time_zone, next_run, parse_cron

MAX_RECORDS_PER_ENTRY = 100  # like the CronJob controller's "too many missed start times"
SCAN_LIMIT = 10_000  # cron times examined per entry and reconcile; the rest wait for the next
SETTLE = timedelta(seconds=60)  # clock skew between the operator and the CronJob controller
# How far back the latest time before "now" is looked for (on resume), shortest first.
_LOOKBACK = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
)

# Reasons, in the order they are considered (the first that applies names the cause).
CONCURRENT_RUN_ACTIVE = "ConcurrentRunActive"
CRONJOB_MISSING = "CronJobMissing"
OPERATOR_DOWN = "OperatorDown"
MISSED_STARTING_DEADLINE = "MissedStartingDeadline"
MISSED_SCHEDULE = "MissedSchedule"


@dataclass(frozen=True)
class CronJobState:
    """What the CronJob controller works from."""

    name: str
    schedule: str
    time_zone: str
    created: datetime | None
    last_schedule_time: datetime | None
    suspended: bool
    forbid: bool
    starting_deadline_seconds: int | None


def cronjob_state(manifest: Mapping[str, Any]) -> CronJobState:
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    status = manifest.get("status") or {}
    deadline = spec.get("startingDeadlineSeconds")
    return CronJobState(
        name=str(meta.get("name", "")),
        schedule=str(spec.get("schedule", "")),
        time_zone=str(spec.get("timeZone") or "UTC"),
        created=parse_time(meta.get("creationTimestamp")),
        last_schedule_time=parse_time(status.get("lastScheduleTime")),
        suspended=bool(spec.get("suspend")),
        # The API server defaults concurrencyPolicy to Allow.
        forbid=spec.get("concurrencyPolicy", "Allow") == "Forbid",
        starting_deadline_seconds=None if deadline is None else int(deadline),
    )


@dataclass(frozen=True)
class Activity:
    """A run of the entry holding the CronJob's concurrency slot from ``start`` to ``end``."""

    run: str
    start: datetime
    end: datetime | None  # None: still active


@dataclass(frozen=True)
class EntryHistory:
    """What exists for one entry's scheduled times (by name: ``<cronjob>-<minutes>``)."""

    started: frozenset[str]  # Jobs, and records of runs that had a Job
    missed: frozenset[str]  # records of missed times
    newest_recorded: datetime | None
    activity: tuple[Activity, ...]


@dataclass(frozen=True)
class MissedTime:
    name: str  # of the record, and of the Job it would have had
    time: datetime  # UTC
    reason: str
    message: str
    recorded: bool  # a record exists already (an earlier attempt made it)


@dataclass(frozen=True)
class EntryCheck:
    checked: datetime | None  # the new watermark (lastCheckedTime)
    missed: tuple[MissedTime, ...] = ()  # every missed time up to it, oldest first
    to_record: tuple[MissedTime, ...] = ()  # the newest of them that need a record

    @property
    def unrecorded(self) -> int:
        """Missed times that get no record (beyond the bound)."""
        return len(self.missed) - len(self.to_record) - sum(m.recorded for m in self.missed)


def entry_history(
    entry: str, cronjob: str, runs: Iterable[ArchiveRun], jobs: Iterable[JobView]
) -> EntryHistory:
    """The entry's Jobs and records, from everything the schedule has."""
    started = {job.name for job in jobs if is_job_of_cronjob(job.name, cronjob)}
    missed: set[str] = set()
    newest: datetime | None = None
    activity: list[Activity] = []
    for run in runs:
        name = run.metadata.name
        if run.spec.trigger != "scheduled" or not is_job_of_cronjob(name, cronjob):
            continue
        if run.metadata.labels.get(c.LABEL_ENTRY, entry) != entry:
            continue
        when = scheduled_time(run)
        if when is not None and (newest is None or when > newest):
            newest = when
        if is_missed_record(run) and run.status.phase in (None, "Skipped"):
            missed.add(name)
            continue
        started.add(name)
        if when is not None:
            end = run.status.completion_time if run.status.phase in TERMINAL_PHASES else None
            if run.status.phase in TERMINAL_PHASES and end is None:
                end = when
            activity.append(Activity(name, when, end))
    return EntryHistory(frozenset(started), frozenset(missed), newest, tuple(activity))


def previous_time(cron: CronSchedule, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest cron time at or before ``now`` (None if there is none within a year)."""
    for lookback in _LOOKBACK:
        latest = None
        current = now - lookback
        for _ in range(SCAN_LIMIT):
            found = next_run(cron, current, zone)
            if found is None or found > now:
                break
            latest = current = found
        if latest is not None:
            return latest.astimezone(UTC)
    return None


def check_entry(
    cronjob: CronJobState,
    history: EntryHistory,
    checked: datetime | None,
    now: datetime,
    *,
    operator_since: datetime,
    resumed: bool = False,
    limit: int = MAX_RECORDS_PER_ENTRY,
) -> EntryCheck:
    """The entry's missed times after ``checked`` (its last watermark) up to ``now``.

    ``operator_since``: when this operator process started (a time before it with no Job may
    have had one that was cleaned up unseen). ``resumed``: the schedule was suspended at the
    previous reconcile. ``limit``: at most this many records (also bounded by
    :data:`MAX_RECORDS_PER_ENTRY`).
    """
    try:
        cron = parse_cron(cronjob.schedule)
        zone = load_time_zone(cronjob.time_zone)
    except (CronError, ValueError):
        return EntryCheck(checked)  # Ready=False says why; nothing to compare with
    base = checked
    if base is None:  # first look: from the CronJob's creation, or the newest record
        known = [t for t in (cronjob.created, history.newest_recorded) if t is not None]
        if not known:
            return EntryCheck(None)
        base = max(known)
    if cronjob.suspended:
        return EntryCheck(base)
    if resumed:
        latest = previous_time(cron, zone, now)
        if latest is not None and latest > base:
            base = latest

    # The cluster's clock may be ahead of ours: the CronJob's own lastScheduleTime proves
    # that its time has come.
    horizon = max(now, cronjob.last_schedule_time or now)
    times: list[datetime] = []
    current = base
    while len(times) < SCAN_LIMIT:
        found = next_run(cron, current, zone)
        if found is None or found > horizon:
            break
        times.append(found.astimezone(UTC))
        current = found
    truncated = len(times) == SCAN_LIMIT
    names = [scheduled_job_name(cronjob.name, t) for t in times]

    started_after = [False] * len(times)  # does a later time of the entry have a Job?
    seen = False
    for i in range(len(times) - 1, -1, -1):
        started_after[i] = seen
        seen = seen or names[i] in history.started

    deadline = cronjob.starting_deadline_seconds
    last_started = cronjob.last_schedule_time

    def gone(i: int) -> bool:
        """Time i can no longer start (see the module doc)."""
        t = times[i]
        if (last_started is not None and t < last_started) or started_after[i]:
            return True
        if i + 1 < len(times) and times[i + 1] <= now - SETTLE:
            return True
        return deadline is not None and t + timedelta(seconds=deadline) + SETTLE < now

    missed: list[MissedTime] = []
    watermark = base
    for i, (t, name) in enumerate(zip(times, names, strict=True)):
        if truncated and i == len(times) - 1:
            break  # its successor is unknown: decided at the next reconcile
        if name in history.started:
            watermark = t
            continue
        if name in history.missed:
            missed.append(MissedTime(name, t, "", "", recorded=True))
            watermark = t
            continue
        if not gone(i):
            break  # open: the CronJob may still start it; later times are open too
        later = times[i + 1] if i + 1 < len(times) else last_started
        reason, message = _cause(cronjob, history, t, later, operator_since)
        missed.append(MissedTime(name, t, reason, message, recorded=False))
        watermark = t

    bound = max(0, min(limit, MAX_RECORDS_PER_ENTRY))
    newest = missed[len(missed) - bound :] if bound else []
    to_record = tuple(m for m in newest if not m.recorded)
    return EntryCheck(watermark, tuple(missed), to_record)


def _cause(
    cronjob: CronJobState,
    history: EntryHistory,
    t: datetime,
    later: datetime | None,
    operator_since: datetime,
) -> tuple[str, str]:
    """Why the CronJob did not start time ``t``: (reason, message)."""
    when = kube_time(t)
    if cronjob.forbid:
        holder = next(
            (a for a in history.activity if a.start < t and (a.end is None or a.end > t)),
            None,
        )
        if holder is not None:
            return (
                CONCURRENT_RUN_ACTIVE,
                f"not started at {when}: run {holder.run} of this entry was still active and "
                "the concurrencyPolicy is Forbid",
            )
    if cronjob.created is not None and t < cronjob.created:
        return (
            CRONJOB_MISSING,
            f"not started at {when}: CronJob {cronjob.name} did not exist then (it was "
            f"created {kube_time(cronjob.created)})",
        )
    if t < operator_since:
        return (
            OPERATOR_DOWN,
            f"no Job and no record for {when}: the operator was not running then (it started "
            f"{kube_time(operator_since)}); the CronJob did not start it, or its Job was removed "
            "(ttlSecondsAfterFinished, history limits) before it could be recorded",
        )
    if cronjob.starting_deadline_seconds is not None:
        return (
            MISSED_STARTING_DEADLINE,
            f"not started within startingDeadlineSeconds "
            f"({cronjob.starting_deadline_seconds}s) of {when}: the CronJob controller was "
            "down or late, or the cluster's clock jumped",
        )
    until = f" before {kube_time(later)}" if later is not None else ""
    return (
        MISSED_SCHEDULE,
        f"not started at {when}: the CronJob controller started nothing for it{until} and "
        "starts only the most recent missed time (e.g. after kube-controller-manager was down)",
    )


# --- the schedule's status ----------------------------------------------------------------------


def with_missed(
    status: ArchiveScheduleStatus, checks: Mapping[str, EntryCheck]
) -> ArchiveScheduleStatus:
    """``status`` with each entry's watermark and the missed-run counters updated.

    ``status.lastScheduleTime`` must already include the runs recorded by this reconcile:
    ``consecutiveMissed`` counts the missed times after the newest time a Job started. The
    counters stay absent until the first miss, so schedules that never miss never change.
    """
    entries = [
        e.model_copy(update={"last_checked_time": checks[e.name].checked})
        if e.name in checks
        else e
        for e in status.schedules
    ]
    new = sorted(m.time for check in checks.values() for m in check.missed)
    last_start = status.last_schedule_time
    previous = status.last_missed_time
    update: dict[str, Any] = {"schedules": entries}
    if new or status.missed_runs is not None:
        carried = status.consecutive_missed or 0
        if previous is None or (last_start is not None and last_start > previous):
            carried = 0
        since_start = [t for t in new if last_start is None or t > last_start]
        update["missed_runs"] = (status.missed_runs or 0) + len(new)
        update["last_missed_time"] = max([*new, *([previous] if previous else [])])
        update["consecutive_missed"] = carried + len(since_start)
    return status.model_copy(update=update)


def was_suspended(previous: ArchiveScheduleStatus, entry: str) -> bool:
    """The entry's status from the previous reconcile had no next run: it was suspended."""
    old = next((e for e in previous.schedules if e.name == entry), None)
    return (
        old is not None and old.next_run_time is None and previous.observed_generation is not None
    )
