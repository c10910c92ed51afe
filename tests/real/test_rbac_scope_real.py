"""The chart's RBAC scope, decided by the real API server (issue 18, item 4).

tests/rbac/test_rbac_scope.py judges the rendered RBAC with our own evaluator; here the chart is
`helm install`ed twice on the real control plane and the real authorizer answers:

* **listed namespaces** (release `archive-operator-listed`, watching scope-team-a only):
  `kubectl auth can-i --as=<its ServiceAccount>` — get Secrets, create Jobs, CronJobs and
  ArchiveRuns, list and watch pods in scope-team-a: yes; in scope-team-b, in the release's own
  namespace, in kube-system and across all namespaces: no; list or watch Secrets: no anywhere.
  Then the same with the ServiceAccount's own token (TokenRequest): real requests, refused with
  403 exactly where expected (the audit log says which). And the operator itself runs with that
  token and the chart's command line: it reconciles the schedule in scope-team-a (reading its
  credentials Secret's metadata) and nothing in scope-team-b, and is refused nothing.
* **all namespaces** (release `archive-operator-all`, the default): what it may do everywhere,
  pinned — get any Secret in any namespace (kube-system included), create Jobs anywhere, list
  and watch every pod — so that a change is noticed; never list or watch Secrets.
* **cluster-wide rights, exactly**: a SelfSubjectRulesReview in a namespace the operator does
  not watch lists everything it may do there, which is what it may do cluster-wide; minus what
  every ServiceAccount may do (the same review for an account with no bindings), it must be
  exactly the documented list (tests/rbac/checks.py, CLUSTER_WIDE_*; docs/chart.md "Scope").

Both releases install with ownership.enabled=false and rbac.aggregateToStandardRoles=false: this
session's control plane is shared with other real-tier modules, and neither the admission
policies nor the aggregated user roles are the operator's own rights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import CHART, install_helm
from tests.fixtures.controlplane import RealCluster, wait_until
from tests.fixtures.processes import stop_process
from tests.rbac.checks import CLUSTER_WIDE_ALL_NAMESPACES, CLUSTER_WIDE_LISTED, NAMESPACED_RULES
from tests.rbac.rbac import Permission

pytestmark = [pytest.mark.real, pytest.mark.slow]

WATCHED, UNWATCHED = "scope-team-a", "scope-team-b"
GROUP = "archive.auriora.io"
SECRET = "calendar"  # in both namespaces, annotated as alice's
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
# Both releases: nothing beyond the operator's own RBAC (see the module doc).
# Leader election off (one replica, --standalone): its Role on the Lease in the release
# namespace would be a right there beyond the scope checked here; the Lease's rights on the real
# API server are tests/real/test_leader_election_real.py's.
COMMON = (
    "ownership.enabled=false",
    "rbac.aggregateToStandardRoles=false",
    "leaderElection.enabled=false",
    "replicaCount=1",
)


@dataclass(frozen=True)
class Release:
    name: str  # contains the chart name: objects and the ServiceAccount are named after it
    namespace: str
    values: tuple[str, ...]

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


LISTED = Release(
    "archive-operator-listed",
    "archive-scope-listed",
    ("watch.allNamespaces=false", f"watch.namespaces={{{WATCHED}}}"),
)
ALL = Release("archive-operator-all", "archive-scope-all", ())
# Namespaces the listed release does not watch (each exists).
OUTSIDE = (UNWATCHED, LISTED.namespace, "kube-system", "default")


def helm(cluster: RealCluster, *args: str) -> None:
    env = {**cluster.env(), "HELM_CACHE_HOME": str(cluster.home / "helm-cache")}
    done = subprocess.run(
        [str(install_helm()), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr}{done.stdout}"


def secret(namespace: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": SECRET,
                "namespace": namespace,
                "annotations": {f"{GROUP}/user": "alice"},
            },
            "stringData": {"username": "alice", "password": "secret"},
        }
    )


@pytest.fixture(scope="module")
def installed(real_cluster: RealCluster) -> Iterator[RealCluster]:
    """Both releases installed (their Deployments scaled to zero), the two team namespaces
    with an annotated credentials Secret each."""
    for namespace in (WATCHED, UNWATCHED):
        real_cluster.kubectl("create", "namespace", namespace)
        real_cluster.kubectl("apply", "-f", "-", input=secret(namespace))
    try:
        for release in (LISTED, ALL):
            sets = [f"--set={v}" for v in (*COMMON, *release.values)]
            helm(
                real_cluster, "install", release.name, str(CHART),
                "--namespace", release.namespace, "--create-namespace", "--skip-crds", *sets,
            )  # fmt: skip
            # The operator's image is not one the node agent runs; the operator runs locally.
            real_cluster.kubectl(
                "scale", "deployment", release.name, "--replicas=0", namespace=release.namespace
            )
        yield real_cluster
    finally:
        for release in (LISTED, ALL):
            helm(real_cluster, "uninstall", release.name, "--namespace", release.namespace)
        for namespace in (WATCHED, UNWATCHED, LISTED.namespace, ALL.namespace):
            real_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def can_i(
    cluster: RealCluster, release: Release, verb: str, resource: str, namespace: str | None
) -> str:
    """`kubectl auth can-i` as the release's ServiceAccount; namespace None: across all."""
    scope = [f"--namespace={namespace}"] if namespace else ["--all-namespaces"]
    resource, _, subresource = resource.partition("/")
    if subresource:
        scope.append(f"--subresource={subresource}")
    done = cluster.kubectl(
        "auth", "can-i", verb, resource, f"--as={release.username}", *scope, check=False
    )
    return done.stdout.strip()


