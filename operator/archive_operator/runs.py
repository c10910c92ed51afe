"""Act on a schedule's runs: read runs, Jobs and pods once, decide (run_wing.py), write what
changed.

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
from .api.run import ArchiveRun, ArchiveRunStatus
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus
from .errors import Conflict, KubeError, NotFound
from .jobs import JobView, job_view, pods_by_job
from .kube import Kube
from .lifecycle import Finished, Hold
from .notify import RunOutcome, notification_kind, wanted_events
from .render import Resolved, involved_run, involved_schedule, render_run_job
from .run_wing import CATCH_UP_STARTED, Plan, World, decide
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
    """Observe → decide (run_wing.py, pure) → act, for the runs of one schedule."""

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
        # When this operator process started (missed.OPERATOR_DOWN).
        self.since = since or datetime.min.replace(tzinfo=UTC)

    # --- 1. observe ---------------------------------------------------------------------------

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
        resolved: Resolved | None = None,
        hint: Hint | None = None,
    ) -> ArchiveScheduleStatus:
        """Bring the runs in line; returns ``status`` with the run fields, coverage and Healthy.

        ``cronjobs`` (by name) and ``resolved``: the schedule's CronJobs as they are after this
        reconcile and the schedule resolved once; without them (not Ready) missed times and
        coverage wait. ``hint``: what the watches have shown (seen.py).
        """
        runs, jobs = self._read(schedule, hint)
        world = World(
            schedule=schedule.model_copy(update={"status": status}),
            previous=schedule.status,
            resolved=resolved if cronjobs is not None else None,
            cronjobs=cronjobs or {},
            runs=runs,
            jobs=jobs,
            now=now,
            hold=hold,
            operator_since=self.since,
            health_grace=timedelta(seconds=self.settings.health_grace_seconds),
        )
        plan = decide(world)
        self._act(world, plan)
        self._observe(world.schedule, plan, now)
        if plan.recheck_at is not None and self.recheck is not None:
            meta = schedule.metadata
            delay = (plan.recheck_at - now).total_seconds()
            self.recheck(meta.namespace, meta.name, max(delay, 0.0) + 1.0)
        return plan.status

    # --- 3. act -------------------------------------------------------------------------------

    def _act(self, world: World, plan: Plan) -> None:
        schedule = world.schedule
        namespace = schedule.metadata.namespace
        made = self._create_records(schedule, plan)
        lifecycle = plan.lifecycle
        by_name = {run.metadata.name: run for run in world.runs}
        for run in lifecycle.adopt:
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
        for job in lifecycle.delete_jobs:
            self.kube.delete_job(namespace, job.name, job.uid)
        for name in lifecycle.suspend:
            self._ignore_gone(self.kube.set_job_suspended, namespace, name, True)
        for run in lifecycle.start:
            self._create_job(schedule, run)
        for name in lifecycle.resume:
            self._ignore_gone(self.kube.set_job_suspended, namespace, name, False)
        for name, status in lifecycle.statuses.items():
            current = by_name.get(name) or made.get(name)
            if current is None:
                continue  # a record another reconcile made first: it is followed next time
            patch = run_status_patch(current.status, status)
            if patch:
                self._ignore_gone(self.kube.patch_run_status, namespace, name, patch)
        for event in lifecycle.events:
            about = by_name.get(event.run) or made.get(event.run)
            if about is None:
                continue
            self.post_event(involved_run(about), event.type, event.reason, event.message)
            if event.on_schedule:
                self.post_event(
                    involved_schedule(schedule), event.type, event.reason, event.message
                )
        for run in lifecycle.prune:
            if run.metadata.uid:  # a record made by this plan has none: pruned next time
                self.kube.delete_run(namespace, run.metadata.name, run.metadata.uid)
        started_catch_up = False
        if plan.catch_up is not None:
            with contextlib.suppress(Conflict):  # made by an earlier attempt (same name)
                self.kube.create_run(plan.catch_up)
                started_catch_up = True
        for notice in plan.events:
            if notice.reason == CATCH_UP_STARTED and not started_catch_up:
                continue
            self.post_event(involved_schedule(schedule), notice.type, notice.reason, notice.message)

    def _create_records(self, schedule: ArchiveSchedule, plan: Plan) -> dict[str, ArchiveRun]:
        """Create the records the plan decided; the runs created (by name), as the server
        returned them (a name taken meanwhile is left to the next reconcile: never twice)."""
        made: dict[str, ArchiveRun] = {}
        records = [(m, True) for m in plan.job_records]
        records += [(m, False) for m in plan.missed_records]
        for manifest, started in records:
            try:
                body = self.kube.create_run(manifest)
            except Conflict:
                continue
            run = ArchiveRun.from_body(body) if body else ArchiveRun.from_body(manifest)
            made[run.metadata.name] = run
            if started:
                self.observer.run_started(
                    schedule.metadata.namespace, schedule.metadata.name, "scheduled"
                )
        return made

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

    def _observe(self, schedule: ArchiveSchedule, plan: Plan, now: datetime) -> None:
        meta = schedule.metadata
        try:
            self.observer.queued(meta.namespace, meta.name, plan.lifecycle.queued)
            if plan.status.last_successful_time is not None:
                self.observer.last_success(
                    meta.namespace, meta.name, plan.status.last_successful_time.timestamp()
                )
            for item in plan.lifecycle.finished:
                self._finished(schedule, item, now)
            missed_by_reason: dict[str, int] = {}
            for check in plan.missed.values():
                for time in check.missed:
                    if not time.recorded:
                        missed_by_reason[time.reason] = missed_by_reason.get(time.reason, 0) + 1
            for reason, count in sorted(missed_by_reason.items()):
                self.observer.missed(meta.namespace, meta.name, reason, count)
        except Exception:  # metrics and notifications never fail a reconcile
            log.exception("recording the outcome of %s/%s failed", meta.namespace, meta.name)

    def _finished(self, schedule: ArchiveSchedule, item: Finished, now: datetime) -> None:
        run, status = item.run, item.run.status
        outcome = outcome_of(schedule, run, now)
        duration = None
        if status.start_time is not None and status.completion_time is not None:
            duration = max((status.completion_time - status.start_time).total_seconds(), 0.0)
        # The metric counts events written (created + updated); status.archived also counts
        # those already in the archive unchanged.
        counts = status.counts or {}
        self.observer.run_finished(
            outcome, duration, counts.get("created", 0) + counts.get("updated", 0)
        )
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
