"""Scope, proven: where the chart's RBAC lets the operator act, not only what it may do.

test_operator_rbac.py checks (group, resource, verb) triples. Here every request also carries
its namespace, and the rendered RBAC is judged in each watch scope:

* listed namespaces: each request of the full scenario (every code path), made in a listed
  namespace, is allowed there by that namespace's Role and by nothing cluster-wide; made in a
  namespace the operator does not watch, or across all namespaces, it is denied;
* the grants with cluster-wide effect (ClusterRoleBindings) are exactly the documented ones
  (checks.py, CLUSTER_WIDE_*; docs/chart.md "Scope"), and each is used cluster-wide by the
  operator (listed namespaces), or is the all-namespaces mode's own rules (pinned, so that a
  change is noticed);
* Secrets: get only in watched namespaces (every namespace when watching all), never list or
  watch anywhere, nothing at all with notifications.webhookSecretAccess=none.

tests/real/test_rbac_scope_real.py asks the real API server the same questions.
"""

from __future__ import annotations

import pytest

from tests.chart.helm import Helm

from .checks import (
    ALL_NAMESPACES_VALUES,
    CLUSTER_WIDE_ALL_NAMESPACES,
    CLUSTER_WIDE_LISTED,
    LISTED,
    LISTED_VALUES,
    NAMESPACED_RULES,
    UNWATCHED,
    across_all_namespaces,
    assert_all_allowed,
    assert_all_denied,
    assert_exactly,
    assert_granted_only_in_their_namespace,
    moved,
    namespaced,
    render,
)
from .rbac import CLUSTER_WIDE, Permission, Policy, Request, permission_of, scoped_permissions_of
from .requests import CLUSTER_DEFAULTS
from .scenario import OPERATOR

NO_SECRETS = ("notifications.webhookSecretAccess=none",)
SCOPES = {
    "all": ALL_NAMESPACES_VALUES,
    "listed": LISTED_VALUES,
    "all-no-secrets": (*ALL_NAMESPACES_VALUES, *NO_SECRETS),
    "listed-no-secrets": (*LISTED_VALUES, *NO_SECRETS),
}
EVERY_NAMESPACE = (*LISTED, *UNWATCHED)


@pytest.fixture(scope="module")
def policies(helm: Helm) -> dict[str, Policy]:
    return {
        name: Policy([*render(helm, values), *CLUSTER_DEFAULTS]) for name, values in SCOPES.items()
    }


def cluster_wide(policy: Policy) -> set[Permission]:
    grants = scoped_permissions_of(policy.grants_for(OPERATOR))
    return {g.permission for g in grants if g.scope == CLUSTER_WIDE}


def request(verb: str, group: str, resource: str, namespace: str, name: str = "") -> Request:
    if verb in ("get", "update", "patch", "delete") and not name:
        name = "x"  # as the API server sees them: a get names its object
    return Request(verb, group, resource, namespace=namespace, name=name)


def anywhere(verb: str, group: str, resource: str) -> list[Request]:
    """The request in every namespace of the checks, and across all namespaces."""
    return [request(verb, group, resource, ns) for ns in (*EVERY_NAMESPACE, CLUSTER_WIDE)]


# --- the operator's recorded requests, moved across namespaces --------------------------------


@pytest.mark.slow
def test_listed_namespaces_allow_every_code_path_in_each_listed_namespace(
    policies: dict[str, Policy], all_namespaces_requests: list[Request]
) -> None:
    """The full scenario ran in team-a with the operator watching all namespaces; its requests,
    made in a listed namespace instead, are each allowed there by that namespace's Role."""
    policy = policies["listed"]
    for namespace in LISTED:
        requests = moved(all_namespaces_requests, namespace)
        assert_all_allowed(policy, requests)
        assert_granted_only_in_their_namespace(policy, requests)


@pytest.mark.slow
def test_listed_namespaces_deny_every_operator_request_outside_them(
    policies: dict[str, Policy],
    all_namespaces_requests: list[Request],
    listed_requests: list[Request],
) -> None:
    policy = policies["listed"]
    recorded = [*all_namespaces_requests, *listed_requests]
    for namespace in UNWATCHED:
        requests = moved(recorded, namespace)
        # Every kind of request the operator makes is among them, the Secret reads included.
        assert {permission_of(r) for r in requests} == NAMESPACED_RULES.keys() - {
            Permission("batch", "cronjobs", "get"),
            Permission("batch", "jobs", "get"),
        }
        assert_all_denied(policy, requests, f"in {namespace}, which it does not watch")
    # Watching all namespaces, kopf lists and watches across all of them; listed, it may not.
    everywhere = across_all_namespaces(all_namespaces_requests)
    assert everywhere
    assert_all_denied(policy, everywhere, "across all namespaces")


@pytest.mark.slow
def test_listed_namespaces_cluster_wide_grants_are_exactly_the_ones_used_cluster_wide(
    policies: dict[str, Policy], listed_requests: list[Request]
) -> None:
    granted = cluster_wide(policies["listed"])
    assert_exactly(granted, CLUSTER_WIDE_LISTED, "cluster-wide grants (listed namespaces)")
    used = {permission_of(r) for r in listed_requests if r.is_resource and not r.namespace}
    assert used == granted, "each cluster-wide grant is used cluster-wide, and only those"


