"""Pure: one observation of a schedule's run wing → one plan (the kubebuilder shape).

The reconcile of a schedule's runs is three steps (runs.py carries out 1 and 3):

1. **observe** — read the schedule's runs, Jobs and pods once, into a :class:`World`, with the
   CronJobs as the reconcile left them and the schedule resolved once (render.Resolved);
2. **decide** — :func:`decide`, here, without I/O or clock reads: the records of the Jobs the
   CronJobs started and of the times they did not start (missed.py), every run's status, the
   Jobs to create, hold, resume or delete and the runs to prune (lifecycle.py), the catch-up
   run for days no run archived (coverage.py), the Events, and the schedule's whole status
   with its Healthy condition (health.py) — one :class:`Plan`;
3. **act** — create, patch and delete what the plan says, in that order.

The records decided in step 2 join the runs the lifecycle decides about in the same pass (as
runs the API server will have made), so a reconcile never re-reads what it has just written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import constants as c
from . import coverage, health, missed
from .api.base import kube_time
from .api.run import ArchiveRun
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus, Coverage
from .blocked_runs import BLOCKED
from .jobs import JobView
from .lifecycle import (
    Hold,
    LifecyclePlan,
    catch_up_run,
    plan_lifecycle,
    record_for_job,
    scheduled_record,
    scheduled_window,
    unrecorded_jobs,
)
from .render import Resolved

Manifest = dict[str, Any]
CATCH_UP_STARTED = "CatchUpStarted"  # the Event on the schedule when a catch-up run is made


@dataclass(frozen=True)
class World:
    """Everything the run wing's decision depends on, observed once."""

    schedule: ArchiveSchedule  # its status: as the CronJob side of this reconcile left it
    previous: ArchiveScheduleStatus  # the status as read, before this reconcile
    resolved: Resolved | None  # None: the schedule is not Ready (missed times and coverage wait)
    cronjobs: Mapping[str, Manifest]  # by name, as they are after this reconcile
    runs: Sequence[ArchiveRun]
    jobs: Sequence[JobView]
    now: datetime
    hold: Hold | None
    operator_since: datetime  # when this operator process started (missed.OPERATOR_DOWN)
    health_grace: timedelta


@dataclass(frozen=True)
class ScheduleEvent:
    type: str
    reason: str
    message: str


@dataclass
class Plan:
    job_records: list[Manifest] = field(default_factory=list)  # records of the CronJobs' Jobs
    missed_records: list[Manifest] = field(default_factory=list)  # missed times to record
    lifecycle: LifecyclePlan = field(default_factory=LifecyclePlan)
    missed: dict[str, missed.EntryCheck] = field(default_factory=dict)
    catch_up: Manifest | None = None
    events: list[ScheduleEvent] = field(default_factory=list)  # on the schedule
    status: ArchiveScheduleStatus = field(default_factory=ArchiveScheduleStatus)
    recheck_at: datetime | None = None


def decide(world: World) -> Plan:
    """The whole plan for the schedule's runs (see the module doc)."""
    schedule, now, resolved = world.schedule, world.now, world.resolved
    plan = Plan()
    shifts = {e.entry.name: e.day_shift for e in resolved.entries} if resolved else {}

    # Records of the Jobs the CronJobs started.
    for job in unrecorded_jobs(schedule, list(world.runs), list(world.jobs)):
        shift = shifts.get(job.labels.get(c.LABEL_ENTRY, ""), 0)
        plan.job_records.append(record_for_job(schedule, job, shift, now))

    # The times they did not start, judged with those Jobs (and their records) in view.
    runs = [*world.runs, *(_as_run(m, now) for m in plan.job_records)]
    if resolved is not None:
        plan.missed = _missed_checks(world, runs)
        for item in resolved.entries:
            check = plan.missed.get(item.entry.name)
            if check is None:
                continue
            plan.missed_records += [_missed_record(schedule, item, t) for t in check.to_record]
            if check.unrecorded:
                plan.events.append(_too_many_missed(item.entry.name, check))
        runs += [_as_run(m, now) for m in plan.missed_records]

    # Every run's status, Jobs to start, hold or stop, history.
    plan.lifecycle = lifecycle = plan_lifecycle(schedule, runs, list(world.jobs), now, world.hold)
    assert lifecycle.schedule_status is not None
    status = missed.with_missed(lifecycle.schedule_status, plan.missed)

    # Coverage: owed days, gaps, the catch-up run.
    covered = _coverage(world, runs, lifecycle)
    gaps: Sequence[Any] = ()
    if covered is not None:
        status = status.model_copy(update={"coverage": covered.coverage})
        gaps = covered.gaps
        up = covered.catch_up
        if up is not None:
            plan.catch_up = catch_up_run(schedule, up.name, up.start, up.end)
            days = f"{up.start.isoformat()}..{up.end.isoformat()}"
            plan.events.append(
                ScheduleEvent(
                    "Normal",
                    CATCH_UP_STARTED,
                    f"archiving {days}, not archived yet ({up.reason}: {up.message}): "
                    f"catch-up run {up.name}",
                )
            )

    # Health, from the status as it now is.
    blocked = [
        (name, s.message or s.reason or "")
        for name, s in lifecycle.statuses.items()
        if s.phase == BLOCKED
    ]
    condition = health.healthy_condition(
        schedule.model_copy(update={"status": status}),
        now,
        grace=world.health_grace,
        blocked=blocked,
        gaps=gaps,
    )
    conditions = [condition if x.type == health.HEALTHY else x for x in status.conditions]
    if condition not in conditions:
        conditions.append(condition)
    plan.status = status.model_copy(update={"conditions": conditions})
    plan.recheck_at = _earliest(
        lifecycle.recheck_at, covered.recheck_at if covered is not None else None
    )
    return plan


