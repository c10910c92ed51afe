"""The local kubelet: env and volumes, image rules, states, logs (real kubectl), stop, no leaks."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from archive_sandbox.app import Sandbox
from archive_sandbox.controllers.workloads import RUNNER_RULE
from archive_sandbox.kubelet_spec import ImageRule

from tests.fixtures.sandbox import KUBECTL
from tests.sandbox.workloads.harness import (  # noqa: F401
    Harness,
    alive,
    busybox,
    group_members,
    pod_spec,
    wl_fixture,
    wl_sandbox_fixture,
)


def pod(
    name: str, *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}, "annotations": {"team": "ops"}}
    return {"metadata": meta, "spec": pod_spec(*containers, **spec)}


def secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def finished(wl: Harness, name: str) -> dict[str, Any] | None:
    obj = wl.get("pods", name) or {}
    return obj if obj.get("status", {}).get("phase") in ("Succeeded", "Failed") else None


def container_state(wl: Harness, name: str, index: int = 0) -> dict[str, Any]:
    return (
        (wl.get("pods", name) or {})
        .get("status", {})
        .get("containerStatuses", [{}])[index]
        .get("state", {})
    )  # type: ignore[no-any-return]


def test_environment_from_secrets_config_maps_downward_api_and_expansion(wl: Harness) -> None:
    wl.create("secrets", secret("creds", password="s3cret"))
    wl.create(
        "configmaps", {"metadata": {"name": "settings"}, "data": {"MODE": "fast", "LEVEL": "3"}}
    )
    env = [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {
            "name": "MODE_COPY",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}},
        },
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {
            "name": "MISSING",
            "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}},
        },
        {"name": "GREETING", "value": "hello $(POD) $$(POD) $(UNDEFINED)"},
    ]
    shown = "$PASSWORD|$MODE_COPY|$POD|$NS|${#UID}|$APP|$TEAM|$NODE|${MISSING-unset}|$GREETING"
    script = f'echo "{shown}|$CFG_MODE|$CFG_LEVEL|$HOSTNAME"'
    container = busybox(
        script, env=env, envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}]
    )
    wl.create("pods", pod("envy", container, labels={"app": "archive"}))
    wl.wait_for(lambda: finished(wl, "envy"), "pod to finish")
    out = wl.kubectl("logs", "envy").stdout
    assert (
        out == f"s3cret|fast|envy|{wl.ns}|36|archive|ops|sandbox-node|unset|hello envy $(POD) "
        "$(UNDEFINED)|fast|3|envy\n"
    )


def test_missing_secret_is_a_config_error_until_it_exists(wl: Harness) -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "later", "key": "token"}}}]
    wl.create("pods", pod("blocked", busybox('echo "$TOKEN"', env=env)))
    state = container_state(wl, "blocked")
    assert state == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "later" not found'}
    }
    assert wl.get("pods", "blocked")["status"]["phase"] == "Pending"  # type: ignore[index]
    wl.create("secrets", secret("later", other="x"))
    assert (
        container_state(wl, "blocked")["waiting"]["message"]
        == f"couldn't find key token in Secret {wl.ns}/later"
    )
    wl.patch("secrets", "later", {"data": {"token": base64.b64encode(b"t0k").decode()}})
    wl.wait_for(lambda: finished(wl, "blocked"), "pod to finish")
    assert wl.kubectl("logs", "blocked").stdout == "t0k\n"


def test_unknown_image_waits_with_err_image_pull(wl: Harness) -> None:
    wl.create("pods", pod("nopull", {"name": "main", "image": "example.com/private/app:1.0"}))
    state = container_state(wl, "nopull")
    assert state["waiting"]["reason"] == "ErrImagePull"
    assert 'Failed to pull image "example.com/private/app:1.0"' in state["waiting"]["message"]
    result = wl.kubectl("logs", "nopull", check=False)
    assert result.returncode != 0
    assert (
        'container "main" in pod "nopull" is waiting to start: trying and failing to pull image'
        in result.stderr
    )


def test_volumes_and_termination_messages_are_mapped_to_host_paths(wl: Harness) -> None:
    wl.create("secrets", secret("archive-creds", username="ann", password="pw"))
    wl.create("configmaps", {"metadata": {"name": "conf"}, "data": {"a.yaml": "a: 1\n", "b": "2"}})
    wl.create(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    volumes = [
        {"name": "creds", "secret": {"secretName": "archive-creds"}},
        {
            "name": "conf",
            "configMap": {"name": "conf", "items": [{"key": "a.yaml", "path": "sub/app.yaml"}]},
        },
        {"name": "tmp", "emptyDir": {}},
        {"name": "archive", "persistentVolumeClaim": {"claimName": "data"}},
    ]
    mounts = [
        {"name": "creds", "mountPath": "/var/run/secrets/archive", "readOnly": True},
        {"name": "conf", "mountPath": "/etc/app"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "archive", "mountPath": "/archive"},
    ]
    env = [
        {"name": "ARCHIVE_CREDENTIALS_DIR", "value": "/var/run/secrets/archive"},
        {"name": "ARCHIVE_DESTINATION_PATH", "value": "/archive/ann"},
    ]
    script = (
        'cat "$ARCHIVE_CREDENTIALS_DIR/username"; echo; cat /etc/app/sub/app.yaml; pwd; '
        'mkdir -p "$ARCHIVE_DESTINATION_PATH"; echo run >> "$ARCHIVE_DESTINATION_PATH/runs"; '
        "wc -l < /archive/ann/runs; echo '{\"created\": 1}' > /tmp/result.json; cat "
        "/tmp/result.json > /dev/custom-log"
    )
    container = busybox(
        script,
        volumeMounts=mounts,
        env=env,
        workingDir="/tmp",
        terminationMessagePath="/dev/custom-log",
    )
    for name in ("first", "second"):
        wl.create("pods", pod(name, container, volumes=volumes))
        wl.wait_for(lambda n=name: finished(wl, n), "pod to finish")  # type: ignore[misc]
    lines = wl.kubectl("logs", "second").stdout.splitlines()
    assert lines[:2] == ["ann", "a: 1"]
    assert lines[2] != "/tmp" and lines[2].endswith("/volumes/tmp")  # workingDir: the emptyDir
    assert lines[3].strip() == "2"  # the claim's directory outlives the first pod
    terminated = container_state(wl, "second")["terminated"]
    assert (terminated["exitCode"], terminated["message"]) == (0, '{"created": 1}\n')


def test_fallback_to_logs_on_error_and_exit_codes(wl: Harness) -> None:
    container = busybox(
        "echo starting; echo broken >&2; exit 3", terminationMessagePolicy="FallbackToLogsOnError"
    )
    wl.create("pods", pod("crash", container))
    wl.wait_for(lambda: finished(wl, "crash"), "pod to finish")
    status = wl.get("pods", "crash")["status"]  # type: ignore[index]
    assert status["phase"] == "Failed"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (
        3,
        "Error",
        "starting\nbroken\n",
    )
    wl.create(
        "pods", pod("noexec", {"name": "main", "image": "busybox", "command": ["no-such-binary"]})
    )
    wl.wait_for(lambda: finished(wl, "noexec"), "pod to finish")
    terminated = container_state(wl, "noexec")["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")


FOLLOW = ("logs", "-f", "chatty", "-c", "follower")


def test_kubectl_logs_container_tail_and_follow(wl: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    follower = busybox(
        f'echo one; while [ ! -e "{gate}" ]; do sleep 0.05; done; echo two', name="follower"
    )
    talker = busybox("for i in 1 2 3 4 5; do echo line $i; done", name="talker")
    wl.create("pods", pod("chatty", follower, talker))
    wl.wait_for(lambda: container_state(wl, "chatty", 1).get("terminated"), "talker to finish")
    url = f"{wl.handle.url}/api/v1/namespaces/{wl.ns}/pods/chatty/log"
    unnamed = requests.get(url, timeout=5)  # kubectl picks a container itself; the API does not
    assert unnamed.status_code == 400
    assert (
        unnamed.json()["message"]
        == "a container name must be specified for pod chatty, choose one of: [follower talker]"
    )
    assert wl.kubectl("logs", "chatty", "-c", "talker", "--tail=2").stdout == "line 4\nline 5\n"
    stamped = wl.kubectl("logs", "chatty", "-c", "talker", "--timestamps", "--tail=1").stdout
    assert stamped.endswith(" line 5\n") and stamped[:4].isdigit()

    followed: list[str] = []
    streaming = subprocess.Popen(
        [KUBECTL, f"--kubeconfig={wl.handle.kubeconfig}", "-n", wl.ns, *FOLLOW],
        stdout=subprocess.PIPE,
        text=True,
        env={"HOME": str(wl.handle.home), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert streaming.stdout is not None
    reader = threading.Thread(target=lambda: followed.extend(streaming.stdout))  # type: ignore[arg-type]
    reader.start()
    wl.wait_for(lambda: followed == ["one\n"], "the first line while following")
    gate.touch()
    assert streaming.wait(timeout=15) == 0  # the stream ends when the container does
    reader.join(5)
    assert followed == ["one\n", "two\n"]


def test_pod_deletion_sends_sigterm_then_sigkill_after_the_grace_period(wl: Harness) -> None:
    stubborn = busybox("trap '' TERM; echo ready; while :; do sleep 1; done")
    wl.create("pods", pod("stubborn", stubborn, terminationGracePeriodSeconds=20))
    log = f"{wl.handle.url}/api/v1/namespaces/{wl.ns}/pods/stubborn/log"
    wl.wait_for(lambda: requests.get(log, timeout=5).text == "ready\n", "TERM to be ignored")
    [pid] = wl.wait_for(lambda: wl.sandbox.workloads.kubelet.process_ids(), "process")
    wl.delete("pods", "stubborn")
    assert alive(pid)  # TERM is ignored; the grace period is 20 sandbox seconds
    wl.advance(19)
    assert alive(pid)
    wl.advance(1)
    wl.wait_for(lambda: not group_members(pid), "SIGKILL to the whole process group")


def test_clock_endpoints_move_the_sandbox_clock(wl: Harness) -> None:
    url = f"{wl.handle.url}/sandbox/clock"
    before = requests.get(url, timeout=5).json()
    assert before["frozen"] is True
    moved = requests.post(url, data=json.dumps({"advance": 3600}), timeout=5).json()
    assert moved["now"] > before["now"] and moved["speed"] == 0
    bad = requests.post(url, data=json.dumps({"advance": "soon"}), timeout=5)
    assert bad.status_code == 400 and "advance" in bad.json()["message"]
    assert requests.post(f"{wl.handle.url}/sandbox/workloads/settle", timeout=5).ok


def test_no_pod_process_outlives_the_sandbox(tmp_path: Path) -> None:
    sb = Sandbox()
    sb.workloads.images = [ImageRule(image="busybox")]
    sb.start_in_thread()
    try:
        pods = sb.store.resource("", "pods")
        for name, script in (
            ("plain", "exec sleep 1000"),
            ("tree", "sleep 1000 & sleep 1000 & wait"),
            ("deaf", "trap '' TERM; sleep 1000"),
        ):
            sb.call(sb.store.create(pods, "default", pod(name, busybox(script))))
        sb.call(sb.workloads.settle())
        groups = sb.workloads.kubelet.process_ids()
        assert len(groups) == 3
        members = [m for g in groups for m in group_members(g)]
        assert len(members) >= 5  # the shell's children are in the groups too
    finally:
        sb.stop_thread()
    assert [m for m in members if alive(m)] == []


def test_the_runner_image_runs_the_installed_archive_runner(wl: Harness) -> None:
    wl.sandbox.workloads.images = [*wl.sandbox.workloads.images, RUNNER_RULE]
    runner = {"name": "runner", "image": "ghcr.io/auriora/archive-runner:0.1.0", "args": ["--help"]}
    wl.create("pods", pod("runner", runner))
    wl.wait_for(lambda: finished(wl, "runner"), "the runner to exit")
    assert container_state(wl, "runner")["terminated"]["exitCode"] == 0
    assert "Usage" in wl.kubectl("logs", "runner").stdout


def test_image_paths_under_a_mount_path_are_left_alone(
    wl: Harness, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # CI clones the project under /tmp, and runner pods mount an emptyDir at /tmp: the image's
    # PATH and entrypoint (host paths) must not be mapped into the pod's volume like the paths a
    # pod declares.
    tool_dir = Path("/tmp") / f"sandbox-image-{tmp_path.name}"
    tool_dir.mkdir(exist_ok=True)
    request.addfinalizer(lambda: shutil.rmtree(tool_dir, ignore_errors=True))
    tool = tool_dir / "hello-tool"
    tool.write_text("#!/bin/sh\necho hello from the image\n")
    tool.chmod(0o755)
    wl.sandbox.workloads.images = [
        *wl.sandbox.workloads.images,
        ImageRule(image="example.com/on-path:1", entrypoint=("hello-tool",), path=(str(tool_dir),)),
        ImageRule(image="example.com/absolute:1", entrypoint=(str(tool),)),
    ]
    for name, image in (
        ("onpath", "example.com/on-path:1"),
        ("absolute", "example.com/absolute:1"),
    ):
        container = {
            "name": "main",
            "image": image,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        wl.create("pods", pod(name, container, volumes=[{"name": "tmp", "emptyDir": {}}]))
        wl.wait_for(lambda name=name: finished(wl, name), f"pod {name} to exit")
        assert container_state(wl, name)["terminated"]["exitCode"] == 0
        assert "hello from the image" in wl.kubectl("logs", name).stdout
