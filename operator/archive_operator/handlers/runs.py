"""Thin kopf handlers for runs: ArchiveRuns, and the Jobs and pods that carry them out.

All are ``on.event`` handlers: they write nothing of kopf's own (no finalizers, no annotations)
and hand the work to the Reconciler, which reconciles the whole schedule under its lock.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from .. import constants as c
from .. import metrics
from ..errors import KubeError
from ..reconciler import Reconciler

log = logging.getLogger(__name__)


def _schedule_of(body: kopf.Body) -> str | None:
    """The schedule a Job or pod belongs to: its label, whose value is the schedule's name
    unless that name was not a valid label value (then the annotation-free fallback fails and
    the periodic resync covers it)."""
    labels = body.get("metadata", {}).get("labels") or {}
    value = labels.get(c.LABEL_SCHEDULE)
    return str(value) if value else None


@kopf.on.event(c.GROUP, c.VERSION, c.RUN_PLURAL)
def run_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A run was created, changed or deleted (also each run seen at start-up)."""
    reconciler: Reconciler = memo["reconciler"]
    try:
        if type == "DELETED":
            schedule = str((body.get("spec") or {}).get("scheduleRef", {}).get("name", ""))
            reconciler.reconcile_named(body["metadata"]["namespace"], schedule)
        else:
            reconciler.reconcile_run(body)
    except KubeError as exc:
        metrics.observe_reconcile_error(type_name(exc))
        log.warning("run %s: %s (the resync retries)", body.get("metadata", {}).get("name"), exc)


@kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_MANAGED_BY: c.OPERATOR_NAME})
@kopf.on.event("", "v1", "pods", labels={c.LABEL_MANAGED_BY: c.OPERATOR_NAME})
def workload_changed(
    type: str | None, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A runner Job or pod changed: follow its run. The initial listing is left to resume."""
    if type is None or namespace is None:
        return
    schedule = _schedule_of(body)
    if schedule is None:
        return
    reconciler: Reconciler = memo["reconciler"]
    try:
        reconciler.reconcile_named(namespace, schedule)
    except KubeError as exc:
        metrics.observe_reconcile_error(type_name(exc))
        log.warning("schedule %s/%s: %s (the resync retries)", namespace, schedule, exc)


def type_name(exc: Exception) -> str:
    return type(exc).__name__
