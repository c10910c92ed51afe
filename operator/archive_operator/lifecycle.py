"""Pure: the runs of one schedule, their Jobs → each run's status and what to do next.

One level-based decision over everything a schedule has (its ArchiveRuns and the Jobs made for
them), so any trigger, a retried reconcile or a restarted operator reaches the same result:

* a manual or backfill run is validated, then waits (Pending, with a reason) or gets its Job;
  the Job's name is derived from the run's, so it is never created twice;
* the schedule's concurrencyPolicy covers every trigger. Forbid: one run at a time; a scheduled
  Job that appears while another run is active is held (the operator suspends it: Kubernetes
  stops its pod if it had started; the runner is idempotent and reads its day from the Job's
  name, so the delayed run archives the same days) and resumed when the slot frees. Replace: the
  newest run wins, the Jobs of older active runs are deleted. Allow: no limit;
* each run follows its Job: Pending → Running → Succeeded / PartiallySucceeded / Failed; a run
  whose pod cannot start is Blocked with the pod's reason meanwhile (blocked_runs.py);
* finished runs are counted once into the schedule's statistics, in completion order, after the
  watermark ``status.lastRun`` (completionTime, name);
* history: finished runs beyond spec.history (successful and unsuccessful separately) are
  deleted, oldest first;
* the record of a scheduled time its CronJob did not start (made by missed.py, annotated
  with the reason) turns Skipped; should a Job of that name appear after all, the record
  follows it. Such records never count as a started run (lastScheduleTime) or a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from archive_runner.contract import window_dates

from . import constants as c
from .api.base import kube_time
from .api.run import TERMINAL_PHASES, ArchiveRun, ArchiveRunStatus
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus, LastRun
from .blocked_runs import active_status, never_started
from .jobs import JobView, Verdict, verdict
from .pod_start import recheck_at
from .render import owner_reference
from .schedule import load_time_zone

MAX_RUN_DAYS = 366  # the CRD's bound on end - start, checked again here
CATCH_UP = "catchup"  # the trigger of runs the operator makes to close coverage gaps

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class RunEvent:
    run: str
    type: EventType
    reason: str
    message: str
    on_schedule: bool = False  # also shown on the ArchiveSchedule


@dataclass(frozen=True)
class Finished:
    """A run counted into the schedule's statistics by this reconcile."""

    run: ArchiveRun  # with its new status
    previous_failures: int  # consecutiveFailures before this run


@dataclass
class LifecyclePlan:
    statuses: dict[str, ArchiveRunStatus] = field(default_factory=dict)  # the new status per run
    start: list[ArchiveRun] = field(default_factory=list)  # create their Jobs
    suspend: list[str] = field(default_factory=list)  # Job names
    resume: list[str] = field(default_factory=list)
    delete_jobs: list[JobView] = field(default_factory=list)
    prune: list[ArchiveRun] = field(default_factory=list)
    adopt: list[ArchiveRun] = field(default_factory=list)  # need the schedule as owner
    events: list[RunEvent] = field(default_factory=list)
    finished: list[Finished] = field(default_factory=list)
    schedule_status: ArchiveScheduleStatus | None = None
    queued: int = 0
    # When a decision changes with time alone (a pod's start-up grace ends): reconcile again.
    recheck_at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    """Why runs that could start may not (schedule-wide)."""

    reason: str
    message: str


def local_today(now: datetime, time_zone: str) -> date:
    try:
        zone = load_time_zone(time_zone)
    except ValueError:
        zone = load_time_zone("UTC")
    return now.astimezone(zone).date()


