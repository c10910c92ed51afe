"""`helm install` and `helm uninstall` of the chart against the sandbox API server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.chart.helm import CHART, RELEASE, Helm
from tests.fixtures.sandbox import SandboxHandle

NAMESPACE = "archive-chart-install"
CRDS = {
    "customresourcedefinition.apiextensions.k8s.io/archiveschedules.archive.auriora.io",
    "customresourcedefinition.apiextensions.k8s.io/archiveruns.archive.auriora.io",
}
RELEASE_SELECTOR = f"app.kubernetes.io/instance={RELEASE}"
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)


def run_helm(helm: Helm, sandbox: SandboxHandle, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(sandbox.home), "PATH": os.environ.get("PATH", "")}
    return helm.run_with_env(env, *args, "--kubeconfig", str(sandbox.kubeconfig))


def names(sandbox: SandboxHandle, kinds: str, namespace: str | None = None) -> set[str]:
    args = ["get", kinds, "-o", "name", "-l", RELEASE_SELECTOR]
    args += ["-n", namespace] if namespace else []
    return set(sandbox.kubectl(*args).stdout.split())


@pytest.fixture(scope="module")
def installed(helm: Helm, sandbox: SandboxHandle) -> Iterator[SandboxHandle]:
    sandbox.create_namespace(NAMESPACE)
    try:
        done = run_helm(helm, sandbox, "install", RELEASE, str(CHART), "--namespace", NAMESPACE)
        assert done.returncode == 0, done.stdout + done.stderr
        yield sandbox
    finally:  # whatever a failed uninstall left behind
        sandbox.kubectl("delete", CLUSTER_KINDS, "-l", RELEASE_SELECTOR, check=False)
        sandbox.delete_namespace(NAMESPACE)


def test_helm_install_creates_the_release_objects(helm: Helm, installed: SandboxHandle) -> None:
    assert names(installed, "deployments,services,serviceaccounts", NAMESPACE) == {
        "deployment.apps/archive-operator",
        "service/archive-operator-metrics",
        "serviceaccount/archive-operator",
    }
    assert names(installed, CLUSTER_KINDS) >= {
        "clusterrole.rbac.authorization.k8s.io/archive-operator",
        "clusterrole.rbac.authorization.k8s.io/archive-operator-edit",
        "clusterrolebinding.rbac.authorization.k8s.io/archive-operator",
        "validatingadmissionpolicy.admissionregistration.k8s.io/archive-operator-run-owner",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/archive-operator-run-owner",
    }
    crds = set(installed.kubectl("get", "crds", "-o", "name").stdout.split())
    assert crds >= CRDS
    listed = run_helm(helm, installed, "list", "--namespace", NAMESPACE, "--short")
    assert listed.stdout.split() == [RELEASE], listed.stderr


def test_helm_uninstall_removes_everything_but_the_crds(
    helm: Helm, installed: SandboxHandle
) -> None:
    done = run_helm(helm, installed, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert names(installed, "deployments,services,serviceaccounts", NAMESPACE) == set()
    assert names(installed, CLUSTER_KINDS) == set()
    # CRDs stay: deleting them would delete every user's schedules and run history.
    assert set(installed.kubectl("get", "crds", "-o", "name").stdout.split()) >= CRDS
