"""Job controller conformance: pods, labels, counts, back-off, deadlines, failure policy, TTL."""

from __future__ import annotations

from typing import Any

from tests.sandbox.workloads.harness import (  # noqa: F401
    Harness,
    alive,
    busybox,
    job,
    pod_spec,
    wl_fixture,
    wl_sandbox_fixture,
)

Fixture = Harness


def test_a_job_runs_its_pod_to_completion(wl: Fixture) -> None:
    made = wl.create("jobs", job("hello", "echo hello; printf done > /dev/termination-log"))
    wl.wait_for(lambda: wl.condition("jobs", "hello", "Complete"), "Complete")
    status = wl.get("jobs", "hello")["status"]  # type: ignore[index]
    assert status["succeeded"] == 1 and "failed" not in status and "active" not in status
    assert status["startTime"] and status["completionTime"]
    types = [c["type"] for c in status["conditions"]]
    assert types == ["SuccessCriteriaMet", "Complete"]
    assert status["conditions"][1]["reason"] == "CompletionsReached"

    [pod] = wl.pods_of("hello")
    uid = made["metadata"]["uid"]
    labels = pod["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == uid == labels["controller-uid"]
    assert labels["batch.kubernetes.io/job-name"] == "hello" == labels["job-name"]
    assert pod["metadata"]["name"].startswith("hello-")
    [ref] = pod["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "hello",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert pod["spec"]["nodeName"] == "sandbox-node"
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (
        0,
        "Completed",
        "done",
    )
    assert "Created pod: " + pod["metadata"]["name"] in wl.events("SuccessfulCreate")


def test_failed_pods_are_retried_with_back_off_until_the_limit(wl: Fixture) -> None:
    wl.create("jobs", job("flaky", "exit 1", backoffLimit=2))
    wl.wait_for(
        lambda: (wl.get("jobs", "flaky") or {}).get("status", {}).get("failed") == 1,
        "first failure",
    )
    assert len(wl.pods_of("flaky")) == 1  # the next pod waits for the back-off (10s)
    wl.advance(9)
    assert len(wl.pods_of("flaky")) == 1
    wl.advance(1)
    assert len(wl.pods_of("flaky")) == 2
    wl.wait_for(lambda: wl.get("jobs", "flaky")["status"].get("failed") == 2, "second failure")  # type: ignore[index]
    wl.advance(19)
    assert len(wl.pods_of("flaky")) == 2  # then 20s
    wl.advance(1)
    wl.wait_for(lambda: wl.condition("jobs", "flaky", "Failed"), "Failed")
    status = wl.get("jobs", "flaky")["status"]  # type: ignore[index]
    assert status["failed"] == 3 and "active" not in status and "completionTime" not in status
    failure = {c["type"]: c for c in status["conditions"]}
    assert (
        failure["FailureTarget"]["reason"] == failure["Failed"]["reason"] == "BackoffLimitExceeded"
    )
    assert failure["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert [wl.phase(p) for p in wl.pods_of("flaky")] == ["Failed"] * 3


def test_active_deadline_fails_the_job_and_stops_its_pod(wl: Fixture) -> None:
    wl.create("jobs", job("slow", "exec sleep 1000", activeDeadlineSeconds=30))
    [pod] = wl.wait_for(
        lambda: [p for p in wl.pods_of("slow") if wl.phase(p) == "Running"], "running"
    )
    pid = wl.sandbox.workloads.kubelet.runtimes[pod["metadata"]["uid"]].containers[0].process.pid  # type: ignore[union-attr]
    wl.advance(29)
    assert not wl.condition("jobs", "slow", "Failed")
    wl.advance(1)
    failed = wl.condition("jobs", "slow", "Failed")
    assert failed and failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    assert wl.pods_of("slow") == [] and wl.get("jobs", "slow")["status"]["failed"] == 1  # type: ignore[index]
    wl.wait_for(lambda: not alive(pid), "the process to stop")


def _policy_job(name: str, script: str, tmp: str) -> dict[str, Any]:
    rules = [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
        },
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}},
    ]
    container = busybox(
        script,
        env=[{"name": "MARK", "value": "/state/mark"}],
        volumeMounts=[{"name": "state", "mountPath": "/state"}],
    )
    spec = pod_spec(container, volumes=[{"name": "state", "hostPath": {"path": tmp}}])
    return job(name, "", backoffLimit=0, podFailurePolicy={"rules": rules}, template={"spec": spec})


