"""What the operator's watches have shown it: which schedules have CronJobs, runs, Jobs or pods.

A hint that lets a reconcile skip reads, never the data an action is based on. It is filled at
start-up by one paged LIST per kind and namespace in scope (``preload``, before kopf starts its
watches) and kept current by the ``on.event`` handlers kopf runs for those kinds anyway
(``observe``). A reconcile triggered by a handler reads from the API whenever the hint says
something may exist, and skips the read only when nothing has been seen for the schedule. That
is safe both ways:

* Something exists that has not been seen yet (its event is still in flight): when kopf
  processes that event it triggers a reconcile of the schedule, which then reads it. The
  actions taken without it are conditional anyway: a CronJob POST answers 409 if the CronJob
  exists, a run's Job and ArchiveRun have deterministic names, and a scheduled time counts as
  missed only after a margin (missed.SETTLE).
* Something was seen that is gone (e.g. deleted between the preload and kopf's own listing, so
  no event ever said so): one read too many each time.

The periodic resync does not use the hint: it reads everything, as the safety net for a watch
that lost an event.

Why not kopf's ``@kopf.index``: kopf holds every handler until each indexed object of the
initial listings is indexed, re-checking all of them whenever one is done — quadratic in the
objects; with 1,000 schedules and 1,000 CronJobs a restart stalled for over 20 s.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from . import constants as c

Key = tuple[str, str]  # (namespace, schedule: its name for runs, its label value otherwise)

# The kinds followed, by plural (kopf's ``resource.plural``).
CRONJOBS = "cronjobs"
JOBS = "jobs"
PODS = "pods"
RUNS = c.RUN_PLURAL
KINDS = (CRONJOBS, JOBS, PODS, RUNS)


class Hint(Protocol):
    """What may exist for a schedule; True means "maybe" (read it), False means "surely not"."""

    def may_have_cronjobs(self, namespace: str, schedule: str) -> bool: ...
    def may_have_runs(self, namespace: str, schedule: str) -> bool: ...


def key_of(kind: str, body: Mapping[str, Any]) -> Key | None:
    """The schedule an object belongs to: an ArchiveRun's ``spec.scheduleRef.name`` (runs made
    by hand may have no labels), else the schedule label the operator puts on what it makes."""
    namespace = (body.get("metadata") or {}).get("namespace")
    if not namespace:
        return None
    if kind == RUNS:
        name = ((body.get("spec") or {}).get("scheduleRef") or {}).get("name")
    else:
        name = ((body.get("metadata") or {}).get("labels") or {}).get(c.LABEL_SCHEDULE)
    return (str(namespace), str(name)) if name else None


class Seen:
    """Written from kopf's event loop, read from reconcile threads: every access is locked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_of: dict[str, dict[tuple[str, str], Key]] = {kind: {} for kind in KINDS}
        self._count: dict[str, Counter[Key]] = {kind: Counter() for kind in KINDS}

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """An event of ``kind`` (type None: listed; "DELETED": gone)."""
        meta = body.get("metadata") or {}
        obj = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        key = None if event_type == "DELETED" else key_of(kind, body)
        with self._lock:
            old = self._key_of[kind].pop(obj, None)
            if old is not None:
                self._count[kind][old] -= 1
                if self._count[kind][old] <= 0:
                    del self._count[kind][old]
            if key is not None:
                self._key_of[kind][obj] = key
                self._count[kind][key] += 1

    def preload(self, kind: str, bodies: Iterable[Mapping[str, Any]]) -> None:
        for body in bodies:
            self.observe(kind, None, body)

    def _has(self, kind: str, key: Key) -> bool:
        with self._lock:
            return key in self._count[kind]

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
