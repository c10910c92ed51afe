"""The chart passes the real tools: helm lint --strict, helm template, kubernetes-validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from tests.chart.conftest import VALUES_SETS
from tests.chart.helm import CHART, NAMESPACE, RELEASE, Helm, Manifest

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest we can check.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
# Kinds kubernetes-validate has no schema for (it only knows built-in kinds).
UNVALIDATED_KINDS = {"ServiceMonitor"}


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_helm_lint_strict_passes(helm: Helm, values_set: str) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    for path in VALUES_SETS[values_set]:
        args += ["--values", str(path)]
    done = helm.run(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_rendered_objects_are_valid_kubernetes(
    rendered: dict[str, list[Manifest]], values_set: str, version: str
) -> None:
    checked = 0
    for manifest in rendered[values_set]:
        if manifest["kind"] in UNVALIDATED_KINDS:
            continue
        kubernetes_validate.validate(manifest, version, strict=True)  # raises on any error
        checked += 1
    assert checked >= 5  # the smallest set: Deployment and the operator's four RBAC objects


def test_kubernetes_validate_cli_accepts_the_whole_stream_with_crds(
    helm: Helm, tmp_path: Path
) -> None:
    """The tool's own command line, on everything `helm install` would send (CRDs included)."""
    stream = tmp_path / "rendered.yaml"
    done = helm.template(VALUES_SETS["full"], include_crds=True)
    assert done.returncode == 0, done.stderr
    stream.write_text(done.stdout)
    validate = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(validate), "--strict", "-k", KUBERNETES_VERSIONS[0], str(stream)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert all("ServiceMonitor" in line for line in warnings), warnings
    assert "customresourcedefinition/archiveschedules.archive.auriora.io" in result.stdout
    assert "validatingadmissionpolicy/archive-operator-run-owner" in result.stdout


def test_kubernetes_validate_rejects_a_broken_object() -> None:
    """The validation above can fail: a typo in a Deployment field is an error in strict mode."""
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "x"}]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_chart_refuses_kubernetes_older_than_1_30(helm: Helm) -> None:
    done = helm.run("template", RELEASE, str(CHART), "--kube-version", "1.29.0")
    assert done.returncode != 0
    assert "kubeVersion" in done.stderr or ">=1.30.0-0" in done.stderr


def test_every_template_renders_something_in_some_values_set(
    rendered: dict[str, list[Manifest]],
) -> None:
    kinds = {m["kind"] for manifests in rendered.values() for m in manifests}
    assert kinds >= {
        "ServiceAccount",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
