"""Thin kopf handlers: hand the object to the reconciler, retry what failed for a while.

Schedules are followed with an ``on.event`` handler and a generation check, the way
controller-runtime's GenerationChangedPredicate works, rather than kopf's create/update/resume
handlers: those keep a copy of the spec in an annotation (a write per new or changed schedule,
plus the work of diffing every event against it), and the generation already says whether the
spec changed since the reconciler last wrote ``status.observedGeneration``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from .. import constants as c
from .. import seen
from ..errors import Transient
from ..reconciler import Reconciler

log = logging.getLogger(__name__)

RETRY_SECONDS = 15


def needs_reconcile(event_type: str | None, body: Mapping[str, Any]) -> bool:
    """Listed at start-up (type None) or created: yes. Changed: only if its spec changed since
    the last reconcile (status and metadata writes, ours included, keep the generation)."""
    if event_type in (None, "ADDED"):
        return True
    if event_type != "MODIFIED":
        return False  # DELETED: garbage collection removes what it owned
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    if meta.get("deletionTimestamp"):
        return False
    return bool(status.get("observedGeneration") != meta.get("generation"))


@kopf.on.event(c.GROUP, c.VERSION, c.SCHEDULE_PLURAL)
async def schedule_changed(
    type: str | None,
    body: kopf.Body,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Reconcile a schedule that is new, changed or seen at start-up; a Transient failure is
    retried every RETRY_SECONDS (later events of the schedule wait meanwhile, and the retry
    reads the schedule as it is then)."""
    if not needs_reconcile(type, body):
        return
    reconciler: Reconciler = memo["reconciler"]
    loop = asyncio.get_running_loop()
    executor = memo["executor"]  # kopf's own pool for sync handlers (startup.py)
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    try:
        await loop.run_in_executor(executor, reconciler.reconcile_body, dict(body))
        return
    except Transient as exc:
        log.warning("schedule %s/%s: %s (retrying in %ss)", namespace, name, exc, RETRY_SECONDS)
    while True:
        await asyncio.sleep(RETRY_SECONDS)
        try:
            await loop.run_in_executor(executor, reconciler.reconcile_named, namespace, name)
            return
        except Transient as exc:
            log.warning("schedule %s/%s: %s (retrying in %ss)", namespace, name, exc, RETRY_SECONDS)


def _controlling_schedule(body: kopf.Body) -> str | None:
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        api_version = str(ref.get("apiVersion", ""))
        if (
            ref.get("controller")
            and ref.get("kind") == c.SCHEDULE_KIND
            and api_version.startswith(c.GROUP + "/")
        ):
            return str(ref.get("name"))
    return None


@kopf.on.event("batch", "v1", "cronjobs", labels={c.LABEL_MANAGED_BY: c.OPERATOR_NAME})
async def owned_cronjob_changed(
    type: str | None, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A CronJob we made was changed or deleted (by hand or by us): repair its schedule.

    Every event updates the hint (seen.py). The initial listing (type None) reconciles nothing:
    each schedule is reconciled as it is listed; nor does ADDED, the echo of a CronJob the
    reconcile itself just created. Errors are logged by kopf and not retried here; the periodic
    resync catches anything left.
    """
    observe(memo, seen.CRONJOBS, type, body)
    if type in (None, "ADDED") or namespace is None:
        return
    owner = _controlling_schedule(body)
    if owner is None:
        return
    reconciler: Reconciler = memo["reconciler"]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(memo["executor"], reconciler.reconcile_named, namespace, owner)


def observe(memo: kopf.Memo, kind: str, event_type: str | None, body: kopf.Body) -> None:
    """Record the event in the hint, if there is one (on the event loop: no thread hop)."""
    hint: seen.Seen | None = memo.get("seen")
    if hint is not None:
        hint.observe(kind, event_type, body)
