"""The checks of the proof, with messages that list every offending request or grant, and the
two watch scopes it renders the chart in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from tests.chart.helm import NAMESPACE, Helm, Manifest, of_kind

from .rbac import Permission, Policy, Request
from .scenario import OPERATOR

# The listed-namespaces run watches these; the all-namespaces run's scenario uses "team-a".
LISTED = ("team-b", "team-c")
# The operator runs here as one process (--standalone): the chart without leader election, so
# every grant is one this run can prove used. The Lease's Role (leader election, the chart's
# default) is proven used, and nothing more, on the real API server by
# tests/real/test_leader_election_real.py; its rules are pinned by
# tests/chart/test_chart_leader_election.py.
SINGLE_REPLICA: tuple[str, ...] = ("leaderElection.enabled=false", "replicaCount=1")
ALL_NAMESPACES_VALUES: tuple[str, ...] = SINGLE_REPLICA

# Namespaces the listed-namespaces scope does not watch: another team's (the one the
# all-namespaces scenario used), the operator's own (release) namespace, the system's.
UNWATCHED = ("team-a", NAMESPACE, "kube-system", "default")

# Cluster-scoped resources (no namespace in their path): a request for one has no namespace,
# and only a ClusterRoleBinding can grant it. Any other request without a namespace is a list
# or watch across all namespaces.
CLUSTER_SCOPED = frozenset(
    {("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces")}
)


def listed_namespaces_values(namespaces: Iterable[str]) -> tuple[str, ...]:
    """``--set`` values for the chart's listed-namespaces scope (one replica, as above)."""
    return (
        *SINGLE_REPLICA,
        "watch.allNamespaces=false",
        f"watch.namespaces={{{','.join(namespaces)}}}",
    )


LISTED_VALUES = listed_namespaces_values(LISTED)


def render(helm: Helm, values: tuple[str, ...]) -> list[Manifest]:
    return helm.render(set_values=values)


def operator_args(manifests: list[Manifest]) -> list[str]:
    """The operator's command line as the chart's Deployment runs it, minus the liveness port."""
    (deployment,) = of_kind(manifests, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "run", args
    return [a for a in args[1:] if not a.startswith("--liveness")]


def _verbs(group: str, resource: str, verbs: str, why: str) -> dict[Permission, str]:
    return {Permission(group, resource, verb): why for verb in verbs.split()}


# docs/chart.md, "RBAC and least privilege", "Scope": the rules of the namespaced Roles (listed
# namespaces) or of the all-namespaces ClusterRole, written by hand, each with its reason.
GROUP = "archive.auriora.io"
NAMESPACED_RULES: dict[Permission, str] = {
    **_verbs(GROUP, "archiveschedules", "get list watch", "kopf's watch; one read by name"),
    **_verbs(GROUP, "archiveruns", "list watch create patch delete", "record, adopt, prune"),
    **_verbs(GROUP, "archiveschedules/status", "patch", "the schedule's status"),
    **_verbs(GROUP, "archiveruns/status", "patch", "a run's status"),
    **_verbs("batch", "cronjobs", "get list watch create update delete", "a CronJob per entry"),
    **_verbs("batch", "jobs", "get list watch create patch delete", "one Job per run"),
    **_verbs("", "pods", "list watch", "run tracking (termination message)"),
    **_verbs("", "events", "create", "Events on schedules and runs"),
    **_verbs("", "secrets", "get", "the Secrets a schedule names: credentials' owner, webhook URL"),
}

# Everything granted through a ClusterRoleBinding (cluster-wide), by watch scope.
CRD_SCANNING = _verbs(
    "apiextensions.k8s.io", "customresourcedefinitions", "list watch",
    "kopf's resource scanning: notices its CRDs (re)installed",
)  # fmt: skip
CLUSTER_WIDE_LISTED: dict[Permission, str] = {
    **CRD_SCANNING,
    **_verbs("", "namespaces", "list watch", "kopf follows the listed namespaces come and go"),
}
CLUSTER_WIDE_ALL_NAMESPACES: dict[Permission, str] = {
    **CRD_SCANNING,
    # Every namespace is watched: kopf lists and watches across all namespaces (only a
    # ClusterRoleBinding can grant that), and a schedule may be in any namespace.
    **{p: f"every namespace watched: {why}" for p, why in NAMESPACED_RULES.items()},
}


def is_cluster_scoped(request: Request) -> bool:
    return (request.api_group, request.resource) in CLUSTER_SCOPED


def namespaced(requests: Iterable[Request]) -> list[Request]:
    """The resource requests made in one namespace."""
    return [r for r in requests if r.is_resource and r.namespace]


def across_all_namespaces(requests: Iterable[Request]) -> list[Request]:
    """Lists and watches of namespaced resources across all namespaces (no namespace given)."""
    return [r for r in requests if r.is_resource and not r.namespace and not is_cluster_scoped(r)]


def moved(requests: Iterable[Request], namespace: str) -> list[Request]:
    """The same namespaced requests, made in ``namespace``."""
    return list(dict.fromkeys(replace(r, namespace=namespace) for r in namespaced(requests)))


def assert_all_allowed(policy: Policy, requests: Iterable[Request]) -> None:
    """Each request is allowed to the operator's service account by ``policy``."""
    denied = sorted({r.describe() for r in requests if policy.authorize(OPERATOR, r) is None})
    assert not denied, "the chart's RBAC denies requests the operator made:\n  " + "\n  ".join(
        denied
    )


def assert_all_denied(policy: Policy, requests: Iterable[Request], where: str) -> None:
    """Each request is denied to the operator's service account by ``policy``."""
    allowed = sorted(
        {
            f"{r.describe()} (by {grant.binding}, {grant.role})"
            for r in requests
            if (grant := policy.authorize(OPERATOR, r)) is not None
        }
    )
    assert not allowed, f"the chart's RBAC allows {where}:\n  " + "\n  ".join(allowed)


def assert_granted_only_in_their_namespace(policy: Policy, requests: Iterable[Request]) -> None:
    """Each namespaced request is allowed by a grant of its own namespace (a RoleBinding there)
    and by no cluster-wide grant."""
    grants = policy.grants_for(OPERATOR)
    wrong = set()
    for request in namespaced(requests):
        scopes = {g.namespace for g in grants if g.allows(request)}
        if scopes != {request.namespace}:
            where = ", ".join(sorted(s or "cluster-wide" for s in scopes)) or "nothing"
            wrong.add(f"{request.describe()}: allowed by {where}")
    assert not wrong, "not granted by its own namespace's Role alone:\n  " + "\n  ".join(
        sorted(wrong)
    )


def assert_none_unused(unused: set[Permission]) -> None:
    listed = sorted(map(str, unused))
    assert not unused, "granted, never requested (use it, drop it, or justify it):\n  " + (
        "\n  ".join(listed)
    )


def assert_exactly(
    granted: set[Permission], documented: Mapping[Permission, str], what: str
) -> None:
    """``granted`` is exactly the documented set: nothing more, nothing less."""
    extra = sorted(map(str, granted - documented.keys()))
    missing = sorted(map(str, documented.keys() - granted))
    assert not extra and not missing, (
        f"{what} differ from the documented ones (docs/chart.md, 'Scope'):\n"
        f"  granted, not documented: {extra}\n  documented, not granted: {missing}"
    )