def _as_run(manifest: Manifest, now: datetime) -> ArchiveRun:
    """A run this plan creates, as the lifecycle will see it once the API server has it."""
    meta = {**manifest["metadata"], "creationTimestamp": now}
    return ArchiveRun.model_validate({"metadata": meta, "spec": manifest["spec"]})


def _missed_checks(world: World, runs: Sequence[ArchiveRun]) -> dict[str, missed.EntryCheck]:
    assert world.resolved is not None
    schedule = world.schedule
    watermarks = {e.name: e.last_checked_time for e in schedule.status.schedules}
    checks = {}
    for item in world.resolved.entries:
        manifest = world.cronjobs.get(item.cronjob_name)
        if manifest is None:
            continue
        name = item.entry.name
        checks[name] = missed.check_entry(
            missed.cronjob_state(manifest),
            missed.entry_history(name, item.cronjob_name, runs, world.jobs),
            watermarks.get(name),
            world.now,
            operator_since=world.operator_since,
            resumed=missed.was_suspended(world.previous, name),
            limit=schedule.spec.history.failed_runs,
        )
    return checks


def _missed_record(schedule: ArchiveSchedule, item: Any, time: missed.MissedTime) -> Manifest:
    start, end = scheduled_window(schedule, time.time, item.day_shift)
    message = (
        f"{time.message}; days of {start.isoformat()}..{end.isoformat()} no other "
        "run archives get a catch-up run (status.coverage)"
    )
    annotations = {
        c.ANNOTATION_MISSED_REASON: time.reason,
        c.ANNOTATION_MISSED_MESSAGE: message,
    }
    return scheduled_record(
        schedule, time.name, item.entry.name, time.time, item.day_shift, annotations
    )


def _too_many_missed(entry: str, check: missed.EntryCheck) -> ScheduleEvent:
    first, last = check.missed[0].time, check.missed[-1].time
    return ScheduleEvent(
        "Warning",
        "TooManyMissedTimes",
        f"entry {entry}: {len(check.missed)} scheduled times from {kube_time(first)} to "
        f"{kube_time(last)} were not started; the newest {len(check.to_record)} are recorded as "
        f"Skipped ArchiveRuns (at most {missed.MAX_RECORDS_PER_ENTRY} per entry and "
        "reconcile, and no more than spec.history.failedRuns); status.missedRuns counts them "
        "all",
    )


def _coverage(
    world: World, runs: Sequence[ArchiveRun], lifecycle: LifecyclePlan
) -> coverage.CoverageDecision | None:
    """None while the schedule cannot be resolved (not Ready): its coverage status stays."""
    if world.resolved is None:
        return None
    schedule = world.schedule
    window = schedule.spec.window
    entries = [
        coverage.EntryDays(
            item.entry.name, item.parsed, window.offset_days - item.day_shift, window.days
        )
        for item in world.resolved.entries
    ]
    spans = [
        coverage.RunSpan.of(run, lifecycle.statuses.get(run.metadata.name, run.status))
        for run in runs
    ]
    zone = world.resolved.time_zone
    previous = schedule.status.coverage
    if previous is None and world.previous.observed_generation is not None:
        # Reconciled before, but never with coverage (by an operator without it, or while the
        # schedule had no entries): days are owed from today on. Counting from its creation
        # would start a catch-up of every day before, at once for every such schedule.
        today = world.now.astimezone(zone).date()
        previous = Coverage(since=today, covered_through=today - timedelta(days=1))
    return coverage.decide(
        schedule.metadata.name,
        entries,
        zone,
        schedule.metadata.creation_timestamp or world.now,
        previous,
        spans,
        [coverage.RunSpan.of(item.run, item.run.status) for item in lifecycle.finished],
        world.now,
        hold=world.hold.reason if world.hold is not None else None,
    )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
