"""Metrics: values read back from a registry of the test's own, and the /metrics HTTP server."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from archive_operator import metrics
from archive_operator.metrics import Metrics
from archive_operator.notify import RunOutcome
from prometheus_client import CollectorRegistry, generate_latest

DONE = datetime(2026, 11, 21, 0, 1, 30, tzinfo=UTC)


def outcome(phase: str = "Succeeded", schedule: str = "alice", **changes: Any) -> RunOutcome:
    values: dict[str, Any] = {
        "namespace": "team-a",
        "schedule": schedule,
        "user": "alice",
        "run": f"{schedule}-nightly-1",
        "trigger": "scheduled",
        "phase": phase,
        "start": date(2026, 11, 20),
        "end": date(2026, 11, 20),
        "counts": {"created": 3},
        "message": "",
        "completion_time": DONE,
    }
    values.update(changes)
    return RunOutcome(**values)


@pytest.fixture
def m() -> Metrics:
    return Metrics(CollectorRegistry())


def series_of(exposition: str, namespace: str, schedule: str) -> list[str]:
    """The sample lines labelled with this namespace and schedule (not counters' _created)."""
    return [
        line
        for line in exposition.splitlines()
        if f'namespace="{namespace}"' in line
        and f'schedule="{schedule}"' in line
        and "_created{" not in line
    ]


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_run_started_and_finished(m: Metrics) -> None:
    m.observe_run_started("team-a", "alice", "manual")
    m.observe_run_started("team-a", "alice", "manual")
    m.observe_run_finished(outcome("Succeeded", trigger="manual"), 42.0, 3)
    m.observe_run_finished(outcome("Failed"), 700.0, 0)

    alice = {"namespace": "team-a", "schedule": "alice"}
    assert value(m, "archive_runs_started_total", **alice, trigger="manual") == 2
    assert value(m, "archive_runs_total", **alice, trigger="manual", phase="Succeeded") == 1
    assert value(m, "archive_runs_total", **alice, trigger="scheduled", phase="Failed") == 1
    assert value(m, "archive_events_archived_total", **alice) == 3
    assert value(m, "archive_last_success_timestamp_seconds", **alice) == DONE.timestamp()

    ok = {"namespace": "team-a", "trigger": "manual", "phase": "Succeeded"}
    assert value(m, "archive_run_duration_seconds_count", **ok) == 1
    assert value(m, "archive_run_duration_seconds_sum", **ok) == 42.0
    assert value(m, "archive_run_duration_seconds_bucket", **ok, le="30.0") == 0
    assert value(m, "archive_run_duration_seconds_bucket", **ok, le="60.0") == 1
    failed = {"namespace": "team-a", "trigger": "scheduled", "phase": "Failed"}
    assert value(m, "archive_run_duration_seconds_bucket", **failed, le="600.0") == 0
    assert value(m, "archive_run_duration_seconds_bucket", **failed, le="1200.0") == 1


def test_failure_does_not_move_last_success_and_unknown_duration_is_not_observed(
    m: Metrics,
) -> None:
    m.observe_run_finished(outcome("PartiallySucceeded"), None, 2)
    alice = {"namespace": "team-a", "schedule": "alice"}
    assert value(m, "archive_last_success_timestamp_seconds", **alice) is None
    assert value(m, "archive_events_archived_total", **alice) == 2
    labels = {"namespace": "team-a", "trigger": "scheduled", "phase": "PartiallySucceeded"}
    assert value(m, "archive_run_duration_seconds_count", **labels) is None


def test_archived_series_exists_at_zero_so_rates_work(m: Metrics) -> None:
    m.observe_run_finished(outcome("Failed"), 1.0, 0)
    assert value(m, "archive_events_archived_total", namespace="team-a", schedule="alice") == 0


def test_gauges_and_errors(m: Metrics) -> None:
    m.set_queued_runs("team-a", "alice", 2)
    m.set_queued_runs("team-a", "alice", 1)
    m.set_queued_runs("team-a", "bob", -1)
    m.set_last_success("team-a", "bob", 1_800_000_000.0)
    m.observe_reconcile_error("Conflict")
    m.observe_reconcile_error("Conflict")
    m.observe_reconcile_error("ApiError")
    assert value(m, "archive_queued_runs", namespace="team-a", schedule="alice") == 1
    assert value(m, "archive_queued_runs", namespace="team-a", schedule="bob") == 0
    bob = {"namespace": "team-a", "schedule": "bob"}
    assert value(m, "archive_last_success_timestamp_seconds", **bob) == 1_800_000_000.0
    assert value(m, "archive_reconcile_errors_total", kind="Conflict") == 2
    assert value(m, "archive_reconcile_errors_total", kind="ApiError") == 1


def test_forget_schedule_drops_only_its_series(m: Metrics) -> None:
    for name in ("alice", "bob"):
        m.observe_run_started("team-a", name, "scheduled")
        m.observe_run_finished(outcome("Succeeded", schedule=name), 5.0, 1)
        m.observe_run_finished(outcome("Failed", schedule=name, trigger="manual"), 5.0, 0)
        m.set_queued_runs("team-a", name, 1)
        m.observe_missed("team-a", name, "MissedStartingDeadline", 2)
    m.observe_run_started("team-b", "alice", "scheduled")  # same name, other namespace

    m.forget_schedule("team-a", "alice")

    text = generate_latest(m.registry).decode()
    assert series_of(text, "team-a", "alice") == []
    assert len(series_of(text, "team-a", "bob")) == 7
    assert (
        value(
            m,
            "archive_runs_started_total",
            namespace="team-b",
            schedule="alice",
            trigger="scheduled",
        )
        == 1
    )
    # The histogram is per namespace/trigger/phase, so it keeps the runs it saw.
    ok = {"namespace": "team-a", "trigger": "scheduled", "phase": "Succeeded"}
    assert value(m, "archive_run_duration_seconds_count", **ok) == 2


def test_missed_runs_are_counted_by_reason(m: Metrics) -> None:
    m.observe_missed("team-a", "alice", "ConcurrentRunActive", 1)
    m.observe_missed("team-a", "alice", "ConcurrentRunActive", 2)
    m.observe_missed("team-a", "alice", "OperatorDown", 0)  # nothing: no empty series either
    labels = {"namespace": "team-a", "schedule": "alice"}
    assert value(m, "archive_missed_runs_total", **labels, reason="ConcurrentRunActive") == 3
    assert value(m, "archive_missed_runs_total", **labels, reason="OperatorDown") is None


def test_exposition_has_help_and_types(m: Metrics) -> None:
    m.observe_run_finished(outcome(), 3.0, 1)
    text = generate_latest(m.registry).decode()
    for line in (
        "# TYPE archive_runs_total counter",
        "# TYPE archive_runs_started_total counter",
        "# TYPE archive_run_duration_seconds histogram",
        "# TYPE archive_events_archived_total counter",
        "# TYPE archive_last_success_timestamp_seconds gauge",
        "# TYPE archive_queued_runs gauge",
        "# TYPE archive_reconcile_errors_total counter",
        'archive_runs_total{namespace="team-a",phase="Succeeded",schedule="alice",'
        'trigger="scheduled"} 1.0',
    ):
        assert line in text


def test_module_functions_write_to_the_operator_registry() -> None:
    labels = {"namespace": "ns-module-test", "schedule": "s"}

    def read(name: str, **extra: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    metrics.observe_run_started("ns-module-test", "s", "backfill")
    metrics.observe_run_finished(outcome(namespace="ns-module-test", schedule="s"), 1.0, 4)
    metrics.set_queued_runs("ns-module-test", "s", 3)
    metrics.set_last_success("ns-module-test", "s", 12.0)
    before = metrics.REGISTRY.get_sample_value(
        "archive_reconcile_errors_total", {"kind": "ModuleTest"}
    )
    metrics.observe_reconcile_error("ModuleTest")
    assert read("archive_runs_started_total", trigger="backfill") == 1
    assert read("archive_events_archived_total") == 4
    assert read("archive_queued_runs") == 3
    assert read("archive_last_success_timestamp_seconds") == 12.0
    assert (before or 0) + 1 == metrics.REGISTRY.get_sample_value(
        "archive_reconcile_errors_total", {"kind": "ModuleTest"}
    )
    metrics.forget_schedule("ns-module-test", "s")
    assert read("archive_queued_runs") == 0.0
    assert (
        'namespace="ns-module-test",schedule="s"' not in generate_latest(metrics.REGISTRY).decode()
    )


# --- the HTTP server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server_port() -> Iterator[int]:
    port = free_port()
    yield port
    metrics.stop_metrics_server()


def test_metrics_server_serves_the_registry(server_port: int) -> None:
    metrics.start_metrics_server(server_port)
    metrics.start_metrics_server(server_port)  # idempotent
    metrics.observe_reconcile_error("ServedOverHttp")
    with urllib.request.urlopen(f"http://127.0.0.1:{server_port}/metrics", timeout=5) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        body = reply.read().decode()
    assert 'archive_reconcile_errors_total{kind="ServedOverHttp"} 1.0' in body
    # Only the operator's registry: no process or Python metrics of the global one.
    assert "python_gc_objects_collected_total" not in body

    metrics.stop_metrics_server()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server_port}/metrics", timeout=5)


def test_port_zero_turns_the_server_off() -> None:
    metrics.start_metrics_server(0)
    assert metrics._server is None


def test_taken_or_invalid_port_is_a_clear_error(server_port: int) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", server_port))
        taken.listen()
        with pytest.raises(ValueError, match=rf"^metrics port {server_port}: cannot listen"):
            metrics.start_metrics_server(server_port)
    with pytest.raises(ValueError, match="metrics port 70000: not a TCP port"):
        metrics.start_metrics_server(70000)
