"""Operator start-up and shutdown: kopf configuration, the API client, the resync loop.

Kopf is configured so that a resync with nothing to change makes no write request:

* Every handler is an ``on.event`` handler, so kopf keeps no state on the objects (no
  diff-base or progress annotations, no finalizers) and builds no diff base at all
  (NoDiffBaseStorage). A create/update handler would need the annotations storage back
  (tests/unit/test_handlers_registry.py fails until then); its bookkeeping then goes under
  operator.archive.auriora.io (never to ``status.kopf``: the CRD has no such field and the API
  server would prune it).
* Kopf's event posting is off (kopf 1.45 would post its log lines as Events if
  ``posting.loggers`` were on: a write per handler run); the reconciler posts Events itself,
  only when something changed (a CronJob written or deleted, Ready changed).
* Handlers return None, so kopf has no result to store in the status.
* The periodic drift check is an operator-wide loop, not a ``kopf.timer``: kopf timers put a
  finalizer on every object, which would make deleting a schedule depend on the operator
  running, and cost a write per new object. For the same reason a reconcile that knows when its
  decision will change with time alone (a pod's start-up grace, pod_start.py) asks for a
  one-off recheck on the event loop (Rechecks), not a timer on the object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import kopf

from .. import constants as c
from .. import metrics
from ..cluster_clock import ClusterClock
from ..errors import KubeError
from ..kube import PAGE_SIZE, Kube, load_api_client
from ..notify import Notifier, RunOutcome
from ..reconciler import Reconciler
from ..render import involved_object
from ..scope import namespaces_in_scope
from ..seen import KINDS, RUNS, Seen
from ..settings import Settings

log = logging.getLogger(__name__)

WATCHED_WORKLOADS = (("batch", "v1", "cronjobs"), ("batch", "v1", "jobs"), ("", "v1", "pods"))


class NoDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """Builds no diff base: kopf builds one (a deep copy of the body) for every event of every
    watched kind, though only create/update/resume handlers and daemons use it, and this
    operator has none (tests/unit/test_handlers_registry.py keeps it so). That copy was a
    tenth of the operator's CPU while creating 1,000 schedules."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return {}