def validate_run(
    run: ArchiveRun, schedule: ArchiveSchedule, now: datetime
) -> tuple[str, str] | None:
    """(reason, message) if a manual/backfill run cannot run against this schedule."""
    spec = run.spec
    if spec.trigger in ("scheduled", CATCH_UP) and (
        run.metadata.labels.get(c.LABEL_TRIGGER) != spec.trigger
    ):
        return (
            "InvalidTrigger",
            f"spec.trigger: {spec.trigger!r} is set by the operator for the runs it makes "
            "(CronJob runs, catch-up runs); create the run with trigger manual or backfill",
        )
    created, schedule_created = (
        run.metadata.creation_timestamp,
        schedule.metadata.creation_timestamp,
    )
    if created is not None and schedule_created is not None and created < schedule_created:
        # Admission checked the run against the schedules that existed when it was created
        # (the ownership policy); this one came later, so the run was never checked against
        # its user (e.g. a run naming a schedule another user was about to create).
        return (
            "RunPredatesSchedule",
            f"spec.scheduleRef.name: the run was created {kube_time(created)}, before "
            f"ArchiveSchedule {schedule.metadata.name!r} existed ({kube_time(schedule_created)}), "
            "so it was never checked against that schedule's user; create the run again now "
            "that the schedule exists",
        )
    if schedule.metadata.deletion_timestamp is not None:
        return (
            "ScheduleDeleting",
            f"spec.scheduleRef.name: {schedule.metadata.name!r} is being deleted; "
            "create the run against another schedule",
        )
    if spec.end < spec.start:
        return (
            "InvalidRange",
            f"spec.end: {spec.end.isoformat()!r} is before spec.start "
            f"{spec.start.isoformat()!r}; use an end on or after the start",
        )
    days = (spec.end - spec.start).days + 1
    if days > MAX_RUN_DAYS:
        return (
            "InvalidRange",
            f"spec.end: {spec.end.isoformat()!r} makes a run of {days} days; a run covers at "
            f"most {MAX_RUN_DAYS} days, split the backfill into several runs",
        )
    today = local_today(now, schedule.spec.time_zone)
    if spec.end > today:
        return (
            "InvalidRange",
            f"spec.end: {spec.end.isoformat()!r} is after today ({today.isoformat()} in "
            f"{schedule.spec.time_zone}); archive only days that have begun",
        )
    return None


def _order(run: ArchiveRun) -> tuple[datetime, str]:
    created = run.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC)
    return created, run.metadata.name


def finish_key(run: ArchiveRun, status: ArchiveRunStatus) -> tuple[datetime, str]:
    done = status.completion_time or datetime.min.replace(tzinfo=UTC)
    return done, run.metadata.name


def _job_of(run: ArchiveRun, jobs: dict[str, JobView]) -> tuple[JobView | None, str | None]:
    """The run's Job, or a conflict message if its name is taken by another object's Job."""
    if run.spec.trigger == "scheduled":
        return jobs.get(run.metadata.name), None
    name = c.run_job_name(run.metadata.name)
    job = jobs.get(name)
    if job is None:
        return None, None
    if job.controller_uid != run.metadata.uid:
        return None, f"Job {name} exists and is not controlled by this run; rename the run"
    return job, None


def _with(status: ArchiveRunStatus, **changes: Any) -> ArchiveRunStatus:
    return status.model_copy(update=changes)


def _terminal(status: ArchiveRunStatus, v: Verdict, job: JobView) -> ArchiveRunStatus:
    result = job.result
    counts = dict(result.counts) if result and result.counts else status.counts
    archived = None
    if counts is not None:
        # Events the archive holds for the run's days: written now or already there unchanged,
        # so an idempotent re-run of an archived day does not read as "0 archived".
        archived = counts.get("created", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)
    return _with(
        status,
        phase=v.phase,
        reason=v.reason,
        message=v.message,
        job_name=job.name,
        start_time=status.start_time or job.start_time or job.created,
        completion_time=v.completion_time,
        counts=counts,
        archived=archived,
        errors=list(result.errors) if result else [],
    )


def _failed(status: ArchiveRunStatus, reason: str, message: str, now: datetime) -> ArchiveRunStatus:
    return _with(status, phase="Failed", reason=reason, message=message, completion_time=now)


