"""Act on a schedule's runs: read runs, Jobs and pods, decide (lifecycle.py), write what changed.

Called by the Reconciler under the schedule's lock, after its CronJobs were reconciled, so one
trigger of any kind (a run, Job or pod event, a schedule change, the periodic resync) brings
the whole schedule in line. Every write is conditional on a change, so a resync with nothing
new makes no write request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pydantic

from . import constants as c
from . import coverage, health, missed
from .api.run import ArchiveRun, ArchiveRunStatus
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus
from .blocked_runs import BLOCKED
from .errors import Conflict, KubeError, NotFound
from .jobs import JobView, job_view, pods_by_job
from .kube import Kube
from .lifecycle import (
    Finished,
    Hold,
    LifecyclePlan,
    catch_up_run,
    plan_lifecycle,
    record_for_job,
    unrecorded_jobs,
)
from .missed_records import MissedRecorder
from .notify import RunOutcome, notification_kind, wanted_events
from .render import (
    ResolvedEntry,
    involved_run,
    involved_schedule,
    render_run_job,
    resolve_entries,
)
from .schedule import load_time_zone, parse_cron
from .seen import Hint
from .settings import Settings

log = logging.getLogger(__name__)

Manifest = dict[str, Any]


class Observer(Protocol):
    """Metrics and notifications: fed by the reconcile, never able to fail it."""

    def run_started(self, namespace: str, schedule: str, trigger: str) -> None: ...
    def run_finished(self, outcome: RunOutcome, duration: float | None, archived: int) -> None: ...
    def queued(self, namespace: str, schedule: str, count: int) -> None: ...
    def last_success(self, namespace: str, schedule: str, timestamp: float) -> None: ...
    def missed(self, namespace: str, schedule: str, reason: str, count: int) -> None: ...
    def notify(self, url: str, kind: str, outcome: RunOutcome) -> None: ...


class NoObserver:
    def run_started(self, namespace: str, schedule: str, trigger: str) -> None:
        pass

    def run_finished(self, outcome: RunOutcome, duration: float | None, archived: int) -> None:
        pass

    def queued(self, namespace: str, schedule: str, count: int) -> None:
        pass

    def last_success(self, namespace: str, schedule: str, timestamp: float) -> None:
        pass

    def missed(self, namespace: str, schedule: str, reason: str, count: int) -> None:
        pass

    def notify(self, url: str, kind: str, outcome: RunOutcome) -> None:
        pass


EventPoster = Callable[[Manifest, str, str, str], None]  # involved, type, reason, message
# Reconcile (namespace, schedule) again in so many seconds: for decisions that change with time
# alone (a pod's start-up grace ending), which no watch event and only a late resync would see.
Recheck = Callable[[str, str, float], None]


def run_status_patch(current: ArchiveRunStatus, new: ArchiveRunStatus) -> dict[str, Any]:
    """A merge patch of the run's status fields that changed ({} when none did)."""
    old_wire, new_wire = current.to_kube(), new.to_kube()
    keys = sorted(set(old_wire) | set(new_wire))
    return {k: new_wire.get(k) for k in keys if old_wire.get(k) != new_wire.get(k)}


def _span(run: ArchiveRun, status: ArchiveRunStatus) -> coverage.RunSpan:
    return coverage.RunSpan(
        name=run.metadata.name,
        trigger=run.spec.trigger,
        start=run.spec.start,
        end=run.spec.end,
        phase=status.phase,
        completion_time=status.completion_time,
        reason=status.reason,
        message=status.message,
        dry_run=run.spec.dry_run,
    )


def outcome_of(schedule: ArchiveSchedule, run: ArchiveRun, now: datetime) -> RunOutcome:
    status = run.status
    return RunOutcome(
        namespace=schedule.metadata.namespace,
        schedule=schedule.metadata.name,
        user=schedule.spec.user,
        run=run.metadata.name,
        trigger=run.spec.trigger,
        phase=status.phase or "Unknown",
        start=run.spec.start,
        end=run.spec.end,
        counts=dict(status.counts or {}),
        message=status.message or status.reason or "",
        completion_time=status.completion_time or now,
    )


