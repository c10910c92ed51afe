"""Pod Security "restricted", enforced by the real API server's admission (issue 12, 4d).

A namespace labelled pod-security.kubernetes.io/enforce=restricted (enforce-version=latest, and
warn=restricted so workload objects are checked too) receives, as dry-run creations:
the runner pods the operator renders (CronJob and run Job templates, with the settings each
chart values set gives the operator), the chart Deployment's pod template per values set, and
hand-written controls: pods that must be rejected with the named violations (proof that
enforcement is on) and pods on the edges of the standard. Each verdict is compared with our
own checker, tests/chart/pod_security.py, on the same pod spec.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import CI_VALUES, Helm, Manifest, container_env, install_helm, of_kind
from tests.chart.pod_security import restricted_violations, runner_pod_violations
from tests.fixtures.controlplane import RealCluster, wait_until

pytestmark = [pytest.mark.real, pytest.mark.slow]

NAMESPACE = "psa-restricted"
IMAGE = "registry.example.com/psa/probe:1"  # never pulled: every creation is a dry-run
FORBIDDEN = 'violates PodSecurity "restricted:latest": '
VALUES_SETS: dict[str, tuple[Path, ...]] = {
    "default": (),
    **{path.name.removesuffix("-values.yaml"): (path,) for path in CI_VALUES},
}


@dataclass(frozen=True)
class PodCase:
    """A pod spec, the real server's expected verdict and the violations it must name."""

    id: str
    spec: Manifest
    admitted: bool
    reasons: tuple[str, ...] = ()  # PodSecurity's names of the violated checks
    # Or the API server's validation message, when it rejects the pod before admission.
    invalid: str = ""
    metadata: Manifest = field(default_factory=dict)
    runner: bool = False  # a runner pod: the project's extra rules apply too


# --- the controls, written by hand ---------------------------------------------------------

COMPLIANT: Manifest = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": IMAGE,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def changed(**changes: Any) -> Manifest:
    """COMPLIANT with `changes`: paths joined by "__" (a list index as a number) -> value;
    None removes the field."""
    pod = copy.deepcopy(COMPLIANT)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node: Any = pod
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return pod