def test_pod_failure_policy_fail_job_ignore_and_count(wl: Fixture, tmp_path: Any) -> None:
    wl.create("jobs", _policy_job("fatal", "exit 42", str(tmp_path / "a")))
    failed = wl.wait_for(lambda: wl.condition("jobs", "fatal", "Failed"), "Failed")
    [pod] = wl.pods_of("fatal")
    assert failed["reason"] == "PodFailurePolicy"
    assert (
        failed["message"]
        == f"Container main for pod {wl.ns}/{pod['metadata']['name']} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )

    # Exit 3 is ignored: not counted, replaced at once; the replacement finds the mark and succeeds.
    (tmp_path / "b").mkdir()
    wl.create(
        "jobs",
        _policy_job(
            "ignored", 'test -f "$MARK" && exit 0; touch "$MARK"; exit 3', str(tmp_path / "b")
        ),
    )
    wl.wait_for(lambda: wl.condition("jobs", "ignored", "Complete"), "Complete")
    status = wl.get("jobs", "ignored")["status"]  # type: ignore[index]
    assert status["succeeded"] == 1 and "failed" not in status and len(wl.pods_of("ignored")) == 2

    wl.create("jobs", _policy_job("counted", "exit 5", str(tmp_path / "c")))
    failed = wl.wait_for(lambda: wl.condition("jobs", "counted", "Failed"), "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"


def test_suspended_job_starts_no_pods_until_resumed(wl: Fixture) -> None:
    wl.create("jobs", job("later", "true", suspend=True))
    assert wl.pods_of("later") == []
    suspended = wl.condition("jobs", "later", "Suspended")
    assert suspended and suspended["reason"] == "JobSuspended"
    assert "startTime" not in wl.get("jobs", "later")["status"]  # type: ignore[index]
    wl.patch("jobs", "later", {"spec": {"suspend": False}})
    cond = next(
        c for c in wl.get("jobs", "later")["status"]["conditions"] if c["type"] == "Suspended"
    )  # type: ignore[index]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "JobResumed",
        "Job resumed",
    )
    wl.wait_for(lambda: wl.condition("jobs", "later", "Complete"), "Complete")


def test_finished_job_is_deleted_after_its_ttl_with_its_pods(wl: Fixture) -> None:
    wl.create("jobs", job("brief", "true", ttlSecondsAfterFinished=60))
    wl.wait_for(lambda: wl.condition("jobs", "brief", "Complete"), "Complete")
    wl.advance(59)
    assert wl.get("jobs", "brief") is not None
    wl.advance(1)
    assert wl.get("jobs", "brief") is None and wl.pods_of("brief") == []


def test_on_failure_restarts_count_towards_the_backoff_limit(wl: Fixture) -> None:
    template = {"spec": pod_spec(busybox("exit 7"), restart="OnFailure")}
    wl.create("jobs", job("restarts", "", backoffLimit=1, template=template))
    [pod] = wl.pods_of("restarts")
    name = pod["metadata"]["name"]

    def waiting_reason() -> str | None:
        statuses = (wl.get("pods", name) or {}).get("status", {}).get("containerStatuses") or [{}]
        return statuses[0].get("state", {}).get("waiting", {}).get("reason")

    wl.wait_for(lambda: waiting_reason() == "CrashLoopBackOff", "back-off")
    assert (
        wl.get("pods", name)["status"]["containerStatuses"][0]["lastState"]["terminated"][
            "exitCode"
        ]
        == 7
    )  # type: ignore[index]
    wl.advance(10)
    wl.wait_for(lambda: wl.condition("jobs", "restarts", "Failed"), "Failed")
    assert wl.condition("jobs", "restarts", "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
