"""Prometheus metrics of the operator, served on ``/metrics`` of the metrics port.

All metrics live in :data:`REGISTRY`, a registry of their own (not prometheus-client's global
one, which also carries process and Python metrics of whatever imported it), so tests can read
exact values. The module functions are the operator's interface; :class:`Metrics` holds the
metrics of one registry (tests build their own).

| Metric | Type | Labels |
|---|---|---|
| ``archive_runs_started_total`` | counter | namespace, schedule, trigger |
| ``archive_runs_total`` (finished runs) | counter | namespace, schedule, trigger, phase |
| ``archive_run_duration_seconds`` | histogram | namespace, trigger, phase |
| ``archive_events_archived_total`` | counter | namespace, schedule |
| ``archive_last_success_timestamp_seconds`` | gauge | namespace, schedule |
| ``archive_queued_runs`` | gauge | namespace, schedule |
| ``archive_reconcile_errors_total`` | counter | kind |
| ``archive_missed_runs_total`` | counter | namespace, schedule, reason |

Missed scheduled times (missed.py) also count in ``archive_runs_total`` with phase Skipped,
but only those recorded as runs (a bounded number per reconcile); the dedicated counter
counts every one, by reason (ConcurrentRunActive, MissedStartingDeadline, ...).

The duration histogram has no schedule label: with one series per bucket, a per-user label
would multiply the series by the number of users.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:  # notify imports aiohttp; metrics need only the type
    from .notify import RunOutcome

SCHEDULE_LABELS = ("namespace", "schedule")
# Runs take seconds (one day, a few events) to an hour (a long backfill, the default deadline).
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class Metrics:
    """The operator's metrics, registered in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.runs_started = Counter(
            "archive_runs_started",
            "Archive runs started (their Job was created or seen)",
            [*SCHEDULE_LABELS, "trigger"],
            registry=registry,
        )
        self.runs = Counter(
            "archive_runs",
            "Archive runs finished, by phase",
            [*SCHEDULE_LABELS, "trigger", "phase"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "archive_run_duration_seconds",
            "Duration of finished archive runs, from start to completion",
            ["namespace", "trigger", "phase"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.events_archived = Counter(
            "archive_events_archived",
            "Events written to the archive by finished runs",
            list(SCHEDULE_LABELS),
            registry=registry,
        )
        self.last_success = Gauge(
            "archive_last_success_timestamp_seconds",
            "Unix time of the schedule's last successful run",
            list(SCHEDULE_LABELS),
            registry=registry,
        )
        self.queued_runs = Gauge(
            "archive_queued_runs",
            "Runs waiting (Pending) for the schedule's concurrency slot or a resume",
            list(SCHEDULE_LABELS),
            registry=registry,
        )
        self.missed_runs = Counter(
            "archive_missed_runs",
            "Scheduled times the CronJob did not start, by reason",
            [*SCHEDULE_LABELS, "reason"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "archive_reconcile_errors",
            "Reconciliations that failed, by kind of error",
            ["kind"],
            registry=registry,
        )

    def observe_missed(self, namespace: str, schedule: str, reason: str, count: int) -> None:
        if count > 0:
            self.missed_runs.labels(namespace, schedule, reason).inc(count)

    def observe_run_started(self, namespace: str, schedule: str, trigger: str) -> None:
        self.runs_started.labels(namespace, schedule, trigger).inc()

    def observe_run_finished(
        self, outcome: RunOutcome, duration_seconds: float | None, archived: int
    ) -> None:
        """Count a finished run; a success also moves the last-success timestamp."""
        self.runs.labels(outcome.namespace, outcome.schedule, outcome.trigger, outcome.phase).inc()
        if duration_seconds is not None and duration_seconds >= 0:
            self.run_duration.labels(outcome.namespace, outcome.trigger, outcome.phase).observe(
                duration_seconds
            )
        events = self.events_archived.labels(outcome.namespace, outcome.schedule)
        if archived > 0:
            events.inc(archived)
        if outcome.phase == "Succeeded":
            self.set_last_success(
                outcome.namespace, outcome.schedule, outcome.completion_time.timestamp()
            )

    def set_queued_runs(self, namespace: str, schedule: str, count: int) -> None:
        self.queued_runs.labels(namespace, schedule).set(max(count, 0))

    def observe_reconcile_error(self, kind: str) -> None:
        self.reconcile_errors.labels(kind).inc()

    def set_last_success(self, namespace: str, schedule: str, timestamp: float) -> None:
        self.last_success.labels(namespace, schedule).set(timestamp)

    def forget_schedule(self, namespace: str, schedule: str) -> None:
        """Drop every series of a deleted schedule (the histogram has none of its own)."""
        labels = {"namespace": namespace, "schedule": schedule}
        for metric in (
            self.runs_started,
            self.runs,
            self.events_archived,
            self.last_success,
            self.queued_runs,
            self.missed_runs,
        ):
            metric.remove_by_labels(labels)


REGISTRY = CollectorRegistry(auto_describe=True)
METRICS = Metrics(REGISTRY)

_server_lock = threading.Lock()
_server: WSGIServer | None = None
_server_thread: threading.Thread | None = None


def start_metrics_server(port: int) -> None:
    """Serve REGISTRY on http://0.0.0.0:<port>/metrics in a daemon thread; 0 turns it off.

    Idempotent while running. A port that is taken or out of range raises ValueError with a
    one-line message naming it.
    """
    global _server, _server_thread
    if port == 0:
        return
    if not 0 < port < 65536:
        raise ValueError(f"metrics port {port}: not a TCP port; use 1-65535, or 0 to turn off")
    with _server_lock:
        if _server is not None:
            return
        try:
            _server, _server_thread = start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
        except OSError as exc:
            raise ValueError(
                f"metrics port {port}: cannot listen ({exc.strerror}); "
                "choose a free port, or 0 to turn metrics off"
            ) from None


def stop_metrics_server() -> None:
    """Stop the server started by start_metrics_server (no-op if none runs)."""
    global _server, _server_thread
    with _server_lock:
        if _server is None:
            return
        _server.shutdown()
        _server.server_close()
        if _server_thread is not None:
            _server_thread.join(timeout=5)
        _server, _server_thread = None, None


def observe_run_started(namespace: str, schedule: str, trigger: str) -> None:
    METRICS.observe_run_started(namespace, schedule, trigger)


def observe_run_finished(
    outcome: RunOutcome, duration_seconds: float | None, archived: int
) -> None:
    METRICS.observe_run_finished(outcome, duration_seconds, archived)


def set_queued_runs(namespace: str, schedule: str, count: int) -> None:
    METRICS.set_queued_runs(namespace, schedule, count)


def observe_missed(namespace: str, schedule: str, reason: str, count: int) -> None:
    METRICS.observe_missed(namespace, schedule, reason, count)


def observe_reconcile_error(kind: str) -> None:
    METRICS.observe_reconcile_error(kind)


def set_last_success(namespace: str, schedule: str, timestamp: float) -> None:
    METRICS.set_last_success(namespace, schedule, timestamp)


def forget_schedule(namespace: str, schedule: str) -> None:
    METRICS.forget_schedule(namespace, schedule)