Check = tuple[str, str, str | None]  # verb, kubectl resource, namespace (None: across all)


def answers(cluster: RealCluster, release: Release, checks: list[Check]) -> dict[Check, str]:
    return {(v, r, ns): can_i(cluster, release, v, r, ns) for v, r, ns in checks}


# What the operator does in a watched namespace (verb, kubectl resource), per the brief.
WORK = [
    ("get", "secrets"),
    ("create", "jobs.batch"),
    ("patch", "jobs.batch"),
    ("delete", "jobs.batch"),
    ("create", "cronjobs.batch"),
    ("update", "cronjobs.batch"),
    ("delete", "cronjobs.batch"),
    ("list", "pods"),
    ("watch", "pods"),
    ("create", f"archiveruns.{GROUP}"),
    ("delete", f"archiveruns.{GROUP}"),
    ("patch", f"archiveruns.{GROUP}/status"),
    ("patch", f"archiveschedules.{GROUP}/status"),
    ("create", "events"),
]
# Never, in any namespace or across all of them.
NEVER = [
    ("list", "secrets"),
    ("watch", "secrets"),
    ("create", "secrets"),
    ("update", "secrets"),
    ("delete", "secrets"),
    ("create", "pods"),
    ("get", "pods/log"),
    ("create", "pods/exec"),
    ("get", "configmaps"),
    ("create", "serviceaccounts/token"),
]


def test_listed_namespaces_the_operator_works_only_in_the_watched_one(
    installed: RealCluster,
) -> None:
    inside = answers(installed, LISTED, [(v, r, WATCHED) for v, r in WORK])
    assert {k: v for k, v in inside.items() if v != "yes"} == {}
    outside: list[Check] = [(v, r, ns) for v, r in WORK for ns in OUTSIDE]
    outside += [(v, r, None) for v, r in WORK if v in ("list", "watch")]  # across all
    assert {k: v for k, v in answers(installed, LISTED, outside).items() if v != "no"} == {}


@pytest.mark.parametrize("release", [LISTED, ALL], ids=["listed", "all"])
def test_never_secrets_listed_or_watched_nor_pods_of_its_own(
    installed: RealCluster, release: Release
) -> None:
    namespaces = (WATCHED, *OUTSIDE, ALL.namespace, None)
    checks: list[Check] = [(v, r, ns) for v, r in NEVER for ns in namespaces]
    assert {k: v for k, v in answers(installed, release, checks).items() if v != "no"} == {}


def test_all_namespaces_what_the_default_install_may_do_everywhere(
    installed: RealCluster,
) -> None:
    """Pinned and documented (docs/chart.md "Scope"): the default install's ServiceAccount may
    get any Secret by name, and create Jobs, CronJobs and ArchiveRuns, in every namespace —
    kube-system and its own included — and list and watch every pod of the cluster."""
    namespaces = (WATCHED, *OUTSIDE, ALL.namespace)
    everywhere: list[Check] = [(v, r, ns) for v, r in WORK for ns in namespaces]
    everywhere += [(v, r, None) for v, r in WORK if v in ("list", "watch")]
    assert {k: v for k, v in answers(installed, ALL, everywhere).items() if v != "yes"} == {}
    # It needs no namespace list (kopf lists namespaces only when given a list of them).
    assert can_i(installed, ALL, "list", "namespaces", None) == "no"
    assert can_i(installed, LISTED, "list", "namespaces", None) == "yes"


# --- exactly the documented cluster-wide rights (SelfSubjectRulesReview) ----------------------


