"""The operator's RBAC follows the watch scope, uses no wildcards and never lists Secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import NAMESPACE, Manifest, container_env, named, of_kind

Rule = dict[str, Any]


def _grants(rules: list[Rule], group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in rules
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


LEADER_ELECTION_ROLE = "archive-operator-leader-election"


def _watch_roles(manifests: list[Manifest]) -> list[Manifest]:
    """The per-namespace Roles of the watch scope (not the leader election's, in the release
    namespace: test_leader_election_role_is_the_lease_only)."""
    return [r for r in of_kind(manifests, "Role") if r["metadata"]["name"] != LEADER_ELECTION_ROLE]


def _all_rules(manifests: list[Manifest]) -> list[Rule]:
    roles = of_kind(manifests, "ClusterRole") + of_kind(manifests, "Role")
    return [rule for role in roles for rule in role.get("rules", [])]


def test_no_role_uses_wildcards(rendered: dict[str, list[Manifest]]) -> None:
    for name, manifests in rendered.items():
        for rule in _all_rules(manifests):
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (name, rule)


def test_all_namespaces_scope_uses_a_cluster_role(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["default"]
    assert not _watch_roles(manifests)
    operator = named(manifests, "ClusterRole", "archive-operator")
    rules = operator["rules"]
    assert _grants(rules, "batch", "cronjobs") == {
        "get",
        "list",
        "watch",
        "create",
        "update",
        "delete",
    }
    assert _grants(rules, "archive.auriora.io", "archiveruns") >= {"create", "delete"}
    assert _grants(rules, "archive.auriora.io", "archiveschedules") == {
        "get",
        "list",
        "watch",
    }
    assert _grants(rules, "archive.auriora.io", "archiveschedules/status") == {"patch"}
    assert _grants(rules, "", "pods/log") == set()  # the operator never reads logs
    binding = named(manifests, "ClusterRoleBinding", "archive-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "archive-operator", "namespace": NAMESPACE}
    ]
    cluster = named(manifests, "ClusterRole", "archive-operator-cluster")["rules"]
    assert _grants(cluster, "", "namespaces") == set()  # kopf lists none when cluster-wide
    (deployment,) = of_kind(manifests, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == [
        "run",
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8080/healthz",
    ]
    assert container_env(deployment)["ARCHIVE_OPERATOR_NAMESPACES"] == ""


def test_listed_namespaces_get_one_role_each_and_only_kopf_scanning_cluster_wide(
    rendered: dict[str, list[Manifest]],
) -> None:
    manifests = rendered["namespaced"]
    roles = _watch_roles(manifests)
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    bindings = [
        b
        for b in of_kind(manifests, "RoleBinding")
        if b["metadata"]["name"] != LEADER_ELECTION_ROLE
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    # Cluster-wide, only the reads kopf's scanning needs (CRDs; namespaces, to follow the listed
    # ones); no workloads. tests/rbac proves kopf makes exactly these requests.
    cluster_roles = {r["metadata"]["name"]: r for r in of_kind(manifests, "ClusterRole")}
    assert "archive-operator" not in cluster_roles
    operator_cluster = cluster_roles["archive-operator-cluster"]["rules"]
    assert operator_cluster == [
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["list", "watch"],
        },
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    ]
    (deployment,) = of_kind(manifests, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["run", "--namespace=team-a", "--namespace=team-b"]
    assert container_env(deployment)["ARCHIVE_OPERATOR_NAMESPACES"] == "team-a,team-b"


def test_secrets_are_only_ever_got_by_name_and_only_in_watched_namespaces(
    rendered: dict[str, list[Manifest]],
) -> None:
    """get (the Secrets a schedule names: credentials' owner, webhook URL), never list or
    watch; in the namespaced rules only (tests/rbac/test_rbac_scope.py: scope, proven)."""
    for name, manifests in rendered.items():
        verbs = _grants(_all_rules(manifests), "", "secrets")
        (deployment,) = of_kind(manifests, "Deployment")
        notify = container_env(deployment)["ARCHIVE_OPERATOR_NOTIFY_ENABLED"]
        if name == "namespaced":  # webhookSecretAccess: none
            assert verbs == set() and notify == "false", name
        else:
            assert verbs == {"get"} and notify == "true", name
        cluster = named(manifests, "ClusterRole", "archive-operator-cluster")["rules"]
        assert _grants(cluster, "", "secrets") == set(), name


def test_aggregated_roles_extend_the_standard_roles(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["default"]
    edit = named(manifests, "ClusterRole", "archive-operator-edit")
    view = named(manifests, "ClusterRole", "archive-operator-view")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for resource in ("archiveschedules", "archiveruns"):
        assert _grants(edit["rules"], "archive.auriora.io", resource) == {
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
        }
        assert _grants(view["rules"], "archive.auriora.io", resource) == {"get", "list", "watch"}
        # Users never write status: that is the operator's.
        assert not _grants(edit["rules"], "archive.auriora.io", f"{resource}/status")
    minimal = {r["metadata"]["name"] for r in of_kind(rendered["minimal"], "ClusterRole")}
    assert not minimal & {"archive-operator-edit", "archive-operator-view"}


def test_replicas_strategy_and_probes(rendered: dict[str, list[Manifest]]) -> None:
    """Two replicas rolled one at a time by default (the Lease elects one); without leader
    election (the minimal set) one replica, Recreate, --standalone."""
    (deployment,) = of_kind(rendered["default"], "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (single,) = of_kind(rendered["minimal"], "Deployment")
    assert single["spec"]["replicas"] == 1
    assert single["spec"]["strategy"] == {"type": "Recreate"}
    assert "--standalone" in single["spec"]["template"]["spec"]["containers"][0]["args"]
    assert container_env(single)["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "false"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    (minimal,) = of_kind(rendered["minimal"], "Deployment")
    bare = minimal["spec"]["template"]["spec"]["containers"][0]
    assert "livenessProbe" not in bare and "readinessProbe" not in bare
    assert container_env(minimal)["ARCHIVE_OPERATOR_METRICS_PORT"] == "0"


def test_runner_defaults_reach_the_operator_env(rendered: dict[str, list[Manifest]]) -> None:
    (deployment,) = of_kind(rendered["full"], "Deployment")
    env = container_env(deployment)
    assert env["ARCHIVE_OPERATOR_RUNNER_IMAGE"] == (
        "registry.example.com/tools/archive-runner:0.1.0@sha256:"
        "0d4c0b8f5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708124c2f5c0a3e"
    )
    assert env["ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_POLICY"] == "Always"
    assert env["ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_SECRETS"] == "registry-credentials"
    assert env["ARCHIVE_OPERATOR_RUNNER_RESOURCES"] == (
        '{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}}'
    )
    assert env["ARCHIVE_OPERATOR_RUNNER_ACTIVE_DEADLINE_SECONDS"] == "7200"
    assert env["ARCHIVE_OPERATOR_RUNNER_BACKOFF_LIMIT"] == "0"
    assert env["ARCHIVE_OPERATOR_RUNNER_TTL_SECONDS_AFTER_FINISHED"] == "3600"
    assert env["ARCHIVE_OPERATOR_RESYNC_SECONDS"] == "600"
    (default,) = of_kind(rendered["default"], "Deployment")
    assert container_env(default)["ARCHIVE_OPERATOR_RUNNER_IMAGE"] == (
        "ghcr.io/auriora/archive-runner:0.1.0"
    )


def test_the_operator_cli_accepts_the_rendered_command(rendered: dict[str, list[Manifest]]) -> None:
    """Contract with archive_operator.main: every values set's args parse (nothing is run)."""
    main = pytest.importorskip("archive_operator.main")
    for name, manifests in rendered.items():
        (deployment,) = of_kind(manifests, "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["archive-operator"], name
        subcommand, *args = container["args"]
        command = main.cli.commands[subcommand]
        context = command.make_context(subcommand, list(args))
        elected = container_env(deployment)["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "true"
        assert context.params["standalone"] is not elected, name
        assert context.params["liveness_endpoint"].endswith("/healthz"), name