C0 = "containers__0__securityContext"
CONTROLS: list[PodCase] = [
    PodCase("a compliant pod", COMPLIANT, admitted=True),
    # Must be rejected: each shows that enforcement is on, and for what.
    PodCase(
        "no runAsNonRoot anywhere",
        changed(securityContext__runAsNonRoot=None),
        admitted=False,
        reasons=("runAsNonRoot != true",),
    ),
    PodCase(
        # This API server runs without --allow-privileged: validation refuses the pod before
        # PodSecurity sees it. The verdict (rejected) is still compared with our checker.
        "privileged container",
        changed(**{f"{C0}__privileged": True, f"{C0}__allowPrivilegeEscalation": None}),
        admitted=False,
        invalid="securityContext.privileged: Forbidden: disallowed by cluster policy",
    ),
    PodCase(
        "hostPath volume",
        changed(volumes=[{"name": "host", "hostPath": {"path": "/"}}]),
        admitted=False,
        reasons=("restricted volume types",),
    ),
    PodCase(
        "allowPrivilegeEscalation true",
        changed(**{f"{C0}__allowPrivilegeEscalation": True}),
        admitted=False,
        reasons=("allowPrivilegeEscalation != false",),
    ),
    PodCase(
        "host network",
        changed(hostNetwork=True),
        admitted=False,
        reasons=("host namespaces",),
    ),
    PodCase(
        "runAsUser 0",
        changed(securityContext__runAsUser=0),
        admitted=False,
        reasons=("runAsUser=0",),
    ),
    PodCase(
        "seccomp Unconfined",
        changed(securityContext__seccompProfile={"type": "Unconfined"}),
        admitted=False,
        reasons=("seccompProfile",),
    ),
    PodCase(
        "no seccomp profile",
        changed(securityContext__seccompProfile=None),
        admitted=False,
        reasons=("seccompProfile",),
    ),
    PodCase(
        "capabilities not all dropped",
        changed(**{f"{C0}__capabilities": {"drop": ["NET_RAW"]}}),
        admitted=False,
        reasons=("unrestricted capabilities",),
    ),
    PodCase(
        "capability SYS_ADMIN added",
        changed(**{f"{C0}__capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
        admitted=False,
        reasons=("unrestricted capabilities",),
    ),
    PodCase(
        "host port",
        changed(containers__0__ports=[{"containerPort": 80, "hostPort": 80}]),
        admitted=False,
        reasons=("hostPort",),
    ),
    PodCase(
        "unsafe sysctl",
        changed(securityContext__sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
        admitted=False,
        reasons=("forbidden sysctls",),
    ),
    PodCase(
        "SELinux type spc_t",
        changed(securityContext__seLinuxOptions={"type": "spc_t"}),
        admitted=False,
        reasons=("seLinuxOptions",),
    ),
    PodCase(
        "AppArmor Unconfined",
        changed(**{f"{C0}__appArmorProfile": {"type": "Unconfined"}}),
        admitted=False,
        reasons=("forbidden AppArmor profile",),
    ),
    PodCase(
        # Unmasked /proc needs a user namespace (API validation); restricted still forbids it.
        "unmasked procMount in a user namespace",
        changed(hostUsers=False, **{f"{C0}__procMount": "Unmasked"}),
        admitted=False,
        reasons=("procMount",),
    ),
    PodCase(
        "pod sets runAsNonRoot false, its containers true",
        changed(securityContext__runAsNonRoot=False, **{f"{C0}__runAsNonRoot": True}),
        admitted=False,
        reasons=("runAsNonRoot != true",),
    ),
    PodCase(
        "container runAsNonRoot false",
        changed(**{f"{C0}__runAsNonRoot": False}),
        admitted=False,
        reasons=("runAsNonRoot != true",),
    ),
    PodCase(
        "probe with a host",
        changed(
            containers__0__livenessProbe={"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}}
        ),
        admitted=False,
        reasons=("probe or lifecycle host",),
    ),
    PodCase(
        "init container without the restrictions",
        changed(initContainers=[{"name": "init", "image": IMAGE}]),
        admitted=False,
        reasons=("allowPrivilegeEscalation != false", "unrestricted capabilities"),
    ),
    # Admitted by the standard at its latest version, though they look unusual.
    PodCase(
        "a newer safe sysctl (net.ipv4.tcp_rmem)",
        changed(securityContext__sysctls=[{"name": "net.ipv4.tcp_rmem", "value": "4096 87380"}]),
        admitted=True,
    ),
    PodCase(
        "SELinux type container_engine_t",
        changed(securityContext__seLinuxOptions={"type": "container_engine_t"}),
        admitted=True,
    ),
    PodCase(
        "an image volume",
        changed(volumes=[{"name": "data", "image": {"reference": IMAGE}}]),
        admitted=True,
    ),
    PodCase(
        "runAsNonRoot and the runAsUser 0 check relaxed in a user namespace",
        changed(hostUsers=False, securityContext__runAsNonRoot=None, **{f"{C0}__runAsUser": 0}),
        admitted=True,
    ),
    PodCase(
        "a Windows pod needs no Linux-only settings",
        {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "c", "image": IMAGE}],
        },
        admitted=True,
    ),
    PodCase(
        "seccomp Localhost on the container, none on the pod",
        changed(
            securityContext__seccompProfile=None,
            **{f"{C0}__seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
        ),
        admitted=True,
    ),
    PodCase(
        "capability NET_BIND_SERVICE added",
        changed(**{f"{C0}__capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
        admitted=True,
    ),
]


# --- what the project renders --------------------------------------------------------------

SCHEDULES: list[Manifest] = [
    {   # Alice's example: CalDAV to CalDAV, credentials from a Secret, a nightly CronJob.
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveSchedule",
        "metadata": {"name": "alice", "namespace": NAMESPACE, "uid": "u-alice", "generation": 1},
        "spec": {
            "user": "alice",
            "timeZone": "Europe/London",
            "schedules": [{"name": "nightly", "daily": {"at": "23:59"}}],
            "source": {"caldav": {"url": "https://cal.example.com/dav/alice/calendar/"}},
            "destination": {"caldav": {"url": "https://cal.example.com/dav/alice/archive/"}},
            "credentialsSecretRef": {"name": "alice-calendar"},
        },
    },
    {   # Into a PersistentVolumeClaim: the runner mounts it.
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveSchedule",
        "metadata": {"name": "dana", "namespace": NAMESPACE, "uid": "u-dana", "generation": 1},
        "spec": {
            "user": "dana",
            "schedules": [{"name": "weekly", "weekly": {"days": ["fri"], "at": "18:00"}}],
            "source": {"ics": {"url": "https://cal.example.com/dana.ics"}},
            "destination": {"directory": {"claimName": "archive", "subPath": "dana"}},
        },
    },
]  # fmt: skip
RUN: Manifest = {
    "apiVersion": "archive.auriora.io/v1alpha1",
    "kind": "ArchiveRun",
    "metadata": {"name": "manual-1", "namespace": NAMESPACE, "uid": "u-run"},
    "spec": {"scheduleRef": {"name": "?"}, "start": "2026-11-20", "end": "2026-11-20"},
}


def rendered_workloads() -> dict[str, Manifest]:
    """The CronJobs and run Jobs the operator renders, and the chart's Deployment, per values
    set: name -> workload manifest (placed in NAMESPACE)."""
    from archive_operator.api.run import ArchiveRun
    from archive_operator.api.schedule import ArchiveSchedule
    from archive_operator.render import render_cronjobs, render_run_job
    from archive_operator.settings import Settings

    helm = Helm(install_helm())
    found: dict[str, Manifest] = {}
    for values, files in VALUES_SETS.items():
        (deployment,) = of_kind(helm.render(files), "Deployment")
        deployment = copy.deepcopy(deployment)
        deployment["metadata"]["namespace"] = NAMESPACE
        found[f"{values}: operator Deployment"] = deployment
        settings = Settings.from_env(container_env(deployment))
        for doc in SCHEDULES:
            schedule = ArchiveSchedule.from_body(doc)
            for cronjob in render_cronjobs(schedule, settings):
                found[f"{values}: CronJob {cronjob['metadata']['name']}"] = cronjob
            run_doc = copy.deepcopy(RUN)
            run_doc["metadata"]["name"] = f"{doc['metadata']['name']}-manual-1"
            run_doc["spec"]["scheduleRef"]["name"] = doc["metadata"]["name"]
            job = render_run_job(schedule, ArchiveRun.from_body(run_doc), settings)
            found[f"{values}: run Job {job['metadata']['name']}"] = job
    return found


def pod_template(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Manifest = spec["template"]
    return template


WORKLOADS = rendered_workloads()
RENDERED: list[PodCase] = [
    PodCase(
        name,
        pod_template(w)["spec"],
        admitted=True,  # every pod the project renders must run in a restricted namespace
        metadata={"labels": pod_template(w).get("metadata", {}).get("labels", {})},
        runner=w["kind"] != "Deployment",
    )
    for name, w in WORKLOADS.items()
]
CASES = RENDERED + CONTROLS


# --- the real API server -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    returncode: int
    stderr: str

    @property
    def admitted(self) -> bool:
        return self.returncode == 0

    @property
    def podsecurity_warnings(self) -> list[str]:
        return [
            line
            for line in self.stderr.splitlines()
            if line.startswith("Warning: ") and "PodSecurity" in line
        ]


class Restricted:
    """A namespace that enforces (and warns about) Pod Security "restricted", latest version."""

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.answers: dict[str, Answer] = {}

    def create(self, obj: Manifest) -> Answer:
        done = self.cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", input=json.dumps(obj), check=False
        )
        return Answer(done.returncode, done.stderr)

    def pod(self, case: PodCase) -> Answer:
        if case.id not in self.answers:
            name = f"pod-{CASES.index(case)}"
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {**copy.deepcopy(case.metadata), "name": name, "namespace": NAMESPACE},
                "spec": copy.deepcopy(case.spec),
            }
            self.answers[case.id] = self.create(pod)
        return self.answers[case.id]


@pytest.fixture(scope="module")
def restricted(real_cluster: RealCluster) -> Iterator[Restricted]:
    cluster = real_cluster
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
    }
    accounts = {"default"} | {
        pod_template(w)["spec"].get("serviceAccountName", "default") for w in WORKLOADS.values()
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels},
    }
    try:
        cluster.kubectl("create", "-f", "-", input=json.dumps(namespace))
        for account in sorted(accounts - {"default"}):
            cluster.kubectl("create", "serviceaccount", account, namespace=NAMESPACE)

        def accounts_exist() -> tuple[bool, object]:
            done = cluster.kubectl("get", "serviceaccounts", "-o", "name", namespace=NAMESPACE)
            names = {line.removeprefix("serviceaccount/") for line in done.stdout.split()}
            return accounts <= names, names

        # The pods' ServiceAccount must exist (the controller manager makes "default").
        wait_until("the service accounts exist", accounts_exist)
        yield Restricted(cluster)
    finally:
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_namespace_enforces_restricted_at_the_latest_version(
    real_cluster: RealCluster, restricted: Restricted
) -> None:
    labels = real_cluster.json("get", "namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_real_api_server_admits_or_rejects_the_pod(
    restricted: Restricted, case: PodCase
) -> None:
    answer = restricted.pod(case)
    if case.admitted:
        assert answer.admitted, answer.stderr
        assert not answer.podsecurity_warnings, answer.stderr
        return
    assert not answer.admitted, "admitted, but the restricted standard forbids it"
    if case.invalid:
        assert "is invalid" in answer.stderr and case.invalid in answer.stderr, answer.stderr
        return
    assert FORBIDDEN in answer.stderr, answer.stderr  # rejected by PodSecurity, not validation
    named = answer.stderr.split(FORBIDDEN, 1)[1]
    for reason in case.reasons:
        assert f"{reason} (" in named, (reason, named)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_our_checker_agrees_with_the_real_api_server(restricted: Restricted, case: PodCase) -> None:
    answer = restricted.pod(case)
    ours = restricted_violations(case.spec)
    assert (ours == []) == answer.admitted, {"ours": ours, "real": answer.stderr}


@pytest.mark.parametrize("case", [c for c in CASES if c.runner], ids=lambda c: c.id)
def test_runner_pods_also_meet_the_project_rules(case: PodCase) -> None:
    assert runner_pod_violations(case.spec) == []


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_the_rendered_workload_is_created_without_a_pod_security_warning(
    restricted: Restricted, name: str
) -> None:
    """Jobs, CronJobs and Deployments are checked too (warn level: enforce is for pods)."""
    answer = restricted.create(WORKLOADS[name])
    assert answer.admitted, answer.stderr
    assert not answer.podsecurity_warnings, answer.stderr


def test_a_violating_workload_gets_the_warning(restricted: Restricted) -> None:
    """The warning check above can fail: a Job with a root pod is warned about."""
    job = copy.deepcopy(next(w for w in WORKLOADS.values() if w["kind"] == "Job"))
    job["metadata"]["name"] = "root-job"
    job["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("runAsNonRoot")
    answer = restricted.create(job)
    assert answer.admitted, answer.stderr  # enforce applies to pods only
    assert any('would violate PodSecurity "restricted:latest"' in w and "runAsNonRoot" in w
               for w in answer.podsecurity_warnings), answer.stderr  # fmt: skip


def test_every_values_set_and_schedule_is_covered() -> None:
    assert {name.split(":")[0] for name in WORKLOADS} == set(VALUES_SETS)
    kinds = [w["kind"] for w in WORKLOADS.values()]
    assert kinds.count("Deployment") == len(VALUES_SETS)
    assert kinds.count("Job") == kinds.count("CronJob") == len(VALUES_SETS) * len(SCHEDULES)
    assert len(VALUES_SETS) >= 4