def rules(cluster: RealCluster, username: str, namespace: str) -> set[Permission]:
    """What `username` may do in `namespace`, as the API server lists it."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    }
    done = cluster.kubectl(
        "create", "-f", "-", "-o", "json", "--validate=false", f"--as={username}",
        input=json.dumps(review),
    )  # fmt: skip
    status = json.loads(done.stdout)["status"]
    assert not status.get("incomplete"), status
    out = set()
    for rule in status.get("resourceRules") or ():
        assert not rule.get("resourceNames"), rule  # the chart names no objects
        for group in rule.get("apiGroups") or ():
            for resource in rule.get("resources") or ():
                out |= {Permission(group, resource, verb) for verb in rule["verbs"]}
    return out


def own_rights(cluster: RealCluster, release: Release, namespace: str) -> set[Permission]:
    """The release's rights in `namespace` beyond what every ServiceAccount of its namespace
    has (system:basic-user and the like: an account with no bindings of its own)."""
    nobody = f"system:serviceaccount:{release.namespace}:no-bindings"
    return rules(cluster, release.username, namespace) - rules(cluster, nobody, namespace)


def differences(granted: set[Permission], documented: set[Permission]) -> dict[str, list[str]]:
    return {
        "granted, not documented": sorted(map(str, granted - documented)),
        "documented, not granted": sorted(map(str, documented - granted)),
    }


NO_DIFFERENCE: dict[str, list[str]] = {"granted, not documented": [], "documented, not granted": []}


def test_listed_namespaces_cluster_wide_rights_are_exactly_the_documented_ones(
    installed: RealCluster,
) -> None:
    for namespace in OUTSIDE:
        cluster_wide = own_rights(installed, LISTED, namespace)
        assert differences(cluster_wide, set(CLUSTER_WIDE_LISTED)) == NO_DIFFERENCE, namespace
    watched = own_rights(installed, LISTED, WATCHED)
    expected = set(CLUSTER_WIDE_LISTED) | set(NAMESPACED_RULES)
    assert differences(watched, expected) == NO_DIFFERENCE


def test_all_namespaces_cluster_wide_rights_are_exactly_the_documented_ones(
    installed: RealCluster,
) -> None:
    for namespace in ("kube-system", UNWATCHED):
        cluster_wide = own_rights(installed, ALL, namespace)
        expected = set(CLUSTER_WIDE_ALL_NAMESPACES)
        assert differences(cluster_wide, expected) == NO_DIFFERENCE, namespace


# --- real requests with the ServiceAccount's token ----------------------------------------------


def token_config(cluster: RealCluster, release: Release) -> Path:
    token = cluster.kubectl(
        "create", "token", release.name, "--duration=1h", namespace=release.namespace
    ).stdout.strip()
    path = cluster.home / f"{release.name}-scope.kubeconfig"
    return Path(cluster.plane.token_kubeconfig(token, path))


def is_kubectl(event: dict[str, Any]) -> bool:
    return str(event.get("userAgent", "")).startswith("kubectl/")


def refused(cluster: RealCluster, username: str, kubectl: bool) -> set[str]:
    """`username`'s requests the API server answered 403, as 'verb resource/subresource
    ns/name': those kubectl made (the test's probes), or the others (the operator's)."""
    out = set()
    for event in cluster.audit_log():
        if event.get("user", {}).get("username") != username or is_kubectl(event) != kubectl:
            continue
        if (event.get("responseStatus") or {}).get("code") == 403:
            ref = event.get("objectRef") or {}
            out.add(
                f"{event['verb']} {ref.get('resource')}/{ref.get('subresource', '')} "
                f"{ref.get('namespace', '')}/{ref.get('name', '')}"
            )
    return out


def run_manifest(namespace: str) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "ArchiveRun",
            "metadata": {"name": "probe", "namespace": namespace},
            "spec": {"scheduleRef": {"name": "alice"}, "start": "2026-01-01", "end": "2026-01-01"},
        }
    )