def _truncate(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(microsecond=0)


def plan_lifecycle(
    schedule: ArchiveSchedule,
    runs: list[ArchiveRun],
    jobs: list[JobView],
    now: datetime,
    hold: Hold | None = None,
) -> LifecyclePlan:
    """Decide everything about the runs of ``schedule`` (see the module doc).

    ``hold`` keeps queued runs from starting (schedule suspended or not Ready).
    """
    now = _truncate(now)
    plan = LifecyclePlan()
    by_name = {j.name: j for j in jobs}
    new: dict[str, ArchiveRunStatus] = {}
    job_of: dict[str, JobView] = {}
    waiting: list[ArchiveRun] = []  # may start: manual runs without a Job, held scheduled Jobs
    active: list[ArchiveRun] = []

    for run in sorted(runs, key=_order):
        name = run.metadata.name
        status = run.status
        if run.metadata.deletion_timestamp is not None:
            continue
        if run.spec.trigger != "scheduled" and not any(
            ref.get("uid") == schedule.metadata.uid for ref in run.metadata.owner_references
        ):
            plan.adopt.append(run)
        if run.terminal:
            if not (is_missed_record(run) and status.phase == "Skipped" and name in by_name):
                new[name] = status
                continue
            # A Job appeared for a time recorded as missed after all: the record follows it.
            status = ArchiveRunStatus()
        if status.observed_generation != run.metadata.generation:
            status = _with(status, observed_generation=run.metadata.generation)
        job, conflict = _job_of(run, by_name)
        if conflict is not None:
            new[name] = _failed(status, "JobNameConflict", conflict, now)
            continue
        if job is None:
            if is_missed_record(run):  # a time its CronJob did not start (missed.py)
                annotations = run.metadata.annotations
                new[name] = _with(
                    status,
                    phase="Skipped",
                    reason=annotations[c.ANNOTATION_MISSED_REASON],
                    message=annotations.get(c.ANNOTATION_MISSED_MESSAGE, ""),
                    completion_time=now,
                )
                continue
            recorded = run.metadata.labels.get(c.LABEL_TRIGGER) == "scheduled"
            if (run.spec.trigger == "scheduled" and recorded) or status.job_name:
                message = "the run's Job was deleted before its result was recorded"
                new[name] = _failed(status, "JobDeleted", message, now)
                continue
            problem = validate_run(run, schedule, now)
            if problem is not None:
                new[name] = _failed(status, problem[0], problem[1], now)
                continue
            new[name] = status
            waiting.append(run)
            continue
        job_of[name] = job
        done = verdict(job, now)
        if done is not None:
            new[name] = _terminal(status, never_started(done, status, job), job)
        elif job.deleting:
            new[name] = status
        elif job.suspended:
            new[name] = status
            waiting.append(run)
        else:
            new[name] = active_status(status, job, now)
            plan.recheck_at = _earlier(plan.recheck_at, recheck_at(job.waiting, now))
            active.append(run)

    _concurrency(schedule, waiting, active, job_of, new, plan, now, hold)
    plan.queued = sum(1 for s in new.values() if s.phase == "Pending")
    for run in runs:
        name = run.metadata.name
        if name in new:
            plan.events.extend(_transition_events(run, run.status, new[name]))
    plan.statuses = new
    plan.schedule_status, plan.finished = _statistics(schedule, runs, new, now)
    plan.prune = _prune(schedule, runs, new)
    for run in plan.prune:
        # A pruned scheduled record takes its Job along, or the Job would be recorded again.
        job = by_name.get(run.metadata.name)
        if run.spec.trigger == "scheduled" and job is not None and job not in plan.delete_jobs:
            plan.delete_jobs.append(job)
    return plan


def _pending(status: ArchiveRunStatus, reason: str, message: str) -> ArchiveRunStatus:
    return _with(status, phase="Pending", reason=reason, message=message)


def _concurrency(
    schedule: ArchiveSchedule,
    waiting: list[ArchiveRun],
    active: list[ArchiveRun],
    job_of: dict[str, JobView],
    new: dict[str, ArchiveRunStatus],
    plan: LifecyclePlan,
    now: datetime,
    hold: Hold | None,
) -> None:
    policy = schedule.spec.concurrency_policy

    def started_at(run: ArchiveRun) -> tuple[datetime, str]:
        job = job_of[run.metadata.name]
        return job.created or now, job.name

    def wait(run: ArchiveRun, reason: str, message: str) -> None:
        new[run.metadata.name] = _pending(new[run.metadata.name], reason, message)

    def start(run: ArchiveRun) -> None:
        name = run.metadata.name
        job = job_of.get(name)
        if job is not None:  # a held scheduled Job
            plan.resume.append(job.name)
            job_name = job.name
        else:
            plan.start.append(run)
            job_name = c.run_job_name(name)
        status = new[name]
        new[name] = _with(
            status,
            phase="Running",
            reason="JobCreated" if job is None else "JobResumed",
            message=f"Job {job_name} started",
            job_name=job_name,
            # Left to the Job (the cluster's clock), so startTime and completionTime compare.
            start_time=status.start_time or (job.start_time if job else None),
        )

    if policy == "Forbid" and len(active) > 1:
        # A scheduled Job appeared while another run held the slot: hold the newcomers.
        keep, *extra = sorted(active, key=started_at)
        for run in extra:
            if run.spec.trigger == "scheduled":
                plan.suspend.append(job_of[run.metadata.name].name)
                message = f"waiting for run {keep.metadata.name} (concurrencyPolicy Forbid)"
                wait(run, "ConcurrentRunActive", message)
                active.remove(run)
    if policy == "Replace" and len(active) > 1:
        *older, newest = sorted(active, key=started_at)
        for run in older:
            _replace(run, newest, job_of, new, plan, now)
            active.remove(run)

    if hold is not None:
        for run in waiting:
            job = job_of.get(run.metadata.name)
            if job is not None and not job.suspended:
                plan.suspend.append(job.name)
            wait(run, hold.reason, hold.message)
        return
    if not waiting:
        return
    if policy == "Allow":
        for run in waiting:
            start(run)
    elif policy == "Replace":
        *superseded, newest = waiting
        for run in superseded:
            new[run.metadata.name] = _with(
                new[run.metadata.name],
                phase="Skipped",
                reason="Replaced",
                message=f"replaced by the newer run {newest.metadata.name} "
                "(concurrencyPolicy Replace)",
                completion_time=now,
            )
        for run in list(active):
            _replace(run, newest, job_of, new, plan, now)
        start(newest)
    else:  # Forbid
        if active:
            holder = active[0].metadata.name
            for run in waiting:
                wait(
                    run,
                    "ConcurrentRunActive",
                    f"waiting for run {holder} (concurrencyPolicy Forbid)",
                )
            return
        first, *rest = waiting
        start(first)
        for run in rest:
            wait(
                run,
                "ConcurrentRunActive",
                f"waiting for run {first.metadata.name} (concurrencyPolicy Forbid)",
            )


def _replace(
    run: ArchiveRun,
    by: ArchiveRun,
    job_of: dict[str, JobView],
    new: dict[str, ArchiveRunStatus],
    plan: LifecyclePlan,
    now: datetime,
) -> None:
    plan.delete_jobs.append(job_of[run.metadata.name])
    new[run.metadata.name] = _failed(
        new[run.metadata.name],
        "Replaced",
        f"stopped: replaced by run {by.metadata.name} (concurrencyPolicy Replace)",
        now,
    )


_EVENT_OF_PHASE: dict[str, tuple[EventType, str]] = {
    "Running": ("Normal", "RunStarted"),
    "Succeeded": ("Normal", "RunSucceeded"),
    "PartiallySucceeded": ("Warning", "RunPartiallySucceeded"),
    "Failed": ("Warning", "RunFailed"),
    "Skipped": ("Warning", "RunSkipped"),
}


def _transition_events(
    run: ArchiveRun, old: ArchiveRunStatus, new: ArchiveRunStatus
) -> list[RunEvent]:
    name = run.metadata.name
    # Pending and Blocked runs say why they wait: a new Event when the reason changes.
    if new.phase == old.phase and (
        new.phase not in ("Pending", "Blocked") or new.reason == old.reason
    ):
        return []
    if new.phase == "Blocked":
        message = f"{new.reason}: {new.message}"
        return [RunEvent(name, "Warning", "RunBlocked", message, on_schedule=True)]
    if new.phase == "Pending":
        kind: EventType = "Warning" if new.reason == "ScheduleNotFound" else "Normal"
        return [RunEvent(name, kind, "RunQueued", f"{new.reason}: {new.message}")]
    if new.phase is None or new.phase not in _EVENT_OF_PHASE:
        return []
    kind, reason = _EVENT_OF_PHASE[new.phase]
    what = (
        f"{run.spec.trigger} run {name} ({run.spec.start.isoformat()}..{run.spec.end.isoformat()})"
    )
    if new.phase == "Running":
        message = f"Started {what} as Job {new.job_name}"
    else:
        archived = f", {new.archived} archived" if new.archived is not None else ""
        message = f"{new.phase}: {what}{archived}: {new.message or new.reason}"
    return [RunEvent(name, kind, reason, message, on_schedule=True)]


def _statistics(
    schedule: ArchiveSchedule,
    runs: list[ArchiveRun],
    new: dict[str, ArchiveRunStatus],
    now: datetime,
) -> tuple[ArchiveScheduleStatus, list[Finished]]:
    """The schedule's run fields, counting each finished run once (after the watermark)."""
    current = schedule.status
    last = current.last_run
    watermark = (
        (last.completion_time or datetime.min.replace(tzinfo=UTC), last.name or "")
        if last is not None
        else None
    )
    done = [
        (finish_key(run, new[run.metadata.name]), run)
        for run in runs
        if run.metadata.name in new
        and new[run.metadata.name].phase in TERMINAL_PHASES
        and not run.spec.dry_run
    ]
    done.sort(key=lambda item: item[0])
    failures = current.consecutive_failures or 0
    last_success, last_failure, last_run = (
        current.last_successful_time,
        current.last_failure_time,
        current.last_run,
    )
    finished: list[Finished] = []
    for key, run in done:
        # Counted once: when it becomes terminal, or (after a crash between the run's and the
        # schedule's status writes) when it is newer than the watermark. Two runs finishing in
        # the same second are both counted, whatever their names.
        newly = run.status.phase not in TERMINAL_PHASES
        if not newly and watermark is not None and key <= watermark:
            continue
        status = new[run.metadata.name]
        finished.append(Finished(run.model_copy(update={"status": status}), failures))
        if status.phase == "Succeeded":
            failures, last_success = 0, _later(last_success, status.completion_time)
        elif status.phase in ("Failed", "PartiallySucceeded"):
            failures, last_failure = failures + 1, _later(last_failure, status.completion_time)
        if watermark is None or key > watermark:
            watermark = key
            last_run = LastRun(
                name=run.metadata.name,
                phase=status.phase,
                completion_time=status.completion_time,
                counts=status.counts,
            )
    scheduled_times = [  # times a Job started for: records of missed times do not count
        t
        for run in runs
        if run.spec.trigger == "scheduled"
        and not (is_missed_record(run) and _phase(new, run) == "Skipped")
        and (t := scheduled_time(run)) is not None
    ]
    last_schedule = current.last_schedule_time
    for t in scheduled_times:
        last_schedule = _later(last_schedule, t)
    active = sorted(name for name, s in new.items() if s.phase in ("Running", "Blocked"))
    return (
        current.model_copy(
            update={
                "last_schedule_time": last_schedule,
                "last_successful_time": last_success,
                "last_failure_time": last_failure,
                "consecutive_failures": failures
                if (finished or current.consecutive_failures is not None)
                else None,
                "active_runs": active,
                "last_run": last_run,
            }
        ),
        finished,
    )


def is_missed_record(run: ArchiveRun) -> bool:
    """The record of a scheduled time its CronJob did not start (made by missed.py)."""
    return bool(run.metadata.annotations.get(c.ANNOTATION_MISSED_REASON))


def _phase(new: dict[str, ArchiveRunStatus], run: ArchiveRun) -> str | None:
    status = new.get(run.metadata.name)
    return (status or run.status).phase


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def scheduled_time(run: ArchiveRun) -> datetime | None:
    """The scheduled time a scheduled run's record names (None for other runs)."""
    raw = run.metadata.annotations.get(c.ANNOTATION_SCHEDULED_TIME)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _prune(
    schedule: ArchiveSchedule, runs: list[ArchiveRun], new: dict[str, ArchiveRunStatus]
) -> list[ArchiveRun]:
    """Finished runs beyond the history limits, oldest first (successful / others apart)."""
    succeeded: list[tuple[tuple[datetime, str], ArchiveRun]] = []
    others: list[tuple[tuple[datetime, str], ArchiveRun]] = []
    for run in runs:
        status = new.get(run.metadata.name)
        if status is None or status.phase not in TERMINAL_PHASES:
            continue
        bucket = succeeded if status.phase == "Succeeded" else others
        bucket.append((finish_key(run, status), run))
    doomed: list[tuple[tuple[datetime, str], ArchiveRun]] = []
    for bucket, limit in (
        (succeeded, schedule.spec.history.successful_runs),
        (others, schedule.spec.history.failed_runs),
    ):
        bucket.sort(key=lambda item: item[0])
        doomed.extend(bucket[: max(0, len(bucket) - limit)])
    return [run for _, run in sorted(doomed, key=lambda item: item[0])]


# --- records of scheduled runs ---------------------------------------------------------------


def scheduled_window(
    schedule: ArchiveSchedule, scheduled: datetime, day_shift: int
) -> tuple[date, date]:
    """The local days (first, last) a scheduled run archives: the runner's relative window,
    computed in advance by the same contract function.

    The run's day is the scheduled time's local day; a jitter ``day_shift`` (a run pushed past
    midnight) moves the whole window that many days earlier, as render.runner_env does.
    """
    run_day = local_today(scheduled, schedule.spec.time_zone)
    window = schedule.spec.window
    return window_dates(run_day, window.offset_days - day_shift, window.days)


def record_for_job(
    schedule: ArchiveSchedule, job: JobView, day_shift: int, now: datetime
) -> dict[str, Any]:
    """The ArchiveRun recording a Job the CronJob started (named after the Job)."""
    scheduled = job.scheduled_time or job.created or _truncate(now)
    return scheduled_record(schedule, job.name, job.labels.get(c.LABEL_ENTRY), scheduled, day_shift)


def operator_run(
    schedule: ArchiveSchedule,
    name: str,
    trigger: str,
    start: date,
    end: date,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """An ArchiveRun the operator makes (``trigger``: scheduled or catchup), owned by the
    schedule, labelled with its trigger so that validate_run tells it from a user's claim."""
    spec: dict[str, Any] = {
        "scheduleRef": {"name": schedule.metadata.name},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "trigger": trigger,
        "dryRun": False,
    }
    if requested_by:
        spec["requestedBy"] = requested_by
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.RUN_KIND,
        "metadata": {
            "name": name,
            "namespace": schedule.metadata.namespace,
            "labels": {
                **c.common_labels(),
                c.LABEL_SCHEDULE: c.label_value(schedule.metadata.name),
                c.LABEL_USER: c.label_value(schedule.spec.user),
                c.LABEL_TRIGGER: trigger,
                **(labels or {}),
            },
            "annotations": {c.ANNOTATION_USER: schedule.spec.user, **(annotations or {})},
            "ownerReferences": [owner_reference(schedule)],
        },
        "spec": spec,
    }


def scheduled_record(
    schedule: ArchiveSchedule,
    name: str,
    entry: str | None,
    scheduled: datetime,
    day_shift: int,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ArchiveRun of one scheduled time of an entry (``name``: the Job's name)."""
    start, end = scheduled_window(schedule, scheduled, day_shift)
    stamp = kube_time(scheduled)
    return operator_run(
        schedule,
        name,
        "scheduled",
        start,
        end,
        labels={c.LABEL_ENTRY: entry} if entry else None,
        annotations={c.ANNOTATION_SCHEDULED_TIME: stamp, **(annotations or {})},
    )


def catch_up_run(schedule: ArchiveSchedule, name: str, start: date, end: date) -> dict[str, Any]:
    """The ArchiveRun the operator makes to archive owed days no run archived (coverage.py)."""
    return operator_run(schedule, name, CATCH_UP, start, end, requested_by=c.OPERATOR_NAME)


def unrecorded_jobs(
    schedule: ArchiveSchedule, runs: list[ArchiveRun], jobs: list[JobView]
) -> list[JobView]:
    """Jobs this schedule's CronJobs started that have no ArchiveRun yet."""
    recorded = {run.metadata.name for run in runs}
    return [
        job
        for job in jobs
        if job.controller_kind == "CronJob"
        and job.labels.get(c.LABEL_ENTRY)
        and job.name not in recorded
        and not job.deleting
    ]
