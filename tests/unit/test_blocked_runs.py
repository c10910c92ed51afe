"""Runs whose pod cannot start, through the reconcile loop against the in-memory API: Blocked
with the pod's reason, one Event per reason, the schedule unhealthy naming the Secret, a recheck
when the start-up grace ends, recovery, and Failed with the reason at the Job's deadline."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator import constants as c
from archive_operator.reconciler import Reconciler
from archive_operator.settings import Settings

from .fake_kube import FakeKube

NS = "team-a"
RUN = "alice-now"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rechecks() -> list[tuple[str, str, float]]:
    return []


@pytest.fixture
def kube(clock: Clock) -> FakeKube:
    kube = FakeKube()
    kube.now = clock.now
    kube.add_schedule(
        {
            "apiVersion": c.API_VERSION,
            "kind": c.SCHEDULE_KIND,
            "metadata": {"name": "alice", "namespace": NS, "uid": "sched-uid"},
            "spec": {
                "user": "alice",
                "timeZone": "Europe/London",
                "schedules": [],
                "source": {"caldav": {"url": "https://cal/alice/work/"}},
                "destination": {"caldav": {"url": "https://cal/alice/archive/"}},
                "credentialsSecretRef": {"name": "calendar-typo"},
            },
        }
    )
    # The operator sees an annotated Secret (its ownership check passes); the kubelet cannot
    # mount it (deleted since, or a key missing): the pod's view is what blocks the run.
    kube.add_credentials(NS, "calendar-typo", "alice")
    kube.add_run(
        {
            "metadata": {"name": RUN, "namespace": NS, "creationTimestamp": stamp(START)},
            "spec": {"scheduleRef": {"name": "alice"}, "start": "2026-03-01", "end": "2026-03-01"},
        }
    )
    return kube


@pytest.fixture
def reconciler(kube: FakeKube, clock: Clock, rechecks: list[tuple[str, str, float]]) -> Reconciler:
    return Reconciler(
        kube,  # type: ignore[arg-type]
        Settings(runner_image="runner:test"),
        clock,
        recheck=lambda ns, name, delay: rechecks.append((ns, name, delay)),
    )


def the_job(kube: FakeKube) -> dict[str, Any]:
    return kube.jobs[(NS, RUN)]


def add_pod(kube: FakeKube, scheduled: datetime, state: dict[str, Any]) -> None:
    """The Job's pod as the kubelet reports it: scheduled at ``scheduled``, not started."""
    job = the_job(kube)
    pod = copy.deepcopy(job["spec"]["template"])
    pod["metadata"].update(
        {"name": f"{RUN}-x7k2p", "namespace": NS, "creationTimestamp": stamp(scheduled)}
    )
    pod["metadata"]["labels"][c.LABEL_JOB_NAME] = RUN
    pod["status"] = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(scheduled)}
        ],
        "startTime": stamp(scheduled),
        "containerStatuses": [{"name": "runner", "ready": False, "state": state}],
    }
    kube.add_pod(pod)


def start_pod(kube: FakeKube) -> None:
    pod = kube.pods[(NS, f"{RUN}-x7k2p")]
    pod["status"]["phase"] = "Running"
    pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": stamp(START)}}


def run_status(kube: FakeKube) -> dict[str, Any]:
    return dict(kube.runs[(NS, RUN)].get("status") or {})


def healthy(kube: FakeKube) -> dict[str, Any]:
    conditions = kube.schedules[(NS, "alice")]["status"]["conditions"]
    return dict(next(x for x in conditions if x["type"] == "Healthy"))


def blocked_events(kube: FakeKube) -> list[dict[str, Any]]:
    return [e for e in kube.events if e["reason"] == "RunBlocked"]


def test_a_missing_mounted_secret_blocks_the_run_after_the_grace_and_it_recovers(
    kube: FakeKube,
    reconciler: Reconciler,
    clock: Clock,
    rechecks: list[tuple[str, str, float]],
) -> None:
    reconciler.reconcile_named(NS, "alice")  # the Job is created
    add_pod(kube, START, {"waiting": {"reason": "ContainerCreating"}})

    clock.now = START + timedelta(seconds=10)
    reconciler.reconcile_named(NS, "alice")
    # Still within the 40 s grace: Running, and a recheck asked for when the grace ends.
    assert run_status(kube)["phase"] == "Running"
    assert rechecks == [(NS, "alice", 31.0)]

    clock.now = START + timedelta(seconds=41)
    reconciler.reconcile_named(NS, "alice")
    status = run_status(kube)
    assert (status["phase"], status["reason"]) == ("Blocked", "ContainerCreating")
    assert status["message"] == (
        f"pod {RUN}-x7k2p is still ContainerCreating more than 40s after it was scheduled; "
        'check that the Secret "calendar-typo" it mounts exists (spec.credentialsSecretRef)'
    )
    assert healthy(kube)["status"] == "False"
    assert healthy(kube)["reason"] == "RunsBlocked"
    assert '"calendar-typo"' in healthy(kube)["message"]
    assert kube.schedules[(NS, "alice")]["status"]["activeRuns"] == [RUN]
    # A Warning on the run and on the schedule, once.
    assert [(e["type"], e["kind"]) for e in blocked_events(kube)] == [
        ("Warning", "ArchiveRun"),
        ("Warning", "ArchiveSchedule"),
    ]

    writes = len(kube.writes)
    clock.now = START + timedelta(minutes=5)
    reconciler.reconcile_named(NS, "alice")
    assert kube.writes[writes:] == []  # nothing new: no status write, no second Event

    start_pod(kube)  # the Secret was created: the kubelet mounts it and starts the runner
    reconciler.reconcile_named(NS, "alice")
    assert (run_status(kube)["phase"], run_status(kube)["reason"]) == ("Running", "JobRunning")
    assert healthy(kube)["reason"] == "NoRunsYet"
    assert healthy(kube)["status"] == "True"


