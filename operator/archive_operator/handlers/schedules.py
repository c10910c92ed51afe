"""Thin kopf handlers: hand the object to the reconciler, map its errors to kopf's."""

from __future__ import annotations

from typing import Any

import kopf

from .. import constants as c
from ..errors import Transient
from ..reconciler import Reconciler

RETRY_SECONDS = 15


@kopf.on.resume(c.GROUP, c.VERSION, c.SCHEDULE_PLURAL)
@kopf.on.create(c.GROUP, c.VERSION, c.SCHEDULE_PLURAL)
@kopf.on.update(c.GROUP, c.VERSION, c.SCHEDULE_PLURAL, field="spec")
def reconcile_schedule(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Created, spec changed, or seen at start-up: bring its CronJobs and status in line."""
    reconciler: Reconciler = memo["reconciler"]
    try:
        reconciler.reconcile_body(body)
    except Transient as exc:
        raise kopf.TemporaryError(str(exc), delay=RETRY_SECONDS) from exc


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
def owned_cronjob_changed(
    type: str | None, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A CronJob we made was changed or deleted (by hand or by us): repair its schedule.

    The initial listing (type None) is skipped: the resume handler covers it; so is ADDED, which
    is the echo of a CronJob the reconcile itself just created. Errors are logged by kopf and not
    retried here; the periodic resync catches anything left.
    """
    if type in (None, "ADDED") or namespace is None:
        return
    owner = _controlling_schedule(body)
    if owner is None:
        return
    reconciler: Reconciler = memo["reconciler"]
    reconciler.reconcile_named(namespace, owner)
