"""Kopf indexes of what exists per schedule (seen.py explains how the reconcile uses them).

Each value is ``True``: the reconcile only asks whether a key is present, so the indexes cost
a few bytes per object, not a copy of its body. The functions are async so that kopf calls them
on its event loop, not through the thread pool (they run for every event of these kinds).
"""

from __future__ import annotations

from typing import Any

import kopf

from .. import constants as c
from .. import seen

MANAGED = {c.LABEL_MANAGED_BY: c.OPERATOR_NAME}


def _entry(key: seen.Key | None) -> dict[seen.Key, bool] | None:
    return None if key is None else {key: True}


@kopf.index("batch", "v1", "cronjobs", id=seen.CRONJOBS, labels=MANAGED)
async def cronjobs_by_schedule(
    namespace: str | None, labels: kopf.Labels, **_: Any
) -> dict[seen.Key, bool] | None:
    return _entry(seen.workload_key(namespace, labels))


@kopf.index("batch", "v1", "jobs", id=seen.JOBS, labels=MANAGED)
async def jobs_by_schedule(
    namespace: str | None, labels: kopf.Labels, **_: Any
) -> dict[seen.Key, bool] | None:
    return _entry(seen.workload_key(namespace, labels))


@kopf.index("", "v1", "pods", id=seen.PODS, labels=MANAGED)
async def pods_by_schedule(
    namespace: str | None, labels: kopf.Labels, **_: Any
) -> dict[seen.Key, bool] | None:
    return _entry(seen.workload_key(namespace, labels))


@kopf.index(c.GROUP, c.VERSION, c.RUN_PLURAL, id=seen.RUNS)
async def runs_by_schedule(
    namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[seen.Key, bool] | None:
    return _entry(seen.run_key(namespace, spec))