def test_a_new_reason_is_a_new_event(kube: FakeKube, reconciler: Reconciler) -> None:
    reconciler.reconcile_named(NS, "alice")
    add_pod(kube, START, {"waiting": {"reason": "ErrImagePull", "message": "not found"}})
    reconciler.reconcile_named(NS, "alice")
    pod = kube.pods[(NS, f"{RUN}-x7k2p")]
    pod["status"]["containerStatuses"][0]["state"] = {
        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "r:1"'}
    }
    reconciler.reconcile_named(NS, "alice")
    reconciler.reconcile_named(NS, "alice")

    on_run = [e["message"] for e in blocked_events(kube) if e["kind"] == "ArchiveRun"]
    assert on_run == [
        f"ErrImagePull: pod {RUN}-x7k2p cannot start: ErrImagePull: not found",
        f"ImagePullBackOff: pod {RUN}-x7k2p cannot start: ImagePullBackOff: "
        'Back-off pulling image "r:1"',
    ]


def test_a_blocked_run_whose_job_hits_its_deadline_fails_with_the_blocked_reason(
    kube: FakeKube, reconciler: Reconciler, clock: Clock
) -> None:
    reconciler.reconcile_named(NS, "alice")
    secret_env = {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}
    add_pod(kube, START, {"waiting": secret_env})
    reconciler.reconcile_named(NS, "alice")
    assert run_status(kube)["phase"] == "Blocked"

    # activeDeadlineSeconds passed: the Job controller fails the Job and deletes the pod.
    clock.now = START + timedelta(hours=1, seconds=5)
    kube.pods.clear()
    the_job(kube)["status"] = {
        "startTime": stamp(START),
        "conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}
        ],
    }  # fmt: skip
    reconciler.reconcile_named(NS, "alice")

    status = run_status(kube)
    assert (status["phase"], status["reason"]) == ("Failed", "CreateContainerConfigError")
    assert status["message"] == (
        f"Job {RUN} reached its deadline (activeDeadlineSeconds) before its pod started; "
        f'pod {RUN}-x7k2p cannot start: CreateContainerConfigError: secret "x" not found'
    )
    assert kube.schedules[(NS, "alice")]["status"]["consecutiveFailures"] == 1
    assert healthy(kube)["reason"] == "NoSuccessYet"


def test_a_running_job_that_hits_its_deadline_keeps_the_job_controllers_reason(
    kube: FakeKube, reconciler: Reconciler, clock: Clock
) -> None:
    reconciler.reconcile_named(NS, "alice")
    add_pod(kube, START, {"waiting": {"reason": "ContainerCreating"}})
    start_pod(kube)
    reconciler.reconcile_named(NS, "alice")
    clock.now = START + timedelta(hours=1, seconds=5)
    the_job(kube)["status"] = {
        "startTime": stamp(START),
        "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}],
    }
    reconciler.reconcile_named(NS, "alice")

    assert (run_status(kube)["phase"], run_status(kube)["reason"]) == (
        "Failed",
        "DeadlineExceeded",
    )


def test_a_blocked_run_stays_blocked_while_the_deadline_removes_its_pod(
    kube: FakeKube, reconciler: Reconciler, clock: Clock
) -> None:
    """A real Job controller deletes the pod at the deadline (condition FailureTarget) and adds
    Failed only once the pod is gone: in between, nothing has started."""
    reconciler.reconcile_named(NS, "alice")
    add_pod(kube, START, {"waiting": {"reason": "ErrImagePull", "message": "not found"}})
    reconciler.reconcile_named(NS, "alice")
    blocked = run_status(kube)
    assert blocked["phase"] == "Blocked"

    clock.now = START + timedelta(hours=1, seconds=1)
    kube.pods[(NS, f"{RUN}-x7k2p")]["metadata"]["deletionTimestamp"] = stamp(clock.now)
    the_job(kube)["status"] = {
        "startTime": stamp(START),
        "conditions": [{"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"}],
    }
    reconciler.reconcile_named(NS, "alice")
    assert run_status(kube) == blocked

    kube.pods.clear()
    reconciler.reconcile_named(NS, "alice")
    assert run_status(kube) == blocked  # no pod at all yet: still nothing started

    the_job(kube)["status"]["conditions"].append(
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}
    )
    reconciler.reconcile_named(NS, "alice")
    assert (run_status(kube)["phase"], run_status(kube)["reason"]) == ("Failed", "ErrImagePull")
