"""Thin kopf handlers for runs: ArchiveRuns, and the Jobs and pods that carry them out.

All are ``on.event`` handlers: they write nothing of kopf's own (no finalizers, no annotations),
record the event in the hint (seen.py) on the event loop, and hand the work to the Reconciler
in kopf's thread pool, which reconciles the whole schedule under its lock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from .. import constants as c
from .. import metrics, seen
from ..errors import KubeError
from ..reconciler import Reconciler
from .schedules import observe

log = logging.getLogger(__name__)


def _schedule_of(body: kopf.Body) -> str | None:
    """The schedule a Job or pod belongs to: its label, whose value is the schedule's name
    unless that name was not a valid label value (then the annotation-free fallback fails and
    the periodic resync covers it)."""
    labels = body.get("metadata", {}).get("labels") or {}
    value = labels.get(c.LABEL_SCHEDULE)
    return str(value) if value else None


@kopf.on.event(c.GROUP, c.VERSION, c.RUN_PLURAL)
async def run_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A run was created, changed or deleted (also each run seen at start-up)."""
    observe(memo, seen.RUNS, type, body)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(memo["executor"], _follow_run, memo["reconciler"], type, dict(body))


def _follow_run(reconciler: Reconciler, event_type: str | None, body: dict[str, Any]) -> None:
    try:
        if event_type == "DELETED":
            schedule = str((body.get("spec") or {}).get("scheduleRef", {}).get("name", ""))
            reconciler.reconcile_named(body["metadata"]["namespace"], schedule)
        else:
            reconciler.reconcile_run(body)
    except KubeError as exc:
        metrics.observe_reconcile_error(type_name(exc))
        log.warning("run %s: %s (the resync retries)", body.get("metadata", {}).get("name"), exc)


@kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_MANAGED_BY: c.OPERATOR_NAME})
@kopf.on.event("", "v1", "pods", labels={c.LABEL_MANAGED_BY: c.OPERATOR_NAME})
async def workload_changed(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    resource: kopf.Resource,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """A runner Job or pod changed: follow its run. The initial listing is left to the
    schedules' own reconciles at start-up."""
    observe(memo, resource.plural, type, body)
    if type is None or namespace is None:
        return
    schedule = _schedule_of(body)
    if schedule is None:
        return
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(
        memo["executor"], _follow_schedule, memo["reconciler"], namespace, schedule
    )


def _follow_schedule(reconciler: Reconciler, namespace: str, schedule: str) -> None:
    try:
        reconciler.reconcile_named(namespace, schedule)
    except KubeError as exc:
        metrics.observe_reconcile_error(type_name(exc))
        log.warning("schedule %s/%s: %s (the resync retries)", namespace, schedule, exc)


def type_name(exc: Exception) -> str:
    return type(exc).__name__
