"""Operator and runner pods meet the Pod Security Standard "restricted"."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.chart.helm import Manifest, container_env, of_kind
from tests.chart.pod_security import restricted_violations, runner_pod_violations

COMPLIANT_POD: dict[str, Any] = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "i",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(COMPLIANT_POD)
    *parents, leaf = path.split(".")
    node: Any = pod
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[leaf] = value
    return pod


def test_the_checker_admits_a_compliant_pod() -> None:
    assert runner_pod_violations(COMPLIANT_POD) == []


@pytest.mark.parametrize(
    ("path", "value", "violation"),
    [
        ("hostNetwork", True, "spec.hostNetwork must not be true"),
        ("securityContext.runAsNonRoot", False, "runAsNonRoot must be true"),
        ("securityContext.runAsUser", 0, "runAsUser must not be 0"),
        ("securityContext.seccompProfile", {"type": "Unconfined"}, "seccompProfile.type"),
        ("containers.0.securityContext.allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
        ("containers.0.securityContext.privileged", True, "privileged must not be true"),
        ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "drop must include"),
        (
            "containers.0.securityContext.capabilities",
            {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
            "add",
        ),
        ("containers.0.securityContext.procMount", "Unmasked", "procMount"),
        ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "hostPort 80"),
        ("volumes", [{"name": "h", "hostPath": {"path": "/"}}], "of type ['hostPath']"),
        ("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], "kernel.msgmax"),
    ],
)
def test_the_checker_reports_each_restricted_violation(
    path: str, value: Any, violation: str
) -> None:
    found = restricted_violations(_with(path, value))
    assert any(violation in v for v in found), found


@pytest.mark.parametrize(
    ("path", "value", "violation"),
    [
        ("automountServiceAccountToken", True, "automountServiceAccountToken"),
        ("containers.0.securityContext.readOnlyRootFilesystem", False, "readOnlyRootFilesystem"),
    ],
)
def test_the_checker_reports_runner_extras(path: str, value: Any, violation: str) -> None:
    assert any(violation in v for v in runner_pod_violations(_with(path, value)))


def test_operator_pod_is_restricted_in_every_values_set(
    rendered: dict[str, list[Manifest]],
) -> None:
    for name, manifests in rendered.items():
        (deployment,) = of_kind(manifests, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        assert restricted_violations(pod) == [], name
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name


def test_runner_pods_rendered_by_the_operator_from_chart_settings_are_restricted(
    rendered: dict[str, list[Manifest]],
) -> None:
    """The chart's env configures the operator, whose pure renderer makes the runner pods."""
    render = pytest.importorskip("archive_operator.render")
    settings_module = pytest.importorskip("archive_operator.settings")
    schedule_module = pytest.importorskip("archive_operator.api.schedule")
    schedule = schedule_module.ArchiveSchedule.model_validate(
        {
            "apiVersion": "archive.auriora.io/v1alpha1",
            "kind": "ArchiveSchedule",
            "metadata": {"name": "alice", "namespace": "team-a", "uid": "u-1"},
            "spec": {
                "user": "alice",
                "schedules": [{"name": "nightly", "daily": {"at": "23:59"}}],
                "source": {"caldav": {"url": "https://cal.example.com/alice/"}},
                "destination": {"caldav": {"url": "https://cal.example.com/alice-archive/"}},
                "credentialsSecretRef": {"name": "alice-calendar"},
            },
        }
    )
    for name, manifests in rendered.items():
        (deployment,) = of_kind(manifests, "Deployment")
        settings = settings_module.Settings.from_env(container_env(deployment))
        for cronjob in render.render_cronjobs(schedule, settings):
            pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            assert runner_pod_violations(pod) == [], (name, cronjob["metadata"]["name"])
            image = pod["containers"][0]["image"]
            assert image == container_env(deployment)["ARCHIVE_OPERATOR_RUNNER_IMAGE"], name
