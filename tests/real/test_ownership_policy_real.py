"""The chart's ownership ValidatingAdmissionPolicies, decided by the real API server (issue 12, 4c).

tests/chart/test_ownership_policy.py runs tests/chart/admission-requests.yaml through our own
CEL evaluator; here the same cases go to a real kube-apiserver. Each policy set is rendered by
helm exactly as there (default, oidc, warn), installed alone (policies + bindings), and every
case of that set is sent as its user, impersonated with kubectl --as/--as-group: CREATE with
--dry-run=server, UPDATE as a dry-run replace of the stored object (put into the case's
oldObject state first, by the admin), the status case through the status subresource, DELETE
as a dry-run delete. Validating admission runs on dry-run requests; nothing is persisted.

The impersonated users get what a namespace editor has: the built-in "edit" ClusterRole, into
which the chart's aggregate role folds archiveschedules and archiveruns. Only the status case
needs more (no standard role lets a user write status); a test-only role grants that, so the
request reaches admission and the policy's (non-)match on subresources is what is checked.

Differences from a request built by tests/chart/admission.py: the API server adds the group
system:authenticated to every impersonated user, so "no groups" cannot be sent for real; and a
created object whose name is already stored (a fixture schedule) is sent with generateName.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART, Helm, Manifest, install_helm, named
from tests.fixtures.controlplane import RealCluster, wait_until

pytestmark = [pytest.mark.real, pytest.mark.slow]

FIXTURES = yaml.safe_load(
    (Path(__file__).parents[1] / "chart" / "admission-requests.yaml").read_text()
)
CASES: list[dict[str, Any]] = FIXTURES["cases"]
SCHEDULES: list[Manifest] = FIXTURES["schedules"]
FULL_VALUES = CHART / "ci" / "full-values.yaml"
POLICY_NAMES = ("archive-operator-schedule-owner", "archive-operator-run-owner")
NAMESPACES = ("team-a", "team-b", "team-c")
SETS = ("default", "oidc", "warn")
KINDS = {"archiveschedules": "archiveschedule", "archiveruns": "archiverun"}
ROLES = "ownership-real"  # prefix of the test's cluster roles and role bindings
AGGREGATE_ROLES = ("archive-operator-edit", "archive-operator-view")  # the chart's, by default

# Requests whose verdict shows which policies are in force, written by hand (not from the
# cases): Alice writes a schedule of user "probe" and starts a run of Bob's schedule in team-a.
PROBE_SCHEDULE: Manifest = {
    "apiVersion": "archive.auriora.io/v1alpha1",
    "kind": "ArchiveSchedule",
    "metadata": {"name": "probe", "namespace": "team-a"},
    "spec": {
        "user": "probe",
        "source": {"ics": {"url": "https://cal.example.com/probe.ics"}},
        "destination": {"directory": {"claimName": "archive"}},
    },
}
PROBE_RUN: Manifest = {
    "apiVersion": "archive.auriora.io/v1alpha1",
    "kind": "ArchiveRun",
    "metadata": {"name": "probe", "namespace": "team-a"},
    "spec": {"scheduleRef": {"name": "bob"}, "start": "2026-11-20", "end": "2026-11-20"},
}
PROBE_USER = ("alice", ("system:authenticated",))


@dataclass(frozen=True)
class Answer:
    """What the API server said to one request."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, command: str, done: Any) -> Answer:
        warnings = [
            line.removeprefix("Warning: ")
            for line in done.stderr.splitlines()
            if line.startswith("Warning: ")
        ]
        return cls(command, done.returncode, done.stdout, done.stderr, warnings)

    @property
    def allowed(self) -> bool:
        return self.returncode == 0

    @property
    def policy_denials(self) -> list[str]:
        """The denials of a ValidatingAdmissionPolicy (not RBAC, not schema validation)."""
        if self.allowed:
            return []
        return [
            line
            for line in self.stderr.splitlines()
            if "ValidatingAdmissionPolicy '" in line and not line.startswith("Warning: ")
        ]

    @property
    def policy_warnings(self) -> list[str]:
        return [w for w in self.warnings if "ValidatingAdmissionPolicy '" in w]

    def outcome(self) -> str:
        if self.policy_denials:
            return "denied"
        if not self.allowed:
            return "error"
        return "warned" if self.policy_warnings else "allowed"


def _json(obj: Manifest) -> str:
    return json.dumps(obj)


