"""Conformance: the real kubectl binary against the sandbox."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.sandbox import SandboxHandle

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

WIDGET = """
apiVersion: sandbox.example.com/v1
kind: Widget
metadata:
  name: {name}
  labels: {{team: {team}}}
spec:
  size: {size}
  note: {note}
"""
CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 2 * * *"
  timeZone: Europe/Paris
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: example/runner:1.0
              env: [{name: A, value: "1"}, {name: B, value: "2"}]
"""


def widget_yaml(name: str = "w1", size: int = 3, team: str = "red", note: str = "hello") -> str:
    return WIDGET.format(name=name, size=size, team=team, note=note)


@pytest.fixture(autouse=True)
def _crds(widgets_crd: list[str]) -> None:
    """The test CRD is installed before kubectl runs."""


def test_apply_client_side_create_update_unchanged(kubectl: Kubectl) -> None:
    assert (
        kubectl("apply", "-f", "-", input=widget_yaml()).stdout.strip()
        == "widget.sandbox.example.com/w1 created"
    )
    assert (
        kubectl("apply", "-f", "-", input=widget_yaml()).stdout.strip()
        == "widget.sandbox.example.com/w1 unchanged"
    )
    assert (
        kubectl("apply", "-f", "-", input=widget_yaml(size=4)).stdout.strip()
        == "widget.sandbox.example.com/w1 configured"
    )
    obj = json.loads(kubectl("get", "widget", "w1", "-o", "json").stdout)
    assert obj["spec"] == {"size": 4, "note": "hello", "color": "blue"}
    assert obj["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]


def test_apply_client_side_builtin_uses_strategic_merge(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CRONJOB)
    edited = CRONJOB.replace('{name: B, value: "2"}', '{name: C, value: "3"}').replace(
        "0 2 * * *", "30 3 * * *"
    )
    assert "configured" in kubectl("apply", "-f", "-", input=edited).stdout
    cj = json.loads(kubectl("get", "cronjob", "nightly", "-o", "json").stdout)
    assert cj["spec"]["schedule"] == "30 3 * * *"
    env = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]


def test_apply_server_side_and_conflict(kubectl: Kubectl) -> None:
    assert (
        "serverside-applied"
        in kubectl("apply", "--server-side", "-f", "-", input=widget_yaml()).stdout
    )
    assert (
        "serverside-applied"
        in kubectl("apply", "--server-side", "-f", "-", input=widget_yaml(size=5)).stdout
    )
    other = kubectl(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        input=widget_yaml(size=6),
        check=False,
    )
    assert other.returncode != 0 and "conflict" in other.stderr.lower()
    forced = kubectl(
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        "-",
        input=widget_yaml(size=6),
    )
    assert "serverside-applied" in forced.stdout
    assert kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.size}").stdout == "6"


def test_apply_server_side_after_client_side(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CRONJOB)
    result = kubectl(
        "apply", "--server-side", "-f", "-", input=CRONJOB.replace("0 2 * * *", "0 4 * * *")
    )
    assert "serverside-applied" in result.stdout
    assert kubectl("get", "cj", "nightly", "-o", "jsonpath={.spec.schedule}").stdout == "0 4 * * *"


def test_apply_rejects_invalid_and_unknown_fields(kubectl: Kubectl) -> None:
    bad = kubectl("apply", "-f", "-", input=widget_yaml(size=1000), check=False)
    assert bad.returncode != 0
    # kubectl rewrites the Status message as "The <kind> ..." exactly as with a real cluster.
    assert 'The Widget "w1" is invalid: spec.size: Invalid value: 1000: ' in bad.stderr
    unknown = widget_yaml() + "  bogus: 1\n"
    strict = kubectl("apply", "-f", "-", input=unknown, check=False)
    assert strict.returncode != 0 and 'unknown field "spec.bogus"' in strict.stderr
    warned = kubectl("apply", "--validate=warn", "-f", "-", input=unknown)
    assert 'unknown field "spec.bogus"' in warned.stderr


def test_get_prints_printer_columns_and_wide(
    kubectl: Kubectl, sandbox: SandboxHandle, sandbox_namespace: str
) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    kubectl(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}',
    )
    lines = kubectl("get", "widgets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert lines[1].split()[:4] == ["w1", "3", "blue", "True"]
    wide = kubectl("get", "wd", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "COLOR", "READY", "NOTE", "AGE"]
    assert "hello" in wide[1]
    by_category = kubectl("get", "sandboxtest", "-o", "name").stdout
    assert "widget.sandbox.example.com/w1" in by_category


def test_get_output_formats_and_selectors(kubectl: Kubectl, sandbox_namespace: str) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input=widget_yaml("a", team="red") + "---" + widget_yaml("b", team="blue"),
    )
    assert kubectl("get", "widgets", "-l", "team=blue", "-o", "name").stdout.split() == [
        "widget.sandbox.example.com/b"
    ]
    assert kubectl(
        "get", "widgets", "--field-selector", "metadata.name=a", "-o", "name"
    ).stdout.split() == ["widget.sandbox.example.com/a"]
    listed = yaml.safe_load(kubectl("get", "widgets", "-o", "yaml").stdout)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    all_ns = kubectl("get", "widgets", "-A").stdout.splitlines()
    assert all_ns[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [sandbox_namespace, "a"] for line in all_ns)


