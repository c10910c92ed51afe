"""Runs that cannot start (issue 13, item 4): a schedule whose credentials Secret is missing
or another user's is not Ready and its runs wait (``kubectl archive trigger --wait`` stops
with exit 14 and the reason); a run whose pod cannot start is Blocked with the reason, the
schedule unhealthy, and Failed with the reason at the Job's deadline.

On the sandbox and on the real control plane (a missing claim is the real kube-scheduler's
Unschedulable). A pod whose mounted Secret went missing after the check is Blocked too
(tests/unit/test_blocked_runs.py).
"""

from __future__ import annotations

import json
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


def test_a_schedule_naming_a_missing_or_foreign_secret_is_not_ready_and_its_runs_wait(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    """Issue 13 item 4 and issue 18 item 1: the schedule is not Ready while its Secret is
    missing or belongs to another user (the attack: alice names bob's Secret); its runs wait,
    ``trigger --wait`` says why at once, and nothing ever mounts bob's credentials."""
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_days(1)[0]
    seed_days(caldav, source, [day])
    cluster.apply(with_secret(schedule_yaml("alice", source, archive), "calendar-late"), namespace)
    missing = wait_for(lambda: not_ready(cluster, namespace), "Ready=False")
    assert missing["reason"] == "CredentialsSecretNotFound"
    assert "Secret 'calendar-late' does not exist" in missing["message"]
    assert cluster.items("cronjobs", namespace) == []

    started = time.monotonic()
    waited = plugin(
        cluster, namespace, "trigger", "alice", "--start", day.isoformat(), "--wait",
        "--timeout", "3m",
    )  # fmt: skip
    assert waited.returncode == 14, (waited.stdout, waited.stderr)
    assert time.monotonic() - started < 60
    assert "cannot start: the schedule is not Ready (CredentialsSecretNotFound" in waited.stderr
    (run,) = cluster.items("archiveruns", namespace)
    name = run["metadata"]["name"]
    assert (run["status"]["phase"], run["status"]["reason"]) == ("Pending", "ScheduleNotReady")

    # Bob's Secret under the name alice's schedule gives.
    cluster.kubectl(
        "create", "secret", "generic", "calendar-late",
        "--from-literal=username=bob", "--from-literal=password=bobs-password",
        namespace=namespace,
    )  # fmt: skip
    annotate = ["annotate", "secret", "calendar-late", "--overwrite"]
    cluster.kubectl(*annotate, "archive.auriora.io/user=bob@example.com", namespace=namespace)
    foreign = wait_for(
        lambda: (r := not_ready(cluster, namespace)) and r["reason"] == "CredentialsNotOwned" and r,
        "Ready=False, CredentialsNotOwned",
    )
    assert "belongs to user 'bob@example.com'" in foreign["message"]
    assert "bobs-password" not in json.dumps(schedule_status(cluster, namespace, "alice"))
    time.sleep(4)  # two resyncs: still nothing made that could mount bob's Secret
    assert cluster.items("cronjobs", namespace) == []
    assert cluster.items("jobs", namespace) == []
    assert cluster.items("pods", namespace) == []
    reasons = [e["reason"] for e in events_of(cluster, namespace, "alice")]
    assert "CredentialsNotOwned" in reasons

    # Alice's own credentials under that name: the schedule is Ready, the run starts.
    cluster.kubectl("delete", "secret", "calendar-late", namespace=namespace)
    cluster.kubectl(
        "create", "secret", "generic", "calendar-late",
        "--from-literal=username=alice", "--from-literal=password=secret",
        namespace=namespace,
    )  # fmt: skip
    cluster.kubectl(*annotate, "archive.auriora.io/user=alice", namespace=namespace)
    done = wait_finished(cluster, namespace, name, timeout=240)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["counts"]["created"] == 2
    assert condition(schedule_status(cluster, namespace, "alice"), "Ready")["status"] == "True"


def not_ready(cluster: Cluster, namespace: str) -> dict[str, Any] | None:
    ready = condition(schedule_status(cluster, namespace, "alice"), "Ready")
    return ready if ready.get("status") == "False" else None


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
