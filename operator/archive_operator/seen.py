"""What the operator's watches have shown it: which schedules have CronJobs, runs, Jobs or pods.

A hint that lets a reconcile skip reads, never the data an action is based on. Kopf keeps the
indexes (handlers/indexes.py) from the watches it runs anyway, and starts no handler before
their initial listings are complete. A reconcile triggered by a handler reads from the API
whenever the hint says something may exist, and skips the read only when the watches have
shown nothing for the schedule. That is safe both ways:

* Something exists that the watches have not shown yet (its event is still in flight): when
  kopf processes that event it triggers a reconcile of the schedule, which then reads it. The
  actions taken without it are conditional anyway: a CronJob POST answers 409 if the CronJob
  exists, a run's Job and ArchiveRun have deterministic names, and a scheduled time counts as
  missed only after a margin (missed.SETTLE).
* The watches show something that is gone: one read too many.

The periodic resync does not use the hint: it reads everything, as the safety net for a watch
that lost an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from . import constants as c

Key = tuple[str, str]  # (namespace, schedule)


class Hint(Protocol):
    """What may exist for a schedule; True means "maybe" (read it), False means "surely not"."""

    def may_have_cronjobs(self, namespace: str, schedule: str) -> bool: ...
    def may_have_runs(self, namespace: str, schedule: str) -> bool: ...


# Index names: kopf passes each index to handlers as a keyword argument named like this.
CRONJOBS = "cronjobs_by_schedule"
JOBS = "jobs_by_schedule"
PODS = "pods_by_schedule"
RUNS = "runs_by_schedule"
INDEXES = (CRONJOBS, JOBS, PODS, RUNS)


def workload_key(namespace: str | None, labels: Mapping[str, str]) -> Key | None:
    """The key of a CronJob, Job or pod the operator made: its schedule label."""
    value = labels.get(c.LABEL_SCHEDULE)
    return (namespace, str(value)) if namespace and value else None


def run_key(namespace: str | None, spec: Mapping[str, Any]) -> Key | None:
    """The key of an ArchiveRun: the schedule it names (runs made by hand may have no labels)."""
    name = (spec.get("scheduleRef") or {}).get("name")
    return (namespace, str(name)) if namespace and name else None


class Seen:
    """The kopf indexes, asked by schedule (``indexes``: name → kopf.Index, a Mapping)."""

    def __init__(self, indexes: Mapping[str, Mapping[Key, Any]]) -> None:
        self._indexes = {name: indexes[name] for name in INDEXES}

    def _has(self, index: str, key: Key) -> bool:
        return key in self._indexes[index]

    def may_have_cronjobs(self, namespace: str, schedule: str) -> bool:
        return self._has(CRONJOBS, (namespace, c.label_value(schedule)))

    def may_have_runs(self, namespace: str, schedule: str) -> bool:
        """Any ArchiveRun naming the schedule, or any Job or pod labelled with it."""
        label = (namespace, c.label_value(schedule))
        return (
            self._has(RUNS, (namespace, schedule))
            or self._has(JOBS, label)
            or self._has(PODS, label)
        )
