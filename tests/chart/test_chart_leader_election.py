"""The chart's leader election (issue 16, item 6): replicas, the Lease's RBAC and the
operator's environment, and the timings' bound checked at render time.

How the election itself behaves: tests/unit/test_leader_election.py (injected clock) and, with
two real operators on the real API server, tests/real/test_leader_election_real.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import NAMESPACE, Helm, Manifest, container_env, named, of_kind

ROLE = "archive-operator-leader-election"


def env_sources(deployment: Manifest) -> dict[str, Any]:
    """Every env entry of the operator container: its value, or its valueFrom."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_default_elects_a_leader_among_two_replicas(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["default"]
    (deployment,) = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--standalone" not in args
    env = env_sources(deployment)
    assert env["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "true"
    # Identity and the Lease's namespace from the downward API; the name is the release's.
    assert env["ARCHIVE_OPERATOR_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["ARCHIVE_OPERATOR_LEASE_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert env["ARCHIVE_OPERATOR_LEASE_NAME"] == "archive-operator"
    # client-go's defaults.
    assert env["ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS"] == "15"
    assert env["ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS"] == "10"
    assert env["ARCHIVE_OPERATOR_RETRY_PERIOD_SECONDS"] == "2"


def test_leader_election_role_is_the_lease_only(rendered: dict[str, list[Manifest]]) -> None:
    """get/update the one Lease by name, create Leases (create cannot be limited by name),
    in the release namespace only; nothing else, no list/watch/delete."""
    for name in ("default", "namespaced", "full"):
        manifests = rendered[name]
        lease = "archive-operator-leader" if name == "full" else "archive-operator"
        role = named(manifests, "Role", ROLE)
        assert role["metadata"]["namespace"] == NAMESPACE, name
        assert role["rules"] == [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": [lease],
                "verbs": ["get", "update"],
            },
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        ], name
        binding = named(manifests, "RoleBinding", ROLE)
        assert binding["metadata"]["namespace"] == NAMESPACE
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": ROLE,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "archive-operator", "namespace": NAMESPACE}
        ]
        # No other role of the chart grants anything on Leases.
        others = [r for r in of_kind(manifests, "Role") + of_kind(manifests, "ClusterRole")]
        for other in others:
            if other["metadata"]["name"] == ROLE:
                continue
            for rule in other.get("rules", []):
                assert "coordination.k8s.io" not in rule["apiGroups"], (name, other)


def test_without_election_one_replica_standalone_and_no_lease_rights(
    rendered: dict[str, list[Manifest]],
) -> None:
    manifests = rendered["minimal"]
    (deployment,) = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "--standalone" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    env = env_sources(deployment)
    assert env["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "false"
    assert not {k for k in env if "LEASE" in k or k == "ARCHIVE_OPERATOR_POD_NAME"}
    assert all(r["metadata"]["name"] != ROLE for r in of_kind(manifests, "Role"))


def test_values_set_the_lease_name_and_timings(rendered: dict[str, list[Manifest]]) -> None:
    (deployment,) = of_kind(rendered["full"], "Deployment")
    assert deployment["spec"]["replicas"] == 3
    env = container_env(deployment)
    assert env["ARCHIVE_OPERATOR_LEASE_NAME"] == "archive-operator-leader"
    assert (
        env["ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS"],
        env["ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS"],
        env["ARCHIVE_OPERATOR_RETRY_PERIOD_SECONDS"],
    ) == ("30", "20", "4")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ("leaderElection.leaseDurationSeconds=11",),
            "leaderElection.leaseDurationSeconds (11) must exceed renewDeadlineSeconds (10) "
            "by more than 1 s",
        ),
        (
            ("leaderElection.retryPeriodSeconds=9",),
            "leaderElection.renewDeadlineSeconds (10) must exceed 1.2 x retryPeriodSeconds (9)",
        ),
        (("leaderElection.enabled=false",), "at '/replicaCount': value must be 1"),
        (("leaderElection.leaseName=Not_A_Name",), "/leaderElection/leaseName"),
    ],
)
def test_timings_that_break_the_bound_fail_the_render(
    helm: Helm, values: tuple[str, ...], message: str
) -> None:
    done = helm.template(set_values=values)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_the_operator_accepts_the_charts_election_environment(
    rendered: dict[str, list[Manifest]],
) -> None:
    """Contract with archive_operator.settings: the rendered variables (downward API values
    filled in as the kubelet would) parse, and the chart's defaults are the operator's."""
    settings_module = pytest.importorskip("archive_operator.settings")
    election = pytest.importorskip("archive_operator.leader_election")
    for name in ("default", "full", "minimal"):
        (deployment,) = of_kind(rendered[name], "Deployment")
        env = {
            k: v for k, v in container_env(deployment).items() if k.startswith("ARCHIVE_OPERATOR_")
        }
        if env["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "true":
            env["ARCHIVE_OPERATOR_POD_NAME"] = "archive-operator-5d9c7-x2x8q"
            env["ARCHIVE_OPERATOR_LEASE_NAMESPACE"] = NAMESPACE
        settings = settings_module.Settings.from_env(env)
        assert settings.leader_election is (name != "minimal"), name
        if name == "default":
            defaults = election.Timings()
            assert settings.lease_duration_seconds == defaults.lease_duration
            assert settings.renew_deadline_seconds == defaults.renew_deadline
            assert settings.retry_period_seconds == defaults.retry_period
            assert settings.election_namespace == NAMESPACE