class Requests:
    """Sends the cases' requests to the real API server."""

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster

    def as_user(
        self, user: str, groups: tuple[str, ...], *args: str, input: str | None = None
    ) -> Answer:
        done = self.cluster.kubectl(*args, input=input, check=False, as_user=user, as_groups=groups)
        return Answer.of(f"kubectl --as={user} {' '.join(args)}", done)

    def stored(self, resource: str, namespace: str, name: str) -> Manifest | None:
        done = self.cluster.kubectl(
            "get", resource, name, "-o", "json", namespace=namespace, check=False
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def put(self, obj: Manifest, resource: str) -> Manifest:
        """As the admin (exempt everywhere): make the stored object equal `obj`; return it."""
        meta = obj["metadata"]
        current = self.stored(resource, meta["namespace"], meta["name"])
        body = copy.deepcopy(obj)
        if current is None:
            self.cluster.kubectl("create", "-f", "-", input=_json(body))
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.cluster.kubectl("replace", "-f", "-", input=_json(body))
        stored = self.stored(resource, meta["namespace"], meta["name"])
        assert stored is not None
        return stored

    def send(self, case: dict[str, Any]) -> Answer:
        resource = case["resource"]
        user = case["user"]
        groups = tuple(case.get("groups") or ())
        namespace = case.get("namespace", "team-a")
        operation = case["operation"]
        assert "params" not in case, "per-case params are not modelled by the real test"
        if operation == "CREATE":
            obj = copy.deepcopy(case["object"])
            meta = obj["metadata"]
            assert meta["namespace"] == namespace
            if self.stored(resource, namespace, meta["name"]) is not None:
                # A fixture schedule of that name is stored (a param): the dry-run would end
                # in AlreadyExists after admission. Let the server pick the name; no policy
                # reads a schedule's or run's own name.
                meta["generateName"] = f"{meta.pop('name')}-"
            return self.as_user(
                user, groups, "create", "--dry-run=server", "-f", "-", input=_json(obj)
            )
        old = case["oldObject"]
        assert old["metadata"].get("namespace", namespace) == namespace
        stored = self.put(old, resource)
        try:
            if operation == "DELETE":
                return self.as_user(
                    user,
                    groups,
                    "delete",
                    KINDS[resource],
                    old["metadata"]["name"],
                    f"--namespace={namespace}",
                    "--dry-run=server",
                )
            assert operation == "UPDATE", operation
            body = copy.deepcopy(case["object"])
            body["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            args = ["replace", "--dry-run=server", "-f", "-"]
            if case.get("subResource"):
                args.insert(1, f"--subresource={case['subResource']}")
            return self.as_user(user, groups, *args, input=_json(body))
        finally:
            self.restore(old)

    def restore(self, old: Manifest) -> None:
        """Put the fixture's schedule back (an update case may have changed the stored one)."""
        for schedule in SCHEDULES:
            same = schedule["metadata"]["name"] == old["metadata"]["name"]
            if same and schedule["metadata"]["namespace"] == old["metadata"]["namespace"]:
                self.put(schedule, "archiveschedules")

    def probes(self) -> tuple[Answer, Answer]:
        user, groups = PROBE_USER
        return (
            self.as_user(
                user, groups, "create", "--dry-run=server", "-f", "-", input=_json(PROBE_SCHEDULE)
            ),
            self.as_user(
                user, groups, "create", "--dry-run=server", "-f", "-", input=_json(PROBE_RUN)
            ),
        )


def policy_objects(manifests: list[Manifest]) -> list[Manifest]:
    found = []
    for name in POLICY_NAMES:
        found.append(named(manifests, "ValidatingAdmissionPolicy", name))
        found.append(named(manifests, "ValidatingAdmissionPolicyBinding", name))
    return found


def render_sets(helm: Helm) -> dict[str, list[Manifest]]:
    """The three renderings of tests/chart/test_ownership_policy.py, by the same helm calls."""
    return {
        "default": helm.render(),
        "oidc": helm.render([FULL_VALUES], set_values=["ownership.validationActions={Deny}"]),
        "warn": helm.render([FULL_VALUES]),
    }


def grant_editors(cluster: RealCluster, default_render: list[Manifest]) -> None:
    """Every authenticated user may edit team-a/b/c, as a namespace editor may."""
    aggregate = []
    for name in AGGREGATE_ROLES:
        copied = copy.deepcopy(named(default_render, "ClusterRole", name))
        # Under the test's own name, so a helm release of the chart later in the session does
        # not find objects it does not own; the aggregation labels are the chart's.
        copied["metadata"]["name"] = f"{ROLES}-{name}"
        aggregate.append(copied)
    status_writer: Manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{ROLES}-status-writer"},
        "rules": [
            {
                "apiGroups": ["archive.auriora.io"],
                "resources": ["archiveschedules/status"],
                "verbs": ["get", "update", "patch"],
            }
        ],
    }
    documents: list[Manifest] = [*aggregate, status_writer]
    for namespace in NAMESPACES:
        for role in ("edit", f"{ROLES}-status-writer"):
            documents.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": f"{ROLES}-{role}", "namespace": namespace},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": role,
                    },
                    "subjects": [
                        {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "Group",
                            "name": "system:authenticated",
                        }
                    ],
                }
            )
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))

    def aggregated() -> tuple[bool, object]:
        done = cluster.kubectl(
            "auth", "can-i", "create", "archiveruns.archive.auriora.io",
            namespace="team-a", as_user="alice", check=False,
        )  # fmt: skip
        return done.stdout.strip() == "yes", done.stdout + done.stderr

    wait_until("the edit role aggregates the chart's role", aggregated)


