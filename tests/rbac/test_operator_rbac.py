"""Least privilege, proven: the operator's real API requests against the chart's rendered RBAC.

The real operator (kopf subprocess, the chart's own command line) runs against a private
sandbox as the chart's service account and goes through every code path (scenario.py). Its
requests, taken from the sandbox's request log, must each be allowed by the RBAC that
``helm template`` renders, in both watch scopes; and every (group, resource, verb) the chart
grants must have been used, or be listed in UNUSED_BUT_GRANTED with the reason.
"""

from __future__ import annotations

import pytest

from tests.chart.helm import NAMESPACE, RELEASE, Helm, of_kind

from .checks import (
    ALL_NAMESPACES_VALUES,
    LISTED,
    LISTED_VALUES,
    assert_all_allowed,
    assert_granted_only_in_their_namespace,
    assert_none_unused,
    render,
)
from .rbac import Permission, Policy, Request, permission_of, permissions_of
from .requests import CLUSTER_DEFAULTS
from .scenario import OPERATOR

pytestmark = pytest.mark.slow  # two operator runs, about 15 s together (conftest.py)

# Granted, yet not requested in the scenario, each for a reason the scenario cannot show.
UNUSED_BUT_GRANTED: dict[Permission, str] = {
    # Names are deterministic: when creating a CronJob answers 409 AlreadyExists (a retried
    # reconcile, a second operator during an upgrade), the operator reads the existing one to
    # adopt it or to report the name conflict (Reconciler._create).
    Permission("batch", "cronjobs", "get"): "read a CronJob after 409 AlreadyExists",
    # The same for a run's Job (RunLifecycle._create_job).
    Permission("batch", "jobs", "get"): "read a Job after 409 AlreadyExists",
}


def test_the_scenario_reaches_every_operator_call(all_namespaces_requests: list[Request]) -> None:
    """Guards the scenario: each API call of kube.py and kopf's watches was made."""
    used = {permission_of(r) for r in all_namespaces_requests if r.is_resource}
    expected = {
        Permission("archive.auriora.io", "archiveschedules", verb)
        for verb in ("get", "list", "watch")
    } | {
        Permission("archive.auriora.io", "archiveruns", verb)
        for verb in ("list", "watch", "create", "patch", "delete")
    } | {
        Permission("batch", "cronjobs", verb)
        for verb in ("list", "watch", "create", "update", "delete")
    } | {
        Permission("batch", "jobs", verb) for verb in ("list", "watch", "create", "patch", "delete")
    } | {
        Permission("archive.auriora.io", "archiveschedules/status", "patch"),
        Permission("archive.auriora.io", "archiveruns/status", "patch"),
        Permission("", "pods", "list"),
        Permission("", "pods", "watch"),
        Permission("", "secrets", "get"),
        Permission("", "events", "create"),
    }  # fmt: skip
    assert expected <= used, sorted(str(p) for p in expected - used)


def test_all_namespaces_every_request_is_allowed(
    helm: Helm, all_namespaces_requests: list[Request]
) -> None:
    policy = Policy([*render(helm, ALL_NAMESPACES_VALUES), *CLUSTER_DEFAULTS])
    assert_all_allowed(policy, all_namespaces_requests)


def test_listed_namespaces_every_request_is_allowed(
    helm: Helm, listed_requests: list[Request]
) -> None:
    policy = Policy([*render(helm, LISTED_VALUES), *CLUSTER_DEFAULTS])
    assert_all_allowed(policy, listed_requests)
    # The operator's namespaced requests stay inside the namespaces it was given, and each is
    # allowed there by that namespace's Role (test_rbac_scope.py: and nowhere else).
    outside = {r.namespace for r in listed_requests if r.is_resource and r.namespace}
    assert outside <= set(LISTED)
    assert_granted_only_in_their_namespace(policy, listed_requests)


def test_all_namespaces_grants_nothing_unused(
    helm: Helm, all_namespaces_requests: list[Request]
) -> None:
    grants = Policy(render(helm, ALL_NAMESPACES_VALUES)).grants_for(OPERATOR)
    granted = permissions_of(grants)
    used = {permission_of(r) for r in all_namespaces_requests if r.is_resource}
    assert_none_unused(granted - used - UNUSED_BUT_GRANTED.keys())
    # An exception that the scenario now covers, or that the chart no longer grants, is stale.
    assert UNUSED_BUT_GRANTED.keys() <= granted - used


def test_listed_namespaces_grants_nothing_unused(
    helm: Helm, listed_requests: list[Request]
) -> None:
    """Cluster-wide grants are proven by this run; the namespaced Roles carry exactly the
    all-namespaces ClusterRole's rules, proven by the full scenario above."""
    manifests = render(helm, LISTED_VALUES)
    grants = Policy(manifests).grants_for(OPERATOR)
    cluster_wide = permissions_of(g for g in grants if g.namespace is None)
    used = {permission_of(r) for r in listed_requests if r.is_resource and not r.namespace}
    assert_none_unused(cluster_wide - used)
    roles = of_kind(manifests, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(LISTED)
    everywhere = [
        m
        for m in render(helm, ALL_NAMESPACES_VALUES)
        if m["kind"] == "ClusterRole" and m["metadata"]["name"] == RELEASE
    ]
    assert [r["rules"] for r in roles] == [everywhere[0]["rules"]] * len(LISTED)
    assert {g.binding for g in grants if g.namespace} == {"RoleBinding/archive-operator"}
    assert NAMESPACE not in {g.namespace for g in grants}
