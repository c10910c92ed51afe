"""Why a runner pod has not started (pure), from pod statuses as a real kubelet writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from archive_operator.pod_start import (
    Blocked,
    PodWaiting,
    blocked,
    newest_waiting,
    pod_waiting,
    recheck_at,
)

SCHEDULED = datetime(2025, 3, 10, 11, 0, 0, tzinfo=UTC)


def pending_pod(
    container_state: dict[str, Any] | None,
    *,
    name: str = "alice-manual-x7k2p",
    created: str = "2025-03-10T11:00:00Z",
    volumes: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    """A pod the scheduler bound at 11:00:00 whose only container has not started."""
    status: dict[str, Any] = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "False",
             "lastTransitionTime": "2025-03-10T11:00:00Z"},
            {"type": "Initialized", "status": "True",
             "lastTransitionTime": "2025-03-10T11:00:00Z"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [runner]",
             "lastTransitionTime": "2025-03-10T11:00:00Z"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [runner]",
             "lastTransitionTime": "2025-03-10T11:00:00Z"},
            {"type": "PodScheduled", "status": "True",
             "lastTransitionTime": "2025-03-10T11:00:00Z"},
        ],
        "hostIP": "10.0.0.5",
        "startTime": "2025-03-10T11:00:00Z",
    }  # fmt: skip
    if container_state is not None:
        status["containerStatuses"] = [
            {"name": "runner", "image": "ghcr.io/auriora/archive-runner:1.0", "imageID": "",
             "lastState": {}, "ready": False, "restartCount": 0, "started": False,
             "state": container_state}
        ]  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2025-03-10T11:05:00Z"
    return {
        "metadata": meta,
        "spec": {
            "volumes": volumes
            if volumes is not None
            else [
                {"name": "tmp", "emptyDir": {}},
                {"name": "credentials", "secret": {"secretName": "calendar", "defaultMode": 288}},
            ]
        },
        "status": status,
    }


def test_a_secret_missing_from_env_blocks_at_once_with_the_kubelets_words() -> None:
    pod = pending_pod(
        {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}}
    )

    waiting = pod_waiting(pod)

    assert waiting is not None
    assert (waiting.reason, waiting.message) == (
        "CreateContainerConfigError",
        'secret "x" not found',
    )
    # No grace: the kubelet retries, but only a new Secret changes the answer.
    assert blocked(waiting, SCHEDULED + timedelta(seconds=1)) == Blocked(
        "CreateContainerConfigError",
        'pod alice-manual-x7k2p cannot start: CreateContainerConfigError: secret "x" not found',
    )
    assert recheck_at(waiting, SCHEDULED + timedelta(seconds=1)) is None


def test_an_image_that_cannot_be_pulled_blocks_with_the_pull_error() -> None:
    pull = (
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/'
        'nope:1": failed to resolve reference "docker.io/library/nope:1": not found'
    )
    first = pending_pod({"waiting": {"reason": "ErrImagePull", "message": pull}})
    backoff = pending_pod(
        {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope:1"'}}
    )

    assert blocked(pod_waiting(first), SCHEDULED) == Blocked(
        "ErrImagePull", f"pod alice-manual-x7k2p cannot start: ErrImagePull: {pull}"
    )
    assert blocked(pod_waiting(backoff), SCHEDULED) == Blocked(
        "ImagePullBackOff",
        'pod alice-manual-x7k2p cannot start: ImagePullBackOff: Back-off pulling image "nope:1"',
    )


def test_an_unschedulable_pod_blocks_after_40s_with_the_schedulers_message() -> None:
    message = (
        "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod."
    )
    pod = {
        "metadata": {"name": "alice-manual-x7k2p", "creationTimestamp": "2025-03-10T11:00:00Z"},
        "spec": {"volumes": []},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": message, "lastProbeTime": None,
                 "lastTransitionTime": "2025-03-10T11:00:00Z"}
            ],
        },
    }  # fmt: skip

    waiting = pod_waiting(pod)

    # A node not Ready yet, or one an autoscaler adds, makes pods unschedulable for a while.
    assert blocked(waiting, SCHEDULED + timedelta(seconds=39)) is None
    assert recheck_at(waiting, SCHEDULED + timedelta(seconds=39)) == SCHEDULED + timedelta(
        seconds=40
    )
    assert blocked(waiting, SCHEDULED + timedelta(seconds=40)) == Blocked(
        "Unschedulable", f"pod alice-manual-x7k2p cannot start: Unschedulable: {message}"
    )


def test_container_creating_is_normal_for_40s_then_names_the_mounted_secret() -> None:
    # A missing Secret in a volume: the kubelet reports FailedMount only as an Event; the
    # status just says ContainerCreating, as it does for any pod starting up.
    pod = pending_pod({"waiting": {"reason": "ContainerCreating"}})
    waiting = pod_waiting(pod)
    assert waiting == PodWaiting(
        "alice-manual-x7k2p", "ContainerCreating", "", SCHEDULED, ("calendar",)
    )

    assert blocked(waiting, SCHEDULED + timedelta(seconds=39)) is None
    assert recheck_at(waiting, SCHEDULED + timedelta(seconds=39)) == SCHEDULED + timedelta(
        seconds=40
    )
    late = blocked(waiting, SCHEDULED + timedelta(seconds=40))
    assert late == Blocked(
        "ContainerCreating",
        "pod alice-manual-x7k2p is still ContainerCreating more than 40s after it was "
        'scheduled; check that the Secret "calendar" it mounts exists '
        "(spec.credentialsSecretRef)",
    )
    # The message does not change with time, so a later reconcile writes nothing new.
    assert blocked(waiting, SCHEDULED + timedelta(minutes=20)) == late
    assert recheck_at(waiting, SCHEDULED + timedelta(seconds=41)) is None


def test_container_creating_without_a_secret_volume_points_at_the_mount_events() -> None:
    pod = pending_pod({"waiting": {"reason": "ContainerCreating"}}, volumes=[])

    found = blocked(pod_waiting(pod), SCHEDULED + timedelta(minutes=1))

    assert found is not None
    assert found.message.endswith(
        "a volume may not mount (kubectl describe pod shows FailedMount events)"
    )


def test_a_pod_that_started_finished_or_is_going_away_is_not_waiting() -> None:
    running = pending_pod({"running": {"startedAt": "2025-03-10T11:00:02Z"}})
    running["status"]["phase"] = "Running"
    done = pending_pod({"terminated": {"exitCode": 0, "reason": "Completed"}})
    done["status"]["phase"] = "Succeeded"
    deleting = pending_pod(
        {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}},
        deleting=True,
    )
    # Running with the container restarting after a crash: a runner problem, not a start-up one.
    crashing = pending_pod({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}})
    crashing["status"]["phase"] = "Running"

    assert [pod_waiting(p) for p in (running, done, deleting, crashing)] == [None] * 4


def test_only_the_newest_pod_of_the_job_counts() -> None:
    old_attempt = pending_pod(
        {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}},
        name="old",
        created="2025-03-10T10:00:00Z",
    )
    newer = pending_pod({"running": {}}, name="new", created="2025-03-10T10:30:00Z")
    newer["status"]["phase"] = "Running"

    assert newest_waiting([old_attempt, newer]) is None
    assert newest_waiting([newer, old_attempt][1:]) is not None
    assert newest_waiting([]) is None


def test_a_long_message_is_cut() -> None:
    pod = pending_pod({"waiting": {"reason": "ErrImagePull", "message": "x" * 2000}})

    found = blocked(pod_waiting(pod), SCHEDULED)

    assert found is not None
    assert len(found.message) == 512
    assert found.message.endswith("xxx...")
