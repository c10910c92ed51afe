"""The chart's ServiceAccount on the real control plane: what the real authorizer lets it do.

Sufficiency is proven by the rest of the e2e suite: on the real control plane the operator runs
as this ServiceAccount (a TokenRequest token; tests/fixtures/controlplane.py) and the session
fails if the API server answered any of its requests 403 (the `cluster` fixture's teardown).
Here, least privilege: `kubectl auth can-i --as=<the ServiceAccount>` for every permission
docs/chart.md's table grants (yes), and for what it must never have (no); and scope: this
default install acts in every namespace, as docs/chart.md ("Scope") says (pinned, so a change
is noticed; tests/real/test_rbac_scope_real.py checks a listed-namespaces install). The lists are
written from docs/chart.md by hand, not read from the chart.
"""

from __future__ import annotations

import pytest

from tests.fixtures.controlplane import forbidden_answers

from .conftest import CHART_NS, OPERATOR_USERNAME
from .harness import Cluster

pytestmark = pytest.mark.slow

NS = "team-somewhere"  # any namespace: by default the chart watches all of them

# docs/chart.md, "RBAC and least privilege": (verb, resource, namespaced?)
GRANTED = [
    *[(v, "archiveschedules.archive.auriora.io") for v in ("get", "list", "watch")],
    *[
        (v, "archiveruns.archive.auriora.io")
        for v in ("list", "watch", "create", "patch", "delete")
    ],
    ("patch", "archiveschedules.archive.auriora.io/status"),
    ("patch", "archiveruns.archive.auriora.io/status"),
    *[(v, "cronjobs.batch") for v in ("get", "list", "watch", "create", "update", "delete")],
    *[(v, "jobs.batch") for v in ("get", "list", "watch", "create", "patch", "delete")],
    ("list", "pods"),
    ("watch", "pods"),
    ("create", "events"),
    # The Secrets a schedule names: its credentials' owner (metadata only) and the webhook URL
    # (notifications.webhookSecretAccess: get).
    ("get", "secrets"),
]

# Never: enumerate or change Secrets, run or enter pods itself, touch users' schedule specs,
# change RBAC or identities, or anything cluster-wide beyond CRD discovery.
NEVER = [
    ("list", "secrets"),
    ("watch", "secrets"),
    ("create", "secrets"),
    ("update", "secrets"),
    ("delete", "secrets"),
    ("create", "pods"),
    ("delete", "pods"),
    ("create", "pods/exec"),
    ("get", "pods/log"),
    ("create", "archiveschedules.archive.auriora.io"),
    ("update", "archiveschedules.archive.auriora.io"),
    ("patch", "archiveschedules.archive.auriora.io"),
    ("delete", "archiveschedules.archive.auriora.io"),
    ("update", "archiveruns.archive.auriora.io"),
    ("patch", "cronjobs.batch/status"),
    ("update", "jobs.batch/status"),
    ("create", "deployments.apps"),
    ("get", "configmaps"),
    ("create", "serviceaccounts/token"),
    ("create", "roles.rbac.authorization.k8s.io"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    ("escalate", "roles.rbac.authorization.k8s.io"),
    ("bind", "clusterroles.rbac.authorization.k8s.io"),
    ("impersonate", "users"),
]
NEVER_CLUSTER = [
    ("list", "namespaces"),  # watching all namespaces, kopf lists none
    ("watch", "namespaces"),
    ("create", "namespaces"),
    ("delete", "namespaces"),
    ("list", "nodes"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "clusterroles.rbac.authorization.k8s.io"),
    ("create", "validatingadmissionpolicies.admissionregistration.k8s.io"),
]


ALL_NAMESPACES = "*"  # can_i: across all namespaces (--all-namespaces)


def can_i(cluster: Cluster, verb: str, resource: str, namespace: str | None) -> str:
    """None: a cluster-scoped resource; ALL_NAMESPACES: a namespaced one, across all."""
    if namespace == ALL_NAMESPACES:
        scope = ["--all-namespaces"]
    else:
        scope = [f"--namespace={namespace}"] if namespace else []
    resource, _, subresource = resource.partition("/")
    if subresource:
        scope.append(f"--subresource={subresource}")
    out = cluster.kubectl(
        "auth", "can-i", verb, resource, f"--as={OPERATOR_USERNAME}", *scope, check=False
    )
    return out.strip()


def real_only(cluster: Cluster) -> None:
    if cluster.is_sandbox:
        pytest.skip("the sandbox authorizes nothing; the real authorizer decides here")


def test_the_operator_account_has_what_docs_chart_md_grants(cluster: Cluster) -> None:
    real_only(cluster)
    answers = {(verb, resource): can_i(cluster, verb, resource, NS) for verb, resource in GRANTED}
    assert {k: v for k, v in answers.items() if v != "yes"} == {}


def test_the_operator_account_has_nothing_it_must_not(cluster: Cluster) -> None:
    real_only(cluster)
    answers = {(verb, resource): can_i(cluster, verb, resource, NS) for verb, resource in NEVER}
    answers |= {(v, r): can_i(cluster, v, r, None) for v, r in NEVER_CLUSTER}
    # Its own namespace is no exception.
    answers |= {("list", "secrets@" + CHART_NS): can_i(cluster, "list", "secrets", CHART_NS)}
    assert {k: v for k, v in answers.items() if v != "no"} == {}


def test_the_default_install_acts_in_every_namespace(cluster: Cluster) -> None:
    """Pinned, as docs/chart.md ("Scope") says: watching all namespaces (the default), the
    ServiceAccount may get any Secret by name and create Jobs in every namespace, kube-system
    and its own included, and list and watch pods across all of them; it may still never list
    or watch Secrets. tests/real/test_rbac_scope_real.py checks a listed-namespaces install."""
    real_only(cluster)
    anywhere = ("kube-system", CHART_NS, "default", NS)
    yes = [(v, r, ns) for v, r in (("get", "secrets"), ("create", "jobs.batch")) for ns in anywhere]
    yes += [("list", "pods", ALL_NAMESPACES), ("watch", "jobs.batch", ALL_NAMESPACES)]
    no = [("list", "secrets", ALL_NAMESPACES), ("watch", "secrets", ALL_NAMESPACES)]
    answers = {(v, r, ns): can_i(cluster, v, r, ns) for v, r, ns in yes + no}
    assert {k: a for k, a in answers.items() if a != ("yes" if k in yes else "no")} == {}


def test_a_refused_request_is_what_the_sufficiency_check_counts(cluster: Cluster) -> None:
    """The teardown check (no 403 for the operator) sees real refusals: a probe identity with
    no role asks for Secrets and its 403 is found in the audit log."""
    real_only(cluster)
    assert cluster.real is not None
    probe = "archive-probe"
    cluster.kubectl("create", "serviceaccount", probe, namespace=CHART_NS)
    token = cluster.kubectl("create", "token", probe, namespace=CHART_NS).strip()
    config = cluster.real.plane.token_kubeconfig(token, cluster.workdir / "probe.kubeconfig")
    done = cluster.real.kubectl("get", "secrets", namespace=NS, kubeconfig=config, check=False)
    assert done.returncode != 0 and "forbidden" in done.stderr.lower(), done.stderr
    refused = forbidden_answers(cluster.real, f"system:serviceaccount:{CHART_NS}:{probe}")
    assert refused and refused[0].startswith(f"list secrets/ ({NS}/)"), refused