def test_listed_namespaces_real_requests_with_the_operator_token(installed: RealCluster) -> None:
    """Requests as the operator (its ServiceAccount's token): allowed in the watched namespace,
    403 elsewhere, Secrets never listed or watched. Writes are server-side dry runs (authorized
    like real ones; nothing is stored)."""
    config = token_config(installed, LISTED)

    def as_operator(*args: str, namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        return installed.kubectl(*args, namespace=namespace, kubeconfig=config, check=False)

    def writes(namespace: str) -> list[subprocess.CompletedProcess[str]]:
        return [
            as_operator(
                "create", "job", "probe", "--image=x", "--dry-run=server", namespace=namespace
            ),
            as_operator(
                "create",
                "cronjob",
                "probe",
                "--image=x",
                "--schedule=0 0 1 1 *",
                "--dry-run=server",
                namespace=namespace,
            ),
            installed.kubectl(
                "create",
                "-f",
                "-",
                "--dry-run=server",
                input=run_manifest(namespace),
                kubeconfig=config,
                check=False,
            ),
        ]

    inside = [
        as_operator("get", "secret", SECRET, "-o", "name", namespace=WATCHED),
        as_operator("get", "pods", namespace=WATCHED),
        *writes(WATCHED),
    ]
    assert [d.stderr for d in inside if d.returncode != 0] == []
    outside = [
        as_operator("get", "secret", SECRET, "-o", "name", namespace=UNWATCHED),
        as_operator("get", "secret", SECRET, "-o", "name", namespace="kube-system"),
        as_operator("get", "secrets", namespace=WATCHED),  # list
        as_operator("get", "secrets", "--all-namespaces"),
        as_operator("get", "--raw", f"/api/v1/namespaces/{WATCHED}/secrets?watch=1"),
        as_operator("get", "pods", namespace=UNWATCHED),
        as_operator("get", "pods", "--all-namespaces"),
        *writes(UNWATCHED),
    ]
    assert [d.args for d in outside if "forbidden" not in d.stderr.lower()] == []
    assert refused(installed, LISTED.username, kubectl=True) == {
        f"get secrets/ {UNWATCHED}/{SECRET}",
        f"get secrets/ kube-system/{SECRET}",
        f"list secrets/ {WATCHED}/",
        "list secrets/ /",
        f"watch secrets/ {WATCHED}/",
        f"list pods/ {UNWATCHED}/",
        "list pods/ /",
        f"create jobs/ {UNWATCHED}/",
        f"create cronjobs/ {UNWATCHED}/",
        f"create archiveruns/ {UNWATCHED}/",
    }


def schedule(namespace: str) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "ArchiveSchedule",
            "metadata": {"name": "alice", "namespace": namespace},
            "spec": {
                "user": "alice",
                "suspend": True,  # its CronJob is made, never fires
                "timeZone": "UTC",
                "schedules": [{"name": "nightly", "daily": {"at": "23:59"}}],
                "source": {"caldav": {"url": "https://cal.example.com/dav/alice/calendar/"}},
                "destination": {"caldav": {"url": "https://cal.example.com/dav/alice/archive/"}},
                "credentialsSecretRef": {"name": SECRET},
            },
        }
    )


def ready(cluster: RealCluster, namespace: str) -> tuple[bool, object]:
    body = cluster.json("get", f"archiveschedules.{GROUP}", "alice", namespace=namespace)
    conditions = (body.get("status") or {}).get("conditions") or []
    found = [c for c in conditions if c.get("type") == "Ready"]
    return bool(found and found[0].get("status") == "True"), body.get("status")


def operator_args(cluster: RealCluster, release: Release) -> list[str]:
    deployment = cluster.json("get", "deployment", release.name, namespace=release.namespace)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return [a for a in container["args"] if not a.startswith("--liveness")]


@pytest.fixture
def operator(installed: RealCluster, tmp_path: Path) -> Iterator[Path]:
    """The operator as the listed release's ServiceAccount, with the chart's command line."""
    args = operator_args(installed, LISTED)
    assert args == ["run", "--standalone", f"--namespace={WATCHED}"], args
    log = tmp_path / "operator.log"
    env = {
        **os.environ,
        **installed.env(token_config(installed, LISTED)),
        "ARCHIVE_OPERATOR_RUNNER_IMAGE": "archive-runner:scope",
        "ARCHIVE_OPERATOR_LOG_FORMAT": "text",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "archive-operator"), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            cwd=ROOT,
        )  # fmt: skip
    try:
        yield log
    finally:
        stop_process(process)


def test_listed_namespaces_the_operator_serves_the_watched_namespace_only(
    installed: RealCluster, operator: Path
) -> None:
    for namespace in (WATCHED, UNWATCHED):
        installed.kubectl("apply", "-f", "-", input=schedule(namespace))
    try:
        wait_until("the watched namespace's schedule is Ready", lambda: ready(installed, WATCHED))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\noperator log:\n{operator.read_text()[-3000:]}") from None
    cronjobs = installed.json("get", "cronjobs", namespace=WATCHED)["items"]
    assert [c["metadata"]["name"] for c in cronjobs] == ["alice-nightly"]
    time.sleep(3)  # a resync later, still nothing in the namespace it does not watch
    other: dict[str, Any] = installed.json(
        "get", f"archiveschedules.{GROUP}", "alice", namespace=UNWATCHED
    )
    assert "status" not in other
    assert installed.json("get", "cronjobs", namespace=UNWATCHED)["items"] == []
    # Its Secret reads: the credentials Secret it was given, by name, in the watched namespace.
    secrets = {
        (e["verb"], e["objectRef"].get("namespace"), e["objectRef"].get("name"))
        for e in installed.audit_log()
        if e.get("user", {}).get("username") == LISTED.username
        and (e.get("objectRef") or {}).get("resource") == "secrets"
        and not is_kubectl(e)
    }
    assert secrets == {("get", WATCHED, SECRET)}
    assert refused(installed, LISTED.username, kubectl=False) == set(), "refused the operator"
