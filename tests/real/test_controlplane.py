"""The launcher and the node agent on the real control plane (controlplane/, sandbox/node_agent.py).

The launcher: the built release answers with its version; a `python -m archive_controlplane`
stopped by SIGTERM leaves no process and no etcd data behind. The node agent, as a kubelet: a
Ready Node with a Lease that is renewed, pods the real scheduler binds run as processes with
kubelet-like status (exit code, reason, termination message), `kubectl logs` through the API
server, graceful deletion completed, activeDeadlineSeconds enforced, and the node identity held
to what the Node authorizer allows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import wait_for
from tests.fixtures.controlplane import RealCluster

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.fixture
def namespace(real_cluster: RealCluster) -> Iterator[str]:
    name = f"node-{uuid.uuid4().hex[:8]}"
    real_cluster.kubectl("create", "namespace", name)
    wait_for(
        lambda: (
            real_cluster.kubectl("get", "sa", "default", namespace=name, check=False).returncode
            == 0
        ),
        "the namespace's default ServiceAccount",
    )
    yield name
    real_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def pod_yaml(name: str, command: str, **spec: Any) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {"name": "main", "image": "example.org/archive-runner:test",
                 "command": ["sh", "-c", command]}
            ],
            **spec,
        },
    }  # fmt: skip
    return json.dumps(body)


def pod(cluster: RealCluster, namespace: str, name: str) -> dict[str, Any] | None:
    done = cluster.kubectl("get", "pod", name, "-o", "json", namespace=namespace, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def phase_is(cluster: RealCluster, namespace: str, name: str, *phases: str) -> Any:
    body = pod(cluster, namespace, name)
    return body if body and body.get("status", {}).get("phase") in phases else None


def test_the_built_release_is_the_pinned_one(real_cluster: RealCluster) -> None:
    version = json.loads(real_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.2"
    binary = real_cluster.plane.bin_dir / "kube-apiserver"
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Kubernetes v1.37.2"


def test_the_node_is_ready_and_its_lease_is_renewed(real_cluster: RealCluster) -> None:
    node = real_cluster.json("get", "node", "node-1")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert node["status"]["allocatable"]["pods"] == "110"
    first = real_cluster.json("get", "lease", "node-1", namespace="kube-node-lease")
    assert first["spec"]["holderIdentity"] == "node-1"
    renewed = wait_for(
        lambda: (
            (lease := real_cluster.json("get", "lease", "node-1", namespace="kube-node-lease"))[
                "spec"
            ]["renewTime"]
            != first["spec"]["renewTime"]
            and lease
        ),
        "the Lease to be renewed",
        timeout=30,
    )
    assert renewed["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]


def test_a_pod_runs_with_kubelet_status_and_logs(real_cluster: RealCluster, namespace: str) -> None:
    command = (
        "echo first line; echo second line; echo 'why it failed' > /dev/termination-log; exit 3"
    )
    real_cluster.kubectl("apply", "-f", "-", input=pod_yaml("p", command), namespace=namespace)
    body = wait_for(
        lambda: phase_is(real_cluster, namespace, "p", "Failed"), "the pod to fail", timeout=60
    )
    assert body["spec"]["nodeName"] == "node-1"  # bound by the real kube-scheduler
    (status,) = body["status"]["containerStatuses"]
    terminated = status["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert terminated["message"] == "why it failed\n"
    logs = real_cluster.kubectl("logs", "p", namespace=namespace).stdout
    assert logs == "first line\nsecond line\n"
    events = real_cluster.json("get", "events", namespace=namespace)["items"]
    reasons = {(e["reason"], e["source"].get("component", "")) for e in events}
    assert ("Scheduled", "default-scheduler") in reasons or any(
        e["reason"] == "Scheduled" for e in events
    )
    assert ("Started", "kubelet") in reasons


def test_deleting_a_running_pod_stops_it_and_completes_the_deletion(
    real_cluster: RealCluster, namespace: str
) -> None:
    marker = f"archive-node-test-{uuid.uuid4().hex[:8]}"
    spec = pod_yaml("sleeper", f"exec sleep 600 # {marker}", terminationGracePeriodSeconds=5)
    real_cluster.kubectl("apply", "-f", "-", input=spec, namespace=namespace)
    wait_for(
        lambda: phase_is(real_cluster, namespace, "sleeper", "Running"),
        "Running",
        timeout=60,
    )
    real_cluster.kubectl(
        "delete", "pod", "sleeper", "--wait=true", "--timeout=30s", namespace=namespace
    )
    assert pod(real_cluster, namespace, "sleeper") is None
    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    assert alive.stdout == "", f"processes left: {alive.stdout}"


def test_active_deadline_seconds_fails_the_pod(real_cluster: RealCluster, namespace: str) -> None:
    spec = pod_yaml("late", "exec sleep 600", activeDeadlineSeconds=2)
    real_cluster.kubectl("apply", "-f", "-", input=spec, namespace=namespace)
    body = wait_for(
        lambda: phase_is(real_cluster, namespace, "late", "Failed"), "the deadline", timeout=60
    )
    assert body["status"]["reason"] == "DeadlineExceeded"


def test_a_pod_waits_for_a_missing_secret_then_runs(
    real_cluster: RealCluster, namespace: str
) -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "later", "key": "token"}}}]
    body = json.loads(pod_yaml("waits", 'test "$TOKEN" = s3cret'))
    body["spec"]["containers"][0]["env"] = env
    real_cluster.kubectl("apply", "-f", "-", input=json.dumps(body), namespace=namespace)

    def waiting_reason() -> str | None:
        statuses = (pod(real_cluster, namespace, "waits") or {}).get("status", {})
        for s in statuses.get("containerStatuses") or []:
            return str(s["state"].get("waiting", {}).get("reason") or "") or None
        return None

    assert wait_for(waiting_reason, "the config error", timeout=60) == "CreateContainerConfigError"
    real_cluster.kubectl(
        "create", "secret", "generic", "later", "--from-literal=token=s3cret", namespace=namespace
    )
    wait_for(lambda: phase_is(real_cluster, namespace, "waits", "Succeeded"), "success", timeout=60)


def test_the_node_identity_is_held_to_the_node_authorizer(
    real_cluster: RealCluster, namespace: str
) -> None:
    real_cluster.kubectl(
        "create", "secret", "generic", "unrelated", "--from-literal=k=v", namespace=namespace
    )
    node_config = real_cluster.plane.workdir / "kubeconfigs" / "system-node-node-1.yaml"
    denied = real_cluster.kubectl(
        "get", "secret", "unrelated", namespace=namespace, kubeconfig=node_config, check=False
    )
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
    # NodeRestriction: a node may create only its own Node object.
    foreign = json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}})
    created = real_cluster.kubectl(
        "create", "-f", "-", input=foreign, kubeconfig=node_config, check=False
    )
    assert created.returncode != 0 and "forbidden" in created.stderr.lower(), created.stderr


def test_sigterm_stops_everything_and_removes_the_data(tmp_path: Path) -> None:
    """`python -m archive_controlplane`, as a user runs it: SIGTERM leaves no process behind."""
    workdir = tmp_path / "plane"
    process = subprocess.Popen(
        [sys.executable, "-m", "archive_controlplane", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "export KUBECONFIG=" in line:
                break
        assert any("Control plane ready" in x for x in lines), "".join(lines)
        started = datetime.now(UTC)
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 5, children  # etcd, 3 kube-* and the node agent
        assert (workdir / "etcd-data").is_dir()
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(60) == 0
        assert (datetime.now(UTC) - started).total_seconds() < 60
        left = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        assert left == [], f"processes outlived the launcher: {left}"
        assert not (workdir / "etcd-data").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