def test_get_builtin_tables(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CRONJOB)
    header = kubectl("get", "cronjobs").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    kubectl("create", "configmap", "cm1", "--from-literal=a=b")  # sent as protobuf
    assert kubectl("get", "configmaps", "cm1").stdout.splitlines()[1].split()[:2] == ["cm1", "1"]
    assert kubectl("get", "namespace", "default").stdout.splitlines()[1].split()[:2] == [
        "default",
        "Active",
    ]


def test_describe_custom_resource_shows_events(
    kubectl: Kubectl, core: Any, sandbox_namespace: str
) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    uid = kubectl("get", "widget", "w1", "-o", "jsonpath={.metadata.uid}").stdout
    event = {
        "metadata": {"name": "w1.event"},
        "involvedObject": {
            "apiVersion": "sandbox.example.com/v1",
            "kind": "Widget",
            "name": "w1",
            "namespace": sandbox_namespace,
            "uid": uid,
        },
        "reason": "Tested",
        "message": "described fine",
        "type": "Normal",
        "source": {"component": "pytest"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
        "count": 1,
    }
    core.create_namespaced_event(sandbox_namespace, event)
    out = kubectl("describe", "widget", "w1").stdout
    assert "Name:         w1" in out and "Size:   3" in out
    assert "Tested" in out and "described fine" in out
    events = kubectl("get", "events").stdout.splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "widget/w1" in events[1]
    assert "w1.event" in kubectl("get", "events", "-o", "wide").stdout


def test_patch_merge_json_and_delete(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":8}}')
    kubectl(
        "patch",
        "widget",
        "w1",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/note","value":"x"}]',
    )
    spec = json.loads(kubectl("get", "widget", "w1", "-o", "json").stdout)["spec"]
    assert spec["size"] == 8 and spec["note"] == "x"
    rejected = kubectl(
        "patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":-1}}', check=False
    )
    assert rejected.returncode != 0 and "spec.size" in rejected.stderr
    assert "deleted" in kubectl("delete", "-f", "-", input=widget_yaml()).stdout
    missing = kubectl("get", "widget", "w1", check=False)
    assert (
        missing.returncode != 0 and 'widgets.sandbox.example.com "w1" not found' in missing.stderr
    )


def test_edit_with_an_editor_script(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/size: 3/size: 9/' \"$1\"\n")
    editor.chmod(0o755)
    kubectl("edit", "widget", "w1", env={"KUBE_EDITOR": str(editor)})
    assert kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.size}").stdout == "9"


def test_wait_for_condition_and_delete(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    kubectl(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}',
    )
    assert (
        "condition met"
        in kubectl("wait", "widget/w1", "--for=condition=Ready", "--timeout=10s").stdout
    )
    kubectl("delete", "widget", "w1", "--wait=false")
    kubectl("wait", "widget/w1", "--for=delete", "--timeout=10s")


def test_kubectl_crd_established_and_namespace_commands(sandbox: SandboxHandle) -> None:
    out = sandbox.kubectl(
        "wait", "crd/widgets.sandbox.example.com", "--for=condition=Established", "--timeout=10s"
    ).stdout
    assert "condition met" in out
    sandbox.kubectl("create", "namespace", "kubectl-made")  # sent as protobuf
    sandbox.kubectl("create", "secret", "generic", "s", "--from-literal=pw=x", "-n", "kubectl-made")
    assert (
        sandbox.kubectl(
            "get", "secret", "s", "-n", "kubectl-made", "-o", "jsonpath={.data.pw}"
        ).stdout
        == "eA=="
    )
    unsupported = sandbox.kubectl(
        "create", "job", "j", "--image=x", "-n", "kubectl-made", check=False
    )
    assert unsupported.returncode != 0 and "send JSON" in unsupported.stderr
    assert "kubectl-made" in sandbox.kubectl("get", "ns").stdout
    sandbox.kubectl("delete", "namespace", "kubectl-made", "--timeout=20s")
    assert sandbox.kubectl("get", "ns", "kubectl-made", check=False).returncode != 0


def test_get_watch_prints_table_rows(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=widget_yaml())
    watched = kubectl("get", "widgets", "-w", "--request-timeout=2s").stdout.splitlines()
    assert watched[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert watched[1].split()[:3] == ["w1", "3", "blue"]
