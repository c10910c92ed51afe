"""Runs whose pod cannot start (issue 13, item 4): Blocked with the reason, the schedule
unhealthy, ``kubectl archive trigger --wait`` stopping with exit 14, recovery once the Secret
exists, and Failed with the reason at the Job's deadline.

On the sandbox and on the real control plane (whose node agent reports a missing mounted
Secret as a kubelet does: the container waiting in ContainerCreating and a FailedMount Event;
a missing claim is the real kube-scheduler's Unschedulable).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from .harness import BIN, CalDAV, Cluster, wait_for
from .test_runs import (
    condition,
    events_of,
    past_days,
    run_yaml,
    schedule_status,
    schedule_yaml,
    seed_days,
    wait_finished,
)

pytestmark = pytest.mark.slow


def plugin(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``kubectl archive ...`` as a user runs it (kubectl finds the plugin on PATH)."""
    return subprocess.run(
        [str(BIN / "kubectl"), "archive", *args, "-n", namespace],
        capture_output=True, text=True, env=cluster.env(), timeout=300,
    )  # fmt: skip


def run_in_phase(cluster: Cluster, namespace: str, name: str, phase: str) -> Any:
    body = cluster.try_get("archiverun", namespace, name)
    return body if (body or {}).get("status", {}).get("phase") == phase else None


def with_secret(yaml: str, secret: str) -> str:
    old = "credentialsSecretRef:\n    name: calendar\n"
    assert old in yaml
    return yaml.replace(old, f"credentialsSecretRef:\n    name: {secret}\n")


def test_a_missing_credentials_secret_blocks_the_run_until_it_is_created(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_days(1)[0]
    seed_days(caldav, source, [day])
    cluster.apply(with_secret(schedule_yaml("alice", source, archive), "calendar-late"), namespace)
    wait_for(
        lambda: condition(schedule_status(cluster, namespace, "alice"), "Ready").get("status"),
        "the schedule's Ready condition",
    )

    started = time.monotonic()
    waited = plugin(
        cluster, namespace, "trigger", "alice", "--start", day.isoformat(), "--wait",
        "--timeout", "3m",
    )  # fmt: skip

    # The mount fails: 40 s of ContainerCreating, then Blocked; the plugin stops at once.
    assert waited.returncode == 14, (waited.stdout, waited.stderr)
    assert time.monotonic() - started < 90
    assert "Blocked [ContainerCreating]" in waited.stdout
    assert 'check that the Secret "calendar-late" it mounts exists' in waited.stdout
    assert "is Blocked: its pod cannot start (ContainerCreating)" in waited.stderr
    (run,) = cluster.items("archiveruns", namespace)
    name = run["metadata"]["name"]
    status = run["status"]
    assert (status["phase"], status["reason"]) == ("Blocked", "ContainerCreating")
    assert status["message"].endswith(
        'more than 40s after it was scheduled; check that the Secret "calendar-late" it mounts '
        "exists (spec.credentialsSecretRef)"
    )
    # The kubelet's own word, which the operator does not need to read: FailedMount on the pod.
    (pod,) = cluster.items("pods", namespace)
    pod_events = events_of(cluster, namespace, pod["metadata"]["name"])
    failed_mounts = [e for e in pod_events if e["reason"] == "FailedMount"]
    assert failed_mounts and "calendar-late" in failed_mounts[0]["message"]

    schedule = schedule_status(cluster, namespace, "alice")
    assert condition(schedule, "Ready")["status"] == "True"
    healthy = condition(schedule, "Healthy")
    assert (healthy["status"], healthy["reason"]) == ("False", "RunsBlocked")
    assert f"run {name} is Blocked" in healthy["message"]
    assert '"calendar-late"' in healthy["message"]
    assert schedule["activeRuns"] == [name]
    health = plugin(cluster, namespace, "health", "alice", "-o", "wide")
    assert health.returncode == 8, (health.stdout, health.stderr)
    assert "unhealthy" in health.stdout and "RunsBlocked" in health.stdout

    time.sleep(6)  # three resyncs later: still one Warning for this reason
    blocked = [e for e in events_of(cluster, namespace, name) if e["reason"] == "RunBlocked"]
    assert [(e["type"], e.get("count", 1)) for e in blocked] == [("Warning", 1)]
    assert blocked[0]["message"].startswith("ContainerCreating: pod ")

    # The Secret appears: the kubelet retries the mount, the run starts and succeeds.
    cluster.kubectl(
        "create", "secret", "generic", "calendar-late",
        "--from-literal=username=alice", "--from-literal=password=secret",
        namespace=namespace,
    )  # fmt: skip
    done = wait_finished(cluster, namespace, name, timeout=240)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["counts"]["created"] == 2
    recovered = wait_for(
        lambda: (
            condition(s := schedule_status(cluster, namespace, "alice"), "Healthy").get("status")
            == "True"
            and s
        ),
        "Healthy=True after the run succeeded",
    )
    assert condition(recovered, "Healthy")["reason"] == "RunsSucceeding"
    assert recovered.get("activeRuns", []) == []


def test_an_unschedulable_run_is_blocked_then_fails_with_that_reason_at_its_deadline(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    source = caldav.new_calendar("work")
    day = past_days(1)[0]
    # A deadline beyond the 40 s the operator allows a pod to stay unschedulable.
    directory = "  runner:\n    activeDeadlineSeconds: 60\n    backoffLimit: 0\n"
    yaml = schedule_yaml("alice", source, "unused", extra=directory).replace(
        "  destination:\n    caldav:\n      url: unused\n",
        "  destination:\n    directory:\n      claimName: archive-missing\n",
    )
    assert "archive-missing" in yaml
    cluster.apply(yaml, namespace)
    cluster.apply(run_yaml("alice-nowhere", "alice", day, day), namespace)

    blocked = wait_for(
        lambda: run_in_phase(cluster, namespace, "alice-nowhere", "Blocked"),
        "the run to be Blocked",
        timeout=55,
    )
    status = blocked["status"]
    assert status["reason"] == "Unschedulable"
    assert status["message"].startswith("pod alice-nowhere-")
    assert 'persistentvolumeclaim "archive-missing" not found' in status["message"]
    healthy = condition(schedule_status(cluster, namespace, "alice"), "Healthy")
    assert healthy["reason"] == "RunsBlocked"

    failed = wait_finished(cluster, namespace, "alice-nowhere", timeout=120)
    assert (failed["status"]["phase"], failed["status"]["reason"]) == ("Failed", "Unschedulable")
    assert failed["status"]["message"].startswith(
        "Job alice-nowhere reached its deadline (activeDeadlineSeconds) before its pod started; "
        "pod alice-nowhere-"
    )
    after = wait_for(
        lambda: (
            (s := schedule_status(cluster, namespace, "alice")).get("consecutiveFailures") == 1
            and s
        ),
        "the failure counted",
    )
    assert condition(after, "Healthy")["reason"] == "NoSuccessYet"
    reasons = [e["reason"] for e in events_of(cluster, namespace, "alice-nowhere")]
    assert reasons.count("RunBlocked") == 1
    assert "RunFailed" in reasons
