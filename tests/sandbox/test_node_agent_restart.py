"""The node agent restarted while a pod runs: the pod's processes are gone (stopped with the
agent, or killed with it by PR_SET_PDEATHSIG), so the restarted agent reports the pod as a
kubelet reports containers it cannot find — Failed, ContainerStatusUnknown, exit code 137 —
and a Job's controller makes a new pod. A pod that had finished stays as it was."""

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


def running_pod(wl: Harness, job_name: str) -> dict[str, Any] | None:
    return next((p for p in wl.pods_of(job_name) if wl.phase(p) == "Running"), None)


def test_a_pod_running_at_the_restart_is_lost_and_its_job_makes_another(wl: Harness) -> None:
    wl.create("jobs", job("long", "echo started; exec sleep 1000", backoffLimit=2))
    wl.create(
        "pods", {"metadata": {"name": "quick", "labels": {}}, "spec": pod_spec(busybox("true"))}
    )
    first = wl.wait_for(lambda: running_pod(wl, "long"), "the Job's pod to run")
    wl.wait_for(lambda: wl.phase({"metadata": {"name": "quick"}}) == "Succeeded", "quick to end")
    [pid] = [p for p in wl.sandbox.workloads.kubelet.process_ids() if alive(p)]

    wl.sandbox.restart_node_agent()

    assert not alive(pid)  # the process went with the agent
    name = first["metadata"]["name"]
    lost = wl.wait_for(lambda: wl.phase(first) == "Failed" and wl.get("pods", name), "lost")
    [status] = lost["status"]["containerStatuses"]
    assert status["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert status["state"]["terminated"]["exitCode"] == 137
    assert status["ready"] is False
    wl.advance(60)  # past the Job controller's back-off after a failed pod (frozen clock)
    second = wl.wait_for(lambda: running_pod(wl, "long"), "the Job's next pod to run")
    assert second["metadata"]["name"] != name
    assert wl.phase({"metadata": {"name": "quick"}}) == "Succeeded"  # finished: left alone
