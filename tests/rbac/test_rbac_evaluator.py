"""The RBAC evaluator follows Kubernetes' matching rules (tests/rbac/rbac.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .rbac import Permission, Policy, PolicyRule, Request, UserInfo, permissions_of
from .requests import CLUSTER_DEFAULTS, attributes, requests_of, service_account

OPERATOR = service_account("ops", "op")


def role(kind: str, name: str, rules: list[Any], namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "rules": rules}


def binding(
    binding_kind: str,
    binding_name: str,
    role_kind: str,
    role_name: str,
    namespace: str = "",
    **subject: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": binding_name, **({"namespace": namespace} if namespace else {})}
    subject = subject or {"kind": "ServiceAccount", "name": "op", "namespace": "ops"}
    return {
        "kind": binding_kind,
        "metadata": meta,
        "roleRef": {"kind": role_kind, "name": role_name},
        "subjects": [subject],
    }


def rule(**fields: Any) -> PolicyRule:
    return PolicyRule.from_manifest(fields)


def core(
    *resources: str, verbs: tuple[str, ...] = ("get",), names: tuple[str, ...] = ()
) -> PolicyRule:
    return PolicyRule(verbs, ("",), resources, names)


def urls(*paths: str) -> PolicyRule:
    return PolicyRule(("get",), non_resource_urls=paths)


def pod(subresource: str = "") -> Request:
    return Request("get", "", "pods", subresource)


def path(url: str, verb: str = "get") -> Request:
    return Request(verb, path=url, is_resource=False)


JOBS = PolicyRule(("get",), ("batch",), ("jobs",))
SECRET_A = core("secrets", verbs=("get", "list"), names=("a",))


@pytest.mark.parametrize(
    ("granted", "request_", "allowed"),
    [
        (JOBS, Request("get", "batch", "jobs"), True),
        (JOBS, Request("list", "batch", "jobs"), False),
        (JOBS, Request("get", "", "jobs"), False),
        (PolicyRule(("*",), ("*",), ("*",)), Request("delete", "x.io", "things"), True),
        # A resource never covers its subresources; "*" and "*/sub" do.
        (core("pods"), pod("log"), False),
        (core("pods/log"), pod("log"), True),
        (core("pods/log"), pod(), False),
        (core("*/log"), pod("log"), True),
        (core("*/log"), pod(), False),
        (core("*"), pod("log"), True),
        # resourceNames: only requests that name one of them (never create or an unnamed list).
        (SECRET_A, Request("get", "", "secrets", name="a"), True),
        (SECRET_A, Request("get", "", "secrets", name="b"), False),
        (SECRET_A, Request("list", "", "secrets"), False),
        # Non-resource URLs: exact, or a prefix ending in "*"; never a resource request.
        (urls("/apis/*"), path("/apis/batch/v1"), True),
        (urls("/apis/*"), path("/apis"), False),
        (urls("/version"), path("/version"), True),
        (urls("/version"), path("/version", "post"), False),
        (urls("*"), pod(), False),
    ],
)
def test_rule_matching(granted: PolicyRule, request_: Request, allowed: bool) -> None:
    assert granted.matches(request_) is allowed


def test_a_role_binding_grants_only_in_its_namespace() -> None:
    policy = Policy(
        [
            role("Role", "r", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}], "a"),
            binding("RoleBinding", "b", "Role", "r", "a"),
        ]
    )
    assert policy.authorize(OPERATOR, Request("list", "", "pods", namespace="a"))
    assert not policy.authorize(OPERATOR, Request("list", "", "pods", namespace="b"))
    assert not policy.authorize(OPERATOR, Request("list", "", "pods"))  # all namespaces


def test_a_cluster_role_through_a_role_binding_is_namespaced_and_has_no_urls() -> None:
    policy = Policy(
        [
            role(
                "ClusterRole",
                "c",
                [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                    {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                ],
            ),
            binding("RoleBinding", "b", "ClusterRole", "c", "a"),
        ]
    )
    assert policy.authorize(OPERATOR, Request("list", "", "pods", namespace="a"))
    assert not policy.authorize(OPERATOR, Request("list", "", "pods"))
    assert not policy.authorize(OPERATOR, Request("get", path="/metrics", is_resource=False))


def test_a_cluster_role_binding_grants_everywhere() -> None:
    pods = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    policy = Policy(
        [role("ClusterRole", "c", pods), binding("ClusterRoleBinding", "b", "ClusterRole", "c")]
    )
    for namespace in ("a", "b", ""):
        grant = policy.authorize(OPERATOR, Request("list", "", "pods", namespace=namespace))
        assert grant is not None and grant.binding == "ClusterRoleBinding/b"


def test_subjects_users_groups_and_service_accounts() -> None:
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    pods = Request("get", "", "pods", namespace="a")
    # A ServiceAccount subject without a namespace means the binding's namespace.
    sa = {"kind": "ServiceAccount", "name": "op"}
    same_ns = Policy(
        [role("Role", "r", rules, "ops"), binding("RoleBinding", "b", "Role", "r", "ops", **sa)]
    )
    assert same_ns.authorize(OPERATOR, Request("get", "", "pods", namespace="ops"))
    group = {"kind": "Group", "name": "system:serviceaccounts:ops"}
    by_group = Policy(
        [
            role("ClusterRole", "c", rules),
            binding("ClusterRoleBinding", "b", "ClusterRole", "c", **group),
        ]
    )
    assert by_group.authorize(OPERATOR, pods)
    assert not by_group.authorize(UserInfo("alice"), pods)
    alice = {"kind": "User", "name": "alice"}
    by_user = Policy(
        [
            role("ClusterRole", "c", rules),
            binding("ClusterRoleBinding", "b", "ClusterRole", "c", **alice),
        ]
    )
    assert by_user.authorize(UserInfo("alice"), pods)
    assert not by_user.authorize(OPERATOR, pods)


def test_aggregated_cluster_roles_collect_the_selected_rules() -> None:
    edit = role("ClusterRole", "edit", [])
    edit["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"agg": "edit"}}]}
    part = role(
        "ClusterRole", "part", [{"apiGroups": ["x"], "resources": ["t"], "verbs": ["create"]}]
    )
    part["metadata"]["labels"] = {"agg": "edit"}
    policy = Policy([edit, part, binding("ClusterRoleBinding", "b", "ClusterRole", "edit")])
    assert policy.authorize(OPERATOR, Request("create", "x", "t", namespace="a"))
    assert permissions_of(policy.grants_for(OPERATOR)) == {Permission("x", "t", "create")}


def test_a_binding_to_a_missing_role_grants_nothing() -> None:
    policy = Policy([binding("ClusterRoleBinding", "b", "ClusterRole", "gone")])
    assert policy.grants_for(OPERATOR) == []


def test_discovery_is_open_to_authenticated_users_by_default() -> None:
    policy = Policy(CLUSTER_DEFAULTS)
    assert policy.authorize(OPERATOR, Request("get", path="/apis/batch/v1", is_resource=False))
    assert not policy.authorize(OPERATOR, Request("get", path="/metrics", is_resource=False))
    assert not policy.authorize(OPERATOR, Request("list", "", "namespaces"))


def test_request_log_records_become_attributes() -> None:
    watch = {
        "user": OPERATOR.name, "verb": "watch", "api_group": "", "resource": "pods",
        "subresource": "", "namespace": "a", "name": "", "method": "GET", "path": "/api/v1/...",
        "query": "watch=1&fieldSelector=metadata.name%3Dp1", "is_resource": True,
    }  # fmt: skip
    assert attributes(watch) == Request("watch", "", "pods", namespace="a", name="p1")
    discovery = {**watch, "is_resource": False, "path": "/apis", "verb": "get"}
    assert attributes(discovery) == Request("get", path="/apis", is_resource=False)
    other = {**watch, "user": "someone-else"}
    assert requests_of([watch, watch, other, discovery], OPERATOR.name) == [
        attributes(watch),
        attributes(discovery),
    ]