def configure_kopf(settings: kopf.OperatorSettings, operator: Settings) -> None:
    settings.posting.enabled = False
    # No request may stall a handler or a watch for ever (kopf's own default is 5 minutes per
    # request and no bound on a watch): a held request fails after the API timeout and is
    # retried; a watch ends at the server after WATCH_TIMEOUT and is dropped by the client
    # API_TIMEOUT later, then reopened (settings.py).
    settings.networking.request_timeout = operator.api_timeout_seconds
    settings.networking.connect_timeout = operator.api_timeout_seconds
    settings.watching.connect_timeout = operator.api_timeout_seconds
    # Whole seconds: kopf sends it as the watch's timeoutSeconds, an integer to the API server
    # (a real one answers "300.0" with 400 strconv.ParseInt).
    watch_seconds = max(1, round(operator.watch_timeout_seconds))
    settings.watching.server_timeout = watch_seconds
    settings.watching.client_timeout = watch_seconds + operator.api_timeout_seconds
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.KOPF_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBaseStorage(
        prefix=c.KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{c.KOPF_PREFIX}/finalizer"
    # Watch only what the operator made: the API server filters, so the operator never receives
    # (nor keeps per-object state for) the other CronJobs, Jobs and pods of its namespaces.
    # The handlers' label filters stay as the client-side statement of the same rule.
    for group, version, plural in WATCHED_WORKLOADS:
        settings.watching.label_selectors[group, version, plural] = c.managed_selector()
    # Initial listings a page at a time: a restart over many objects never parses them at once.
    settings.watching.chunk_size = PAGE_SIZE
    settings.execution.max_workers = 8


class Observer:
    """Feeds run outcomes to the Prometheus metrics and the webhook notifier."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def run_started(self, namespace: str, schedule: str, trigger: str) -> None:
        metrics.observe_run_started(namespace, schedule, trigger)

    def run_finished(self, outcome: RunOutcome, duration: float | None, archived: int) -> None:
        metrics.observe_run_finished(outcome, duration, archived)

    def queued(self, namespace: str, schedule: str, count: int) -> None:
        metrics.set_queued_runs(namespace, schedule, count)

    def last_success(self, namespace: str, schedule: str, timestamp: float) -> None:
        metrics.set_last_success(namespace, schedule, timestamp)

    def missed(self, namespace: str, schedule: str, reason: str, count: int) -> None:
        metrics.observe_missed(namespace, schedule, reason, count)

    def notify(self, url: str, kind: str, outcome: RunOutcome) -> None:
        self.notifier.submit(url, kind, outcome)


def notify_failed(
    kube: Kube, loop: asyncio.AbstractEventLoop, clock: Callable[[], datetime]
) -> Any:
    """The notifier's failure callback: a Warning Event on the schedule (posted off the loop)."""

    def post(outcome: RunOutcome, reason: str) -> None:
        involved = involved_object(c.SCHEDULE_KIND, outcome.schedule, outcome.namespace)
        message = f"the notification about run {outcome.run} ({outcome.phase}) failed: {reason}"
        log.warning("%s/%s: %s", outcome.namespace, outcome.schedule, message)
        loop.run_in_executor(
            None,
            lambda: kube.create_event(
                involved,
                type_="Warning",
                reason="NotificationFailed",
                message=message,
                now=clock(),
            ),
        )

    return post


class Rechecks:
    """One-off reconciles of a schedule at a time a reconcile asked for (runs.Recheck).

    Called from the executor's threads; the timers live on the event loop. One per schedule:
    the earliest asked for wins, and a recheck runs like any other trigger (under the
    schedule's lock), so one that finds nothing new writes nothing.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Any) -> None:
        self.loop = loop
        self.executor = executor
        self.reconcile: Callable[[str, str], object] | None = None  # set once it exists
        self.pending: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def __call__(self, namespace: str, name: str, delay: float) -> None:
        self.loop.call_soon_threadsafe(self._schedule, (namespace, name), delay)

    def _schedule(self, key: tuple[str, str], delay: float) -> None:
        existing = self.pending.get(key)
        if existing is not None:
            if existing.when() <= self.loop.time() + delay:
                return
            existing.cancel()
        self.pending[key] = self.loop.call_later(delay, self._fire, key)

    def _fire(self, key: tuple[str, str]) -> None:
        self.pending.pop(key, None)
        self.loop.run_in_executor(self.executor, self._reconcile, key)

    def _reconcile(self, key: tuple[str, str]) -> None:
        if self.reconcile is None:
            return
        try:
            self.reconcile(*key)
        except Exception:  # the resync retries; a recheck must not kill the loop's callbacks
            log.exception("recheck of %s/%s failed", *key)

    def cancel_all(self) -> None:
        for handle in self.pending.values():
            handle.cancel()
        self.pending.clear()


def load_seen(kube: Kube, patterns: Sequence[str]) -> Seen | None:
    """What exists now, for the reconcile's hint (seen.py); None if it cannot be listed, and
    then every reconcile reads everything."""
    seen = Seen()
    managed = c.managed_selector()
    try:
        for namespace in namespaces_in_scope(patterns, kube.list_namespace_names):
            for kind in KINDS:
                selector = None if kind == RUNS else managed  # runs made by hand: no labels
                seen.preload(kind, kube.iter_objects(kind, namespace, selector))
    except KubeError as exc:
        log.warning("cannot list what exists (%s); every reconcile will read everything", exc)
        return None
    return seen


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    operator_settings: Settings = memo["settings"]
    configure_kopf(settings, operator_settings)
    metrics.start_metrics_server(operator_settings.metrics_port)
    # One clock, the cluster's: every answer of the API server tells its time (Date header),
    # and the reconciler compares the objects' timestamps with that, not with this node's clock.
    clock = ClusterClock()
    memo["clock"] = clock
    kube = Kube(load_api_client(), clock=clock, timeout=operator_settings.api_timeout_seconds)
    loop = asyncio.get_running_loop()
    notifier = Notifier(
        on_failure=notify_failed(kube, loop, clock.now),
        allowed_targets=operator_settings.webhook_allowed_targets,
    )
    await notifier.start()
    memo["notifier"] = notifier
    memo["executor"] = settings.execution.executor
    # Before kopf starts watching (it runs start-up handlers first), so the handlers' events
    # only ever update what was listed here.
    memo["seen"] = await loop.run_in_executor(None, load_seen, kube, list(memo["namespaces"]))
    rechecks = Rechecks(loop, memo["executor"])
    memo["rechecks"] = rechecks
    memo["reconciler"] = Reconciler(
        kube,
        operator_settings,
        clock=clock.now,  # learned from load_seen's listings above, before the first reading
        observer=Observer(notifier),
        seen=memo["seen"],
        recheck=rechecks,
    )
    rechecks.reconcile = memo["reconciler"].reconcile_named
    memo["resync_task"] = loop.create_task(resync_loop(memo))


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    rechecks: Rechecks | None = memo.get("rechecks")
    if rechecks is not None:
        rechecks.cancel_all()
    task: asyncio.Task[None] | None = memo.get("resync_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    notifier: Notifier | None = memo.get("notifier")
    if notifier is not None:
        await notifier.stop()
    metrics.stop_metrics_server()


async def resync_loop(memo: kopf.Memo) -> None:
    """Every resync interval, reconcile every schedule in scope: the drift check, and the
    Healthy condition and coverage kept current (they change with time alone)."""
    settings: Settings = memo["settings"]
    reconciler: Reconciler = memo["reconciler"]
    patterns: list[str] = list(memo["namespaces"])
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.resync_seconds)
        try:
            await loop.run_in_executor(None, reconciler.resync, patterns)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("resync failed")