@pytest.mark.slow
def test_all_namespaces_cluster_wide_grants_are_pinned(
    policies: dict[str, Policy], all_namespaces_requests: list[Request]
) -> None:
    """Watching all namespaces, everything is cluster-wide (the documented list, Secrets
    included). What needs a ClusterRoleBinding by itself: CRD scanning, and kopf's lists and
    watches across all namespaces; the rest is the namespaced rules, needed in any namespace
    a schedule may be in."""
    policy = policies["all"]
    granted = cluster_wide(policy)
    assert_exactly(granted, CLUSTER_WIDE_ALL_NAMESPACES, "cluster-wide grants (all namespaces)")
    assert all(g.namespace is None for g in policy.grants_for(OPERATOR)), "no namespaced Roles"
    without_namespace = {
        permission_of(r) for r in all_namespaces_requests if r.is_resource and not r.namespace
    }
    watched = [
        ("archive.auriora.io", "archiveschedules"),
        ("archive.auriora.io", "archiveruns"),
        ("batch", "cronjobs"),
        ("batch", "jobs"),
        ("", "pods"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ]
    assert without_namespace == {
        Permission(group, resource, verb)
        for group, resource in watched
        for verb in ("list", "watch")
    }
    # Every other request was made in the one namespace of the scenario.
    assert {r.namespace for r in namespaced(all_namespaces_requests)} == {"team-a"}


# --- Secrets and workloads, by scope (rendered chart only) ------------------------------------


def test_secrets_listed_namespaces_get_only_there(policies: dict[str, Policy]) -> None:
    policy = policies["listed"]
    assert_all_allowed(policy, [request("get", "", "secrets", ns, "calendar") for ns in LISTED])
    outside = [request("get", "", "secrets", ns, "calendar") for ns in UNWATCHED]
    assert_all_denied(policy, outside, "a Secret read outside the watched namespaces")


def test_secrets_all_namespaces_get_everywhere(policies: dict[str, Policy]) -> None:
    """Pinned, documented (docs/chart.md "Scope"): watching all namespaces, the operator may
    get any Secret by name in any namespace, kube-system and its own included."""
    grant = policies["all"].authorize(OPERATOR, request("get", "", "secrets", "kube-system"))
    assert grant is not None and grant.namespace is None
    assert_all_allowed(
        policies["all"], [request("get", "", "secrets", ns) for ns in EVERY_NAMESPACE]
    )


@pytest.mark.parametrize("scope", SCOPES)
def test_secrets_are_never_listed_watched_or_written(
    policies: dict[str, Policy], scope: str
) -> None:
    verbs = ("list", "watch", "create", "update", "patch", "delete", "deletecollection")
    requests = [r for verb in verbs for r in anywhere(verb, "", "secrets")]
    if scope.endswith("no-secrets"):
        requests += anywhere("get", "", "secrets")
    assert_all_denied(policies[scope], requests, f"Secret access ({scope})")


# What the operator does in a watched namespace: (verb, group, resource).
WORKLOADS = [
    ("create", "batch", "jobs"),
    ("patch", "batch", "jobs"),
    ("delete", "batch", "jobs"),
    ("create", "batch", "cronjobs"),
    ("update", "batch", "cronjobs"),
    ("list", "", "pods"),
    ("watch", "", "pods"),
    ("create", "archive.auriora.io", "archiveruns"),
    ("delete", "archive.auriora.io", "archiveruns"),
    ("patch", "archive.auriora.io", "archiveschedules/status"),
    ("create", "", "events"),
]


@pytest.mark.parametrize(("verb", "group", "resource"), WORKLOADS)
def test_workloads_follow_the_watch_scope(
    policies: dict[str, Policy], verb: str, group: str, resource: str
) -> None:
    listed = policies["listed"]
    assert_all_allowed(listed, [request(verb, group, resource, ns) for ns in LISTED])
    outside = [request(verb, group, resource, ns) for ns in UNWATCHED]
    if verb in ("list", "watch"):
        outside.append(request(verb, group, resource, CLUSTER_WIDE))
    assert_all_denied(listed, outside, "outside the watched namespaces")
    # Watching all namespaces: in every namespace (pinned, documented).
    everywhere = [request(verb, group, resource, ns) for ns in EVERY_NAMESPACE]
    assert_all_allowed(policies["all"], everywhere)


@pytest.mark.parametrize("scope", SCOPES)
def test_never_pods_of_its_own_nor_namespaces_written(
    policies: dict[str, Policy], scope: str
) -> None:
    """The operator makes Jobs, never pods; it reads namespaces (listed scope) but never
    writes them; and it never reads the other usual holders of secrets or tokens."""
    requests = [
        *anywhere("create", "", "pods"),
        *anywhere("get", "", "pods/log"),
        *anywhere("create", "", "pods/exec"),
        *anywhere("get", "", "configmaps"),
        *anywhere("create", "", "serviceaccounts/token"),
        request("create", "", "namespaces", CLUSTER_WIDE),
        request("delete", "", "namespaces", CLUSTER_WIDE, "kube-system"),
        request("get", "", "namespaces", CLUSTER_WIDE, "kube-system"),
    ]
    assert_all_denied(policies[scope], requests, f"({scope})")