@pytest.fixture(scope="module")
def real_answers(real_cluster: RealCluster) -> Iterator[dict[str, Answer]]:
    """Every case's answer from the real API server, each policy set installed in turn."""
    helm = Helm(install_helm())
    sets = render_sets(helm)
    cluster = real_cluster
    requests = Requests(cluster)
    installed: list[Manifest] = []
    try:
        namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                      for n in NAMESPACES]  # fmt: skip
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(namespaces))
        grant_editors(cluster, sets["default"])
        for schedule in SCHEDULES:
            requests.put(schedule, "archiveschedules")
        answers: dict[str, Answer] = {}
        for name in SETS:
            expected_probe = "warned" if name == "warn" else "denied"
            installed = policy_objects(sets[name])
            cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(installed))
            wait_until(
                f"the {name} policies decide", partial(_probes_are, requests, expected_probe)
            )
            for case in CASES:
                if case["policies"] == name:
                    answers[case["name"]] = requests.send(case)
            cluster.kubectl("delete", "-f", "-", input=yaml.safe_dump_all(installed))
            installed = []
            wait_until(f"the {name} policies are gone", partial(_probes_are, requests, "allowed"))
        yield answers
    finally:
        if installed:
            cluster.kubectl(
                "delete", "--ignore-not-found", "-f", "-",
                input=yaml.safe_dump_all(installed), check=False,
            )  # fmt: skip
        for namespace in NAMESPACES:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        roles = [f"{ROLES}-status-writer", *(f"{ROLES}-{name}" for name in AGGREGATE_ROLES)]
        cluster.kubectl("delete", "clusterrole", "--ignore-not-found", *roles, check=False)


def _probes_are(requests: Requests, outcome: str) -> tuple[bool, object]:
    answers = requests.probes()
    return all(a.outcome() == outcome for a in answers), answers


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_real_api_server_decides_the_case_as_expected(
    real_answers: dict[str, Answer], case: dict[str, Any]
) -> None:
    answer = real_answers[case["name"]]
    expect = case["expect"]
    assert answer.outcome() == expect, answer
    if expect == "denied":
        assert any(case["message"] in d for d in answer.policy_denials), answer.stderr
        # The denial names the policy and binding, as the API server words it.
        assert "denied request: " in answer.stderr, answer.stderr
    elif expect == "warned":
        assert any(case["message"] in w for w in answer.policy_warnings), answer.warnings
        assert any(w.startswith("Validation failed for ValidatingAdmissionPolicy '")
                   for w in answer.policy_warnings), answer.warnings  # fmt: skip


def test_every_case_was_sent(real_answers: dict[str, Answer]) -> None:
    assert sorted(real_answers) == sorted(c["name"] for c in CASES)
    assert {c["policies"] for c in CASES} == set(SETS)


def impersonated_groups(case: dict[str, Any]) -> frozenset[str]:
    """The groups the API server gives an impersonated user: those asked for, plus
    system:authenticated; a service account asked for without groups gets its own groups."""
    groups = set(case.get("groups") or ())
    user: str = case["user"]
    if "groups" not in case and user.startswith("system:serviceaccount:"):
        namespace = user.split(":")[2]
        groups |= {"system:serviceaccounts", f"system:serviceaccounts:{namespace}"}
    return frozenset(groups | {"system:authenticated"})


def test_the_requests_were_made_as_the_impersonated_users(
    real_cluster: RealCluster, real_answers: dict[str, Answer]
) -> None:
    """The audit log shows each case's user and groups (not the admin) asking the API server.

    Requests without groups cannot be made for real: the server adds system:authenticated.
    """
    seen = {
        (e["impersonatedUser"]["username"], frozenset(e["impersonatedUser"].get("groups", ())))
        for e in real_cluster.audit_log()
        if e.get("objectRef", {}).get("apiGroup") == "archive.auriora.io"
        and e.get("impersonatedUser")
    }
    missing = [c["name"] for c in CASES if (c["user"], impersonated_groups(c)) not in seen]
    assert not missing, (missing, seen)


def test_warn_and_audit_also_records_the_failure_in_the_audit_log(
    real_cluster: RealCluster, real_answers: dict[str, Answer]
) -> None:
    """ci/full-values.yaml binds with [Warn, Audit]: the audit event carries the failure."""
    (case,) = [c for c in CASES if c["expect"] == "warned"]
    key = "validation.policy.admission.k8s.io/validation_failure"
    failures = [
        json.loads(e["annotations"][key])
        for e in real_cluster.audit_log()
        if key in e.get("annotations", {})
        and (e.get("impersonatedUser") or {}).get("username") == case["user"]
        and e.get("verb") == "create"
        and e.get("objectRef", {}).get("resource") == case["resource"]
    ]
    assert failures, "no audit event of the warned request carries the validation failure"
    recorded = [f for found in failures for f in found]
    assert any(
        f["policy"] == "archive-operator-schedule-owner"
        and f["binding"] == "archive-operator-schedule-owner"
        and case["message"] in f["message"]
        and f["validationActions"] == ["Warn", "Audit"]
        for f in recorded
    ), recorded