class RunLifecycle:
    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        post_event: EventPoster,
        observer: Observer | None = None,
        since: datetime | None = None,
        recheck: Recheck | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.post_event = post_event
        self.observer: Observer = observer or NoObserver()
        self.recheck = recheck
        # ``since``: when this operator process started (missed.OPERATOR_DOWN).
        self.missed_times = MissedRecorder(
            kube, post_event, self.observer, since or datetime.min.replace(tzinfo=UTC)
        )

    # --- reading ------------------------------------------------------------------------------

    def _read(
        self, schedule: ArchiveSchedule, hint: Hint | None = None
    ) -> tuple[list[ArchiveRun], list[JobView]]:
        """The schedule's runs, and its Jobs with their pods (none read if ``hint`` shows none:
        seen.py says why that is safe)."""
        meta = schedule.metadata
        if hint is not None and not hint.may_have_runs(meta.namespace, meta.name):
            return [], []
        runs = []
        for body in self.kube.list_runs(meta.namespace):
            if (body.get("spec") or {}).get("scheduleRef", {}).get("name") != meta.name:
                continue
            try:
                runs.append(ArchiveRun.from_body(body))
            except pydantic.ValidationError as exc:
                log.warning("ignoring unparseable ArchiveRun %s: %s", body["metadata"]["name"], exc)
        selector = c.schedule_selector(meta.name)
        # Jobs before pods: a Job seen Complete then has its finished pod (and so the runner's
        # result) in the pod list read after it; the other order can see a Job that completed
        # between the two reads with its pod still running, and lose the run's counts.
        job_bodies = self.kube.list_jobs(meta.namespace, selector)
        pods = pods_by_job(self.kube.list_pods(meta.namespace, selector))
        jobs = [job_view(job, pods.get(job["metadata"]["name"], [])) for job in job_bodies]
        return runs, jobs

    # --- the reconcile ------------------------------------------------------------------------

    def reconcile(
        self,
        schedule: ArchiveSchedule,
        status: ArchiveScheduleStatus,
        now: datetime,
        hold: Hold | None,
        cronjobs: dict[str, Manifest] | None = None,
        resolved: list[ResolvedEntry] | None = None,
        hint: Hint | None = None,
    ) -> ArchiveScheduleStatus:
        """Bring the runs in line; returns ``status`` with the run fields and Healthy updated.

        ``cronjobs`` (by name) and ``resolved``: the schedule's CronJobs as they are after this
        reconcile and its entries; without them (schedule not Ready) missed times wait.
        ``hint``: what the watches have shown, for the first read only (after a write of our
        own the watches lag behind).
        """
        previous = schedule.status
        runs, jobs = self._read(schedule, hint)
        recorded = self._record_scheduled(schedule, runs, jobs, now)
        if recorded:
            runs, jobs = self._read(schedule)
        checks: dict[str, missed.EntryCheck] = {}
        if cronjobs is not None and resolved is not None:
            checks = self.missed_times.check(
                schedule, previous, status, resolved, cronjobs, runs, jobs, now
            )
            if self.missed_times.record(schedule, resolved, checks):
                runs, jobs = self._read(schedule)
        schedule = schedule.model_copy(update={"status": status})
        plan = plan_lifecycle(schedule, runs, jobs, now, hold)
        self._act(schedule, runs, plan, now)
        assert plan.schedule_status is not None
        new = missed.with_missed(plan.schedule_status, checks)
        covered = self._coverage(schedule, runs, plan, resolved, hold, now)
        if covered is not None:
            new = new.model_copy(update={"coverage": covered.coverage})
        blocked = [
            (name, status.message or status.reason or "")
            for name, status in plan.statuses.items()
            if status.phase == BLOCKED
        ]
        condition = health.healthy_condition(
            schedule.model_copy(update={"status": new}),
            now,
            grace=timedelta(seconds=self.settings.health_grace_seconds),
            blocked=blocked,
            gaps=covered.gaps if covered is not None else (),
        )
        conditions = [condition if x.type == health.HEALTHY else x for x in new.conditions]
        if condition not in conditions:
            conditions.append(condition)
        new = new.model_copy(update={"conditions": conditions})
        self._observe(schedule, plan, new, now)
        self.missed_times.observe(schedule, checks)
        recheck_at = plan.recheck_at
        if covered is not None and covered.recheck_at is not None:
            recheck_at = min(filter(None, (recheck_at, covered.recheck_at)))
        if recheck_at is not None and self.recheck is not None:
            meta = schedule.metadata
            delay = (recheck_at - now).total_seconds()
            self.recheck(meta.namespace, meta.name, max(delay, 0.0) + 1.0)
        return new

    def _coverage(
        self,
        schedule: ArchiveSchedule,
        runs: list[ArchiveRun],
        plan: LifecyclePlan,
        resolved: list[ResolvedEntry] | None,
        hold: Hold | None,
        now: datetime,
    ) -> coverage.CoverageDecision | None:
        """Decide the schedule's coverage (coverage.py) and start its catch-up run, if any.

        None while the entries cannot be resolved (not Ready): the coverage status stays.
        """
        if resolved is None:
            return None
        window = schedule.spec.window
        entries = [
            coverage.EntryDays(
                item.entry.name,
                parse_cron(item.cron),
                window.offset_days - item.day_shift,
                window.days,
            )
            for item in resolved
        ]
        spans = [_span(run, plan.statuses.get(run.metadata.name, run.status)) for run in runs]
        decision = coverage.decide(
            schedule.metadata.name,
            entries,
            load_time_zone(schedule.spec.time_zone),
            schedule.metadata.creation_timestamp or now,
            schedule.status.coverage,
            spans,
            [_span(item.run, item.run.status) for item in plan.finished],
            now,
            hold=hold.reason if hold is not None else None,
        )
        catch_up = decision.catch_up
        if catch_up is not None:
            try:
                self.kube.create_run(
                    catch_up_run(schedule, catch_up.name, catch_up.start, catch_up.end)
                )
            except Conflict:
                return decision  # made by an earlier attempt: it is followed like any run
            days = f"{catch_up.start.isoformat()}..{catch_up.end.isoformat()}"
            self.post_event(
                involved_schedule(schedule),
                "Normal",
                "CatchUpStarted",
                f"archiving {days}, not archived yet ({catch_up.reason}: {catch_up.message}): "
                f"catch-up run {catch_up.name}",
            )
        return decision

    def _record_scheduled(
        self, schedule: ArchiveSchedule, runs: list[ArchiveRun], jobs: list[JobView], now: datetime
    ) -> bool:
        """Create the ArchiveRun of each Job a CronJob started; True if any was created."""
        missing = unrecorded_jobs(schedule, runs, jobs)
        if not missing:
            return False
        try:
            shifts = {r.entry.name: r.day_shift for r in resolve_entries(schedule)}
        except Exception:
            shifts = {}
        for job in missing:
            shift = shifts.get(job.labels.get(c.LABEL_ENTRY, ""), 0)
            try:
                self.kube.create_run(record_for_job(schedule, job, shift, now))
            except Conflict:
                continue  # recorded meanwhile (or a run of that name exists)
            self.observer.run_started(
                schedule.metadata.namespace, schedule.metadata.name, "scheduled"
            )
        return True

    def _act(
        self, schedule: ArchiveSchedule, runs: list[ArchiveRun], plan: LifecyclePlan, now: datetime
    ) -> None:
        namespace = schedule.metadata.namespace
        by_name = {run.metadata.name: run for run in runs}
        for run in plan.adopt:
            refs = [
                *run.metadata.owner_references,
                {
                    "apiVersion": c.API_VERSION,
                    "kind": c.SCHEDULE_KIND,
                    "name": schedule.metadata.name,
                    "uid": schedule.metadata.uid,
                },
            ]
            labels = {
                c.LABEL_SCHEDULE: c.label_value(schedule.metadata.name),
                c.LABEL_USER: c.label_value(schedule.spec.user),
            }
            self._ignore_gone(
                self.kube.patch_run_metadata,
                namespace,
                run.metadata.name,
                {"ownerReferences": refs, "labels": labels},
            )
        for job in plan.delete_jobs:
            self.kube.delete_job(namespace, job.name, job.uid)
        for name in plan.suspend:
            self._ignore_gone(self.kube.set_job_suspended, namespace, name, True)
        for run in plan.start:
            self._create_job(schedule, run)
        for name in plan.resume:
            self._ignore_gone(self.kube.set_job_suspended, namespace, name, False)
        for name, status in plan.statuses.items():
            run = by_name[name]
            patch = run_status_patch(run.status, status)
            if patch:
                self._ignore_gone(self.kube.patch_run_status, namespace, name, patch)
        for event in plan.events:
            run = by_name[event.run]
            self.post_event(involved_run(run), event.type, event.reason, event.message)
            if event.on_schedule:
                self.post_event(
                    involved_schedule(schedule), event.type, event.reason, event.message
                )
        for run in plan.prune:
            self.kube.delete_run(namespace, run.metadata.name, run.metadata.uid)

    def _create_job(self, schedule: ArchiveSchedule, run: ArchiveRun) -> None:
        manifest = render_run_job(schedule, run, self.settings)
        try:
            self.kube.create_job(manifest)
        except Conflict:
            # Created by an earlier attempt (the name is deterministic): adopt it if it is ours.
            existing = self.kube.get_job(run.metadata.namespace, manifest["metadata"]["name"])
            refs = existing.get("metadata", {}).get("ownerReferences") or []
            if not any(r.get("uid") == run.metadata.uid for r in refs):
                raise
            return
        self.observer.run_started(
            schedule.metadata.namespace, schedule.metadata.name, run.spec.trigger
        )

    @staticmethod
    def _ignore_gone(action: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(NotFound):
            action(*args)

    # --- metrics and notifications ------------------------------------------------------------

    def _observe(
        self,
        schedule: ArchiveSchedule,
        plan: LifecyclePlan,
        status: ArchiveScheduleStatus,
        now: datetime,
    ) -> None:
        meta = schedule.metadata
        try:
            self.observer.queued(meta.namespace, meta.name, plan.queued)
            if status.last_successful_time is not None:
                self.observer.last_success(
                    meta.namespace, meta.name, status.last_successful_time.timestamp()
                )
            for item in plan.finished:
                self._finished(schedule, item, now)
        except Exception:  # metrics and notifications never fail a reconcile
            log.exception("recording the outcome of %s/%s failed", meta.namespace, meta.name)

    def _finished(self, schedule: ArchiveSchedule, item: Finished, now: datetime) -> None:
        run, status = item.run, item.run.status
        outcome = outcome_of(schedule, run, now)
        duration = None
        if status.start_time is not None and status.completion_time is not None:
            duration = max((status.completion_time - status.start_time).total_seconds(), 0.0)
        self.observer.run_finished(outcome, duration, status.archived or 0)
        kind = notification_kind(outcome, item.previous_failures, wanted_events(schedule))
        if kind is None:
            return
        notify = schedule.spec.notify
        assert notify is not None and notify.webhook is not None
        ref = notify.webhook.url_secret_ref
        if not self.settings.notify_enabled:
            self.post_event(
                involved_schedule(schedule),
                "Warning",
                "NotificationUnavailable",
                f"a {kind} notification for run {run.metadata.name} was not sent: webhook "
                "notifications are disabled in this installation (chart value "
                "notifications.webhookSecretAccess)",
            )
            return
        try:
            url = self.kube.read_secret_value(schedule.metadata.namespace, ref.name, ref.key)
        except KubeError:
            self.post_event(
                involved_schedule(schedule),
                "Warning",
                "NotificationFailed",
                f"a {kind} notification for run {run.metadata.name} was not sent: cannot read "
                f"key {ref.key!r} of Secret {ref.name!r} (spec.notify.webhook.urlSecretRef); "
                "create it or fix the reference",
            )
            return
        self.observer.notify(url.strip(), kind, outcome)
