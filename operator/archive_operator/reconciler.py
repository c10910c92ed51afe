"""Reconcile one ArchiveSchedule: parse → decide (pure) → act (kube) → status.

Used by every trigger: the schedule's own events (new, spec changed, listed at start-up), events
of its CronJobs, runs, Jobs and pods, and the periodic resync. A per-schedule lock keeps two
triggers from reconciling one schedule at once.
Triggers from kopf handlers may skip reads that the watches' hint (seen.py) shows to be empty;
the resync reads everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pydantic

from . import constants as c
from . import ownership
from .api.base import kube_time
from .api.run import ArchiveRun
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus
from .errors import Conflict, NotFound, Rejected, SpecError
from .kube import Kube
from .lifecycle import Hold
from .plan import drifted, is_controlled_by, plan_cronjobs, replacement
from .render import (
    Resolved,
    ResolvedEntry,
    involved_object,
    involved_run,
    involved_schedule,
    render_cronjob,
    resolve,
)
from .runs import Observer, Recheck, RunLifecycle
from .schedule import utc_now
from .scope import namespaces_in_scope
from .seen import Hint
from .settings import Settings
from .status import READY, failed_status, ready_changed, reconciled_status, status_patch

log = logging.getLogger(__name__)

# How long a run may name a schedule that does not exist before it fails (a schedule and its
# run applied together may arrive in either order).
SCHEDULE_NOT_FOUND_GRACE = timedelta(minutes=2)


class _Unusable(Exception):
    """The spec cannot be acted on: Ready=False with this reason, no retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Outcome:
    ready: bool
    reason: str
    writes: int  # requests that changed something (CronJobs, status, events)


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        observer: Observer | None = None,
        manage_runs: bool = True,
        seen: Hint | None = None,
        recheck: Recheck | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.seen = seen
        self.recheck = recheck
        self.runs = (
            RunLifecycle(kube, settings, self._post_event, observer, since=clock(), recheck=recheck)
            if manage_runs
            else None
        )
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, namespace: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    # --- entry points -------------------------------------------------------------------------

    def reconcile_named(self, namespace: str, name: str, *, hinted: bool = True) -> Outcome | None:
        """Re-read the schedule and reconcile it; None if it is gone.

        ``hinted=False``: read everything it has, whatever the watches have shown.
        """
        with self._lock(namespace, name):
            try:
                body = self.kube.get_schedule(namespace, name)
            except NotFound:
                self._orphans(namespace, name)
                return None
            return self._reconcile(body, self.seen if hinted else None)

    def reconcile_body(self, body: Mapping[str, Any]) -> Outcome | None:
        """Reconcile the schedule ``body`` names (kopf's copy from its watch).

        The copy is used as it is only while the schedule has no runs: the run statistics in
        its status must never be computed from a stale copy (a finished run would be counted
        twice). Even then the status write is conditional on the copy's resourceVersion, and
        a 409 means somebody wrote in between: read it again and start over.
        """
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if self.seen is None or self.seen.may_have_runs(namespace, name):
            return self.reconcile_named(namespace, name)
        with self._lock(namespace, name):
            try:
                return self._reconcile(
                    dict(body), self.seen, expected_version=str(meta.get("resourceVersion", ""))
                )
            except Conflict:
                log.debug("%s/%s changed while reconciling; reading it again", namespace, name)
        return self.reconcile_named(namespace, name)

    def reconcile_run(self, body: Mapping[str, Any]) -> None:
        """An ArchiveRun changed: reconcile its schedule (or its orphans, if it has none)."""
        meta = body.get("metadata") or {}
        schedule = str(((body.get("spec") or {}).get("scheduleRef") or {}).get("name", ""))
        self.reconcile_named(str(meta.get("namespace", "")), schedule)

    def _orphans(self, namespace: str, schedule: str) -> None:
        """Runs naming a schedule that does not exist: Pending for SCHEDULE_NOT_FOUND_GRACE (a
        schedule and its run applied together may arrive in either order), then Failed."""
        now = self.clock()
        for body in self.kube.list_runs(namespace):
            if (body.get("spec") or {}).get("scheduleRef", {}).get("name") != schedule:
                continue
            try:
                run = ArchiveRun.from_body(body)
            except pydantic.ValidationError:
                continue
            if run.terminal or run.metadata.deletion_timestamp is not None:
                continue
            expires = (run.metadata.creation_timestamp or now) + SCHEDULE_NOT_FOUND_GRACE
            where = f"spec.scheduleRef.name: {schedule!r} is not an ArchiveSchedule in namespace"
            if now < expires:
                if (run.status.phase, run.status.reason) == ("Pending", "ScheduleNotFound"):
                    continue
                message = (
                    f"{where} {namespace}; the run fails unless that schedule exists by "
                    f"{kube_time(expires)}"
                )
                patch: dict[str, Any] = {
                    "phase": "Pending", "reason": "ScheduleNotFound", "message": message
                }  # fmt: skip
                if self.recheck is not None:
                    delay = (expires - now).total_seconds() + 1.0
                    self.recheck(namespace, schedule, delay)
            else:
                message = (
                    f"{where} {namespace} ({SCHEDULE_NOT_FOUND_GRACE.seconds}s after the run was "
                    "created); create the schedule first, then the run"
                )
                patch = {
                    "phase": "Failed", "reason": "ScheduleNotFound", "message": message,
                    "completionTime": kube_time(now),
                }  # fmt: skip
            try:
                self.kube.patch_run_status(namespace, run.metadata.name, patch)
            except NotFound:
                continue
            self.kube.create_event(
                involved_run(run), type_="Warning", reason="ScheduleNotFound", message=message,
                now=now,
            )  # fmt: skip

    def resync(self, patterns: Sequence[str]) -> None:
        """The periodic drift check over every schedule in scope (kopf's namespace patterns;
        empty: every namespace)."""
        for namespace in namespaces_in_scope(patterns, lambda: self.kube.list_namespace_names()):
            for schedule_namespace, name in self.kube.schedule_names(namespace):
                try:
                    self.reconcile_named(schedule_namespace, name, hinted=False)
                except Exception:  # one broken schedule must not stop the others
                    log.exception("resync of %s/%s failed", schedule_namespace, name)

    # --- the reconcile ------------------------------------------------------------------------

    def _reconcile(
        self, body: Mapping[str, Any], hint: Hint | None, expected_version: str | None = None
    ) -> Outcome | None:
        """``expected_version``: write the status only if the schedule is still at it."""
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None  # garbage collection removes the CronJobs
        try:
            schedule = ArchiveSchedule.from_body(body)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = f"{where}: {first['msg']}; fix the ArchiveSchedule so it matches the CRD"
            problem = _Unusable("InvalidSpec", message)
            return self._record(body, None, problem, hint, expected_version)
        try:
            resolved = resolve(schedule)
            self._check_credentials(schedule)
            writes, cronjobs = self._apply(schedule, list(resolved.entries), hint)
        except SpecError as exc:
            problem = _Unusable(exc.reason, str(exc))
            return self._record(body, schedule, problem, hint, expected_version)
        except _Unusable as exc:
            return self._record(body, schedule, exc, hint, expected_version)
        return self._record(
            body, schedule, None, hint, expected_version, writes, resolved, cronjobs
        )

    def _check_credentials(self, schedule: ArchiveSchedule) -> None:
        """The ownership rule (ownership.py), before any CronJob or Job is made or changed."""
        ref = schedule.spec.credentials_secret_ref
        if ref is None:
            return
        try:
            secret = self.kube.secret_metadata(schedule.metadata.namespace, ref.name)
        except Rejected as exc:  # e.g. 403: the installation gives no Secret access
            raise _Unusable(
                ownership.UNVERIFIABLE,
                f"spec.credentialsSecretRef.name: Secret {ref.name!r} cannot be read "
                f"({exc.status} {exc.reason}), so whose it is cannot be checked; the operator "
                "needs get on Secrets (chart value notifications.webhookSecretAccess: get)",
            ) from None
        problem = ownership.credentials_problem(schedule, secret)
        if problem is not None:
            raise _Unusable(*problem)

    def _apply(
        self, schedule: ArchiveSchedule, resolved: list[ResolvedEntry], hint: Hint | None
    ) -> tuple[int, dict[str, dict[str, Any]]]:
        """Bring the CronJobs in line; returns the writes and the CronJobs as they now are."""
        meta = schedule.metadata
        desired = [render_cronjob(schedule, r, self.settings) for r in resolved]
        if hint is not None and not hint.may_have_cronjobs(meta.namespace, meta.name):
            actual = []  # none seen: create them (a POST answers 409 if one exists after all)
        else:
            actual = self.kube.list_cronjobs(meta.namespace, c.owned_selector(meta.name))
        plan = plan_cronjobs(desired, actual, meta.uid)
        entry_of = {r.cronjob_name: r for r in resolved}
        current = {
            obj["metadata"]["name"]: obj for obj in actual if is_controlled_by(obj, meta.uid)
        }
        for manifest in plan.create:
            item = entry_of[manifest["metadata"]["name"]]
            current[item.cronjob_name] = self._create(schedule, manifest, item)
        for manifest in plan.update:
            item = entry_of[manifest["metadata"]["name"]]
            current[item.cronjob_name] = self._write(schedule, manifest, item, replace=True)
        for obj in plan.delete:
            obj_meta = obj["metadata"]
            self.kube.delete_cronjob(meta.namespace, obj_meta["name"], obj_meta["uid"])
            current.pop(obj_meta["name"], None)
            self._event(schedule, "Normal", "CronJobDeleted", f"Deleted CronJob {obj_meta['name']}")
        return plan.writes, current

    def _create(
        self, schedule: ArchiveSchedule, manifest: dict[str, Any], item: ResolvedEntry
    ) -> dict[str, Any]:
        try:
            return self._write(schedule, manifest, item, replace=False)
        except Conflict:
            # It exists but our label selector missed it: ours with labels edited away, or
            # somebody else's object of the same name.
            name = manifest["metadata"]["name"]
            existing = self.kube.get_cronjob(schedule.metadata.namespace, name)
            if not is_controlled_by(existing, schedule.metadata.uid):
                raise _Unusable(
                    "CronJobNameConflict",
                    f"spec.schedules[{item.index}].name: {item.entry.name!r} needs CronJob "
                    f"{name}, which exists and is not controlled by this ArchiveSchedule; "
                    f"rename the entry or delete that CronJob",
                ) from None
            if not drifted(manifest, existing):
                return existing  # ours and as wanted (the watches had not shown it yet)
            return self._write(schedule, replacement(manifest, existing), item, replace=True)

    def _write(
        self,
        schedule: ArchiveSchedule,
        manifest: dict[str, Any],
        item: ResolvedEntry,
        *,
        replace: bool,
    ) -> dict[str, Any]:
        name = manifest["metadata"]["name"]
        try:
            if replace:
                written = self.kube.replace_cronjob(manifest)
            else:
                written = self.kube.create_cronjob(manifest)
        except Rejected as exc:
            raise _Unusable(
                "CronJobRejected",
                f"spec.schedules[{item.index}]: the API server rejected CronJob {name} "
                f"({exc}); fix the entry {item.entry.name!r}",
            ) from None
        verb = "Updated" if replace else "Created"
        self._event(schedule, "Normal", f"CronJob{verb}", f"{verb} CronJob {name} ({item.cron})")
        return written

    # --- status and events --------------------------------------------------------------------

    def _record(
        self,
        body: Mapping[str, Any],
        schedule: ArchiveSchedule | None,
        problem: _Unusable | None,
        hint: Hint | None,
        expected_version: str | None,
        writes: int = 0,
        resolved: Resolved | None = None,
        cronjobs: dict[str, dict[str, Any]] | None = None,
    ) -> Outcome | None:
        # The cluster's time read only now, after this reconcile's CronJob requests: the clock
        # learns it from answers (cluster_clock.py), and a reconcile of kopf's copy of a new
        # schedule (reconcile_body) makes none before them; read earlier, it is as old as the
        # operator's last answer, which misses a jump of the cluster's clock since then.
        now = self.clock()
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if schedule is not None:
            current = schedule.status
        else:  # the spec did not even parse: keep what can be read of the status
            try:
                current = ArchiveScheduleStatus.model_validate(body.get("status") or {})
            except pydantic.ValidationError:
                current = ArchiveScheduleStatus()
        if problem is not None:
            generation = int(meta.get("generation") or 0)
            new = failed_status(current, generation, problem.reason, problem.message, now)
        else:
            assert schedule is not None
            assert resolved is not None
            new = reconciled_status(schedule, resolved, now)
        if schedule is not None and self.runs is not None:
            new = self.runs.reconcile(
                schedule,
                new,
                now,
                _hold(schedule, problem),
                cronjobs if problem is None else None,
                resolved if problem is None else None,
                hint,
            )
        patch = status_patch(current, new)
        if patch:
            try:
                self.kube.patch_schedule_status(namespace, name, patch, expected_version)
            except NotFound:
                return None
            writes += 1
        if ready_changed(current, new):
            condition = new.condition(READY)
            assert condition is not None
            if condition.status == "False":
                self._event_raw(body, "Warning", condition.reason, condition.message, now)
                log.warning("%s/%s not ready: %s", namespace, name, condition.message)
            elif current.condition(READY) is not None:
                self._event_raw(body, "Normal", "Ready", condition.message, now)
        reason = problem.reason if problem is not None else "Reconciled"
        return Outcome(ready=problem is None, reason=reason, writes=writes)

    def _post_event(
        self, involved: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        self.kube.create_event(
            dict(involved), type_=type_, reason=reason, message=message, now=self.clock()
        )

    def _event(self, schedule: ArchiveSchedule, type_: str, reason: str, message: str) -> None:
        self.kube.create_event(
            involved_schedule(schedule),
            type_=type_,
            reason=reason,
            message=message,
            now=self.clock(),
        )

    def _event_raw(
        self, body: Mapping[str, Any], type_: str, reason: str, message: str, now: datetime
    ) -> None:
        """An Event on the schedule ``body`` (which may not parse as an ArchiveSchedule)."""
        meta = body.get("metadata") or {}
        involved = involved_object(
            c.SCHEDULE_KIND, meta.get("name", ""), meta.get("namespace", ""), meta.get("uid", "")
        )
        self.kube.create_event(involved, type_=type_, reason=reason, message=message, now=now)


def _hold(schedule: ArchiveSchedule, problem: _Unusable | None) -> Hold | None:
    """Why queued runs may not start now, if they may not."""
    if problem is not None:
        return Hold(
            "ScheduleNotReady",
            f"the schedule is not Ready ({problem.reason}: {problem.message}); the run starts "
            "once it is fixed",
        )
    if schedule.spec.suspend:
        return Hold(
            "ScheduleSuspended",
            "the schedule is suspended (spec.suspend); the run starts when it is resumed",
        )
    return None
