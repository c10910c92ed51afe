"""Leader election on the real API server (issue 16, item 6): two operators, one Lease.

The chart is `helm install`ed (its Deployment scaled to zero: the operator runs as local
processes), and two operators run as real kopf subprocesses with the chart's command line,
each as a ServiceAccount of its own bound to exactly the chart's roles (the second account's
bindings are copies of the chart's), so the real authorizer decides every request, the Lease's
included, and the API server's audit log says which operator made it.

Timings: the test sets short ones through the settings (ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS
=5, _RENEW_DEADLINE_SECONDS=3, _RETRY_PERIOD_SECONDS=0.5: `TIMINGS`) so that ten failovers fit
the CI budget; the chart's defaults are client-go's 15 / 10 / 2. The bounds asserted are the
documented ones (docs/reliability.md, "Leader election"), computed from the timings:

* `test_a_killed_leader_is_replaced_and_no_run_starts_twice`: the standby holds the Lease within
  lease duration + retry period + `LATENCY` of the leader's SIGKILL, ten kills in a row (seeded
  phases: ARCHIVE_LE_SEED), and reconciles a schedule created after the kill within
  `RECONCILE_MARGIN` more (kopf's start-up); at every moment only the Lease's holder writes;
  every schedule has exactly one CronJob and every manual run exactly one Job, each created
  once (the audit log counts the successful creates).
* `test_a_leader_cut_off_from_the_api_stops_before_the_standby_takes_over`: the leader talks to
  the API server through a TCP proxy that the test cuts (a black hole: connections stay open,
  nothing passes); it exits within its renew deadline, and the standby takes over after that
  and after the Lease expired.

ARCHIVE_LE_ELECTION=false runs the same tests with the election off (both operators
reconcile): they must fail — the check that they can.
The figures (failover median and max) are printed as LEADER ELECTION REPORT (pytest -s).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from archive_operator.leader_election import STOP_ALLOWANCE

from tests.chart.helm import CHART, install_helm
from tests.fixtures.controlplane import RealCluster
from tests.fixtures.processes import ChildProcess

pytestmark = [pytest.mark.real, pytest.mark.slow]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
GROUP = "archive.auriora.io"
RELEASE, SYSTEM, WORK = "archive-operator-le", "le-system", "le-work"
SECRET = "calendar"
SEED = int(os.environ.get("ARCHIVE_LE_SEED", "20261216"))
ELECTION = os.environ.get("ARCHIVE_LE_ELECTION", "true")
KILLS = 10
# Short timings for the test (the chart's defaults: 15 / 10 / 2).
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 5, 3.0, 0.5
TIMINGS = {
    "ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS": str(LEASE_DURATION),
    "ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS": str(RENEW_DEADLINE),
    "ARCHIVE_OPERATOR_RETRY_PERIOD_SECONDS": str(RETRY_PERIOD),
}
# API round trips (the last read and the take-over write) and the test's own polling (0.05 s)
# on a loaded 2-core machine.
LATENCY = 1.0
FAILOVER_BOUND = LEASE_DURATION + RETRY_PERIOD + LATENCY
# From holding the Lease to the first reconcile: kopf's start-up (import, CRD scan, initial
# listings) and one reconcile.
RECONCILE_MARGIN = 10.0
FAR_AWAY = f"{(datetime.now(UTC).hour + 12) % 24:02d}:00"
MUTATING = {"create", "update", "patch", "delete", "deletecollection"}
INSTALL_VALUES = (
    "ownership.enabled=false",  # cluster-scoped policies: not this module's concern
    "rbac.aggregateToStandardRoles=false",
    "watch.allNamespaces=false",
    f"watch.namespaces={{{WORK}}}",
)


# --- the world: the chart, two accounts, a proxy ------------------------------------------------


def helm(cluster: RealCluster, *args: str) -> None:
    env = {**cluster.env(), "HELM_CACHE_HOME": str(cluster.home / "helm-cache")}
    done = subprocess.run(
        [str(install_helm()), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr}{done.stdout}"


@dataclass
class Installed:
    cluster: RealCluster
    args: list[str]  # the chart's command line, minus the liveness port
    lease_name: str
    kubeconfigs: dict[str, Path]  # "a" / "b": each account's token kubeconfig
    usernames: dict[str, str]
    api: Any  # a kubernetes.client.ApiClient as the admin (the test's reads)

    def lease_holder(self) -> str:
        try:
            lease = kubernetes.client.CoordinationV1Api(self.api).read_namespaced_lease(
                self.lease_name, SYSTEM
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return ""
            raise
        return str(lease.spec.holder_identity or "")

    def cronjob_names(self) -> set[str]:
        items = kubernetes.client.BatchV1Api(self.api).list_namespaced_cron_job(WORK).items
        return {c.metadata.name for c in items}

    def jobs(self) -> list[Any]:
        return list(kubernetes.client.BatchV1Api(self.api).list_namespaced_job(WORK).items)


def account_kubeconfig(cluster: RealCluster, account: str) -> Path:
    token = cluster.kubectl(
        "create", "token", account, "--duration=2h", namespace=SYSTEM
    ).stdout.strip()
    return Path(cluster.plane.token_kubeconfig(token, cluster.home / f"{account}.kubeconfig"))


def copy_bindings(cluster: RealCluster, account: str) -> list[str]:
    """Bind `account` to every role the chart bound its own ServiceAccount to; returns the
    ClusterRoleBindings made (RoleBindings go with their namespaces)."""
    selector = f"app.kubernetes.io/instance={RELEASE}"
    subject = f"--serviceaccount={SYSTEM}:{account}"
    made = []
    for binding in cluster.json("get", "clusterrolebindings", "-l", selector)["items"]:
        name, role = f"{binding['metadata']['name']}-b", binding["roleRef"]["name"]
        cluster.kubectl("create", "clusterrolebinding", name, f"--clusterrole={role}", subject)
        made.append(name)
    for binding in cluster.json("get", "rolebindings", "-A", "-l", selector)["items"]:
        meta, ref = binding["metadata"], binding["roleRef"]
        kind = "--role" if ref["kind"] == "Role" else "--clusterrole"
        cluster.kubectl(
            "create", "rolebinding", f"{meta['name']}-b", f"{kind}={ref['name']}", subject,
            namespace=meta["namespace"],
        )  # fmt: skip
    return made


@pytest.fixture(scope="module")
def installed(real_cluster: RealCluster) -> Iterator[Installed]:
    cluster = real_cluster
    cluster.kubectl("create", "namespace", WORK)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": WORK, "annotations": {f"{GROUP}/user": "alice"}},
        "stringData": {"username": "alice", "password": "secret"},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    sets = [f"--set={v}" for v in INSTALL_VALUES]
    made: list[str] = []
    try:
        helm(
            cluster, "install", RELEASE, str(CHART), "--namespace", SYSTEM, "--create-namespace",
            "--skip-crds", *sets,
        )  # fmt: skip
        cluster.kubectl("scale", "deployment", RELEASE, "--replicas=0", namespace=SYSTEM)
        deployment = cluster.json("get", "deployment", RELEASE, namespace=SYSTEM)
        assert deployment["spec"]["replicas"] == 0  # scaled; the chart's own: 2
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["ARCHIVE_OPERATOR_LEADER_ELECTION"] == "true"
        args = [a for a in container["args"] if not a.startswith("--liveness")]
        assert args == ["run", f"--namespace={WORK}"], args
        second = f"{RELEASE}-b"
        cluster.kubectl("create", "serviceaccount", second, namespace=SYSTEM)
        made = copy_bindings(cluster, second)
        api = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
        yield Installed(
            cluster=cluster,
            args=args,
            lease_name=str(env["ARCHIVE_OPERATOR_LEASE_NAME"]),
            kubeconfigs={
                "a": account_kubeconfig(cluster, RELEASE),
                "b": account_kubeconfig(cluster, second),
            },
            usernames={
                "a": f"system:serviceaccount:{SYSTEM}:{RELEASE}",
                "b": f"system:serviceaccount:{SYSTEM}:{second}",
            },
            api=api,
        )
    finally:
        helm(cluster, "uninstall", RELEASE, "--namespace", SYSTEM)
        for name in made:
            cluster.kubectl("delete", "clusterrolebinding", name, check=False)
        for namespace in (WORK, SYSTEM):
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


class BlackHoleProxy:
    """A TCP proxy on 127.0.0.1 to the API server; `cut()` turns it into a black hole: every
    connection stays open, new ones are accepted, and no byte passes either way (a network
    partition as the client sees it: requests hang until their timeouts)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut_event = threading.Event()
        self.closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.cut_event.is_set():
                continue  # held open, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.cut_event.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        if not self.cut_event.is_set():
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_event.set()

    def close(self) -> None:
        self.closed.set()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def proxied_kubeconfig(source: Path, port: int) -> Path:
    config = yaml.safe_load(source.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = source.with_name(source.stem + "-proxied.kubeconfig")
    path.write_text(yaml.safe_dump(config))
    return path


# --- the operators ------------------------------------------------------------------------------


@dataclass
class Operator(ChildProcess):
    """One candidate: `archive-operator run --namespace=le-work` as account `who`."""

    who: str  # "a" or "b": the account (and the audit log's user)
    kubeconfig: Path
    installed: Installed
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    pod_name: str = ""
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        self.pod_name = f"le-{self.who}-{self.starts}"
        env = {
            **os.environ,
            **self.installed.cluster.env(self.kubeconfig),
            **TIMINGS,
            "ARCHIVE_OPERATOR_LEADER_ELECTION": ELECTION,
            "ARCHIVE_OPERATOR_LEASE_NAME": self.installed.lease_name,
            "ARCHIVE_OPERATOR_LEASE_NAMESPACE": SYSTEM,
            "ARCHIVE_OPERATOR_POD_NAME": self.pod_name,
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": "le-runner:none",  # never pulled: no runner runs
            "ARCHIVE_OPERATOR_LOG_FORMAT": "text",
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": "30",
        }
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.pod_name} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [str(BIN / "archive-operator"), *self.installed.args],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip
        self.starts += 1

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "(not started)"
        return self.log_path.read_text(errors="replace")[-2500:]

    def standing_by(self) -> bool:
        """It has read the Lease (and found it another's) since its last start."""
        text = self.log_path.read_text(errors="replace")
        last = text.rsplit(f"===== start {self.pod_name} =====", 1)[-1]
        return "leader election: standby" in last


def wait(what: str, check: Callable[[], object], seconds: float, logs: Callable[[], str]) -> float:
    """Poll `check` every 50 ms; the monotonic time it first held; fail naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s: {what}\n{logs()}")
        time.sleep(0.05)


def schedule(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "ArchiveSchedule",
        "metadata": {"name": name, "namespace": WORK},
        "spec": {
            "user": "alice",
            "timeZone": "UTC",
            # Twelve hours from now: the CronJob is made and never fires during the test
            # (a suspended schedule would hold the manual runs too).
            "schedules": [{"name": "nightly", "daily": {"at": FAR_AWAY}}],
            "source": {"caldav": {"url": "https://cal.example.com/dav/alice/calendar/"}},
            "destination": {"caldav": {"url": "https://cal.example.com/dav/alice/archive/"}},
            "credentialsSecretRef": {"name": SECRET},
        },
    }


def manual_run(name: str, schedule_name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "ArchiveRun",
        "metadata": {"name": name, "namespace": WORK},
        "spec": {
            "scheduleRef": {"name": schedule_name},
            "start": "2026-01-01",
            "end": "2026-01-01",
        },
    }


def create(installed: Installed, *objects: dict[str, Any]) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    installed.cluster.kubectl("create", "-f", "-", input=json.dumps(items))


def runs_with_a_job(installed: Installed) -> set[str]:
    """ArchiveRuns that have a Job controlled by them."""
    out = set()
    for job in installed.jobs():
        for ref in job.metadata.owner_references or ():
            if ref.kind == "ArchiveRun" and ref.controller:
                out.add(ref.name)
    return out


# --- the audit log: who wrote what, when ------------------------------------------------------


def stamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))


def operator_events(installed: Installed) -> list[tuple[datetime, str, dict[str, Any]]]:
    users = {name: who for who, name in installed.usernames.items()}
    out = []
    for event in installed.cluster.audit_log():
        who = users.get(event.get("user", {}).get("username", ""))
        if who is not None and event.get("stage") == "ResponseComplete":
            out.append((stamp(event), who, event))
    return sorted(out, key=lambda item: item[0])


def is_lease(event: dict[str, Any]) -> bool:
    return (event.get("objectRef") or {}).get("resource") == "leases"


def code(event: dict[str, Any]) -> int:
    return int((event.get("responseStatus") or {}).get("code") or 0)


def tenures(events: list[tuple[datetime, str, dict[str, Any]]]) -> list[tuple[datetime, str]]:
    """(start, account) of each tenure: a successful Lease write by an account other than the
    last one to write it successfully (a take-over; renewals continue a tenure). A released
    Lease taken by the same account again is one tenure, as the accounts are what write."""
    out: list[tuple[datetime, str]] = []
    for moment, who, event in events:
        written = is_lease(event) and event["verb"] in ("create", "update") and code(event) < 300
        if written and (not out or out[-1][1] != who):
            out.append((moment, who))
    return out


def writes_outside_tenure(installed: Installed) -> list[str]:
    """Every mutating request (the Lease's aside) made by an account while it did not hold
    the Lease: before its tenure began, or after the other account's began."""
    events = operator_events(installed)
    terms = tenures(events)
    bad = []
    for moment, who, event in events:
        if event["verb"] not in MUTATING or is_lease(event):
            continue
        current = [w for start, w in terms if start <= moment]
        if not current or current[-1] != who:
            ref = event.get("objectRef") or {}
            bad.append(
                f"{moment.time()} {who} {event['verb']} {ref.get('resource')}/"
                f"{ref.get('subresource', '')} {ref.get('name', '')} ({code(event)})"
            )
    return bad


def successful_creates(installed: Installed, resource: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, _, event in operator_events(installed):
        ref = event.get("objectRef") or {}
        if event["verb"] == "create" and ref.get("resource") == resource and code(event) < 300:
            name = str(ref.get("name") or "")
            counts[name] = counts.get(name, 0) + 1
    return counts


def refused(installed: Installed) -> list[str]:
    return [
        f"{e['verb']} {(e.get('objectRef') or {}).get('resource')}: "
        f"{(e.get('responseStatus') or {}).get('message', '')}"
        for _, _, e in operator_events(installed)
        if code(e) == 403
    ]


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture
def pair(installed: Installed, tmp_path: Path) -> Iterator[dict[str, Operator]]:
    operators = {
        who: Operator(who, installed.kubeconfigs[who], installed, tmp_path / f"operator-{who}.log")
        for who in ("a", "b")
    }
    try:
        yield operators
    finally:
        for operator in operators.values():
            operator.stop()


def logs_of(operators: dict[str, Operator], installed: Installed) -> Callable[[], str]:
    def logs() -> str:
        runs = installed.cluster.kubectl(
            "get", f"archiveruns.{GROUP}", "-o", "yaml", namespace=WORK, check=False
        ).stdout
        return "\n".join(f"--- {o.who}:\n{o.log_tail()}" for o in operators.values()) + (
            f"\n--- runs:\n{runs[-3000:]}"
        )

    return logs


def made(installed: Installed, schedule_name: str, run: str) -> Callable[[], bool]:
    """The schedule's CronJob and the manual run's Job exist."""
    return lambda: (
        f"{schedule_name}-nightly" in installed.cronjob_names()
        and run in runs_with_a_job(installed)
    )


def holder_is(installed: Installed, operator: Operator) -> Callable[[], bool]:
    return lambda: installed.lease_holder().startswith(f"{operator.pod_name}_")


def test_a_killed_leader_is_replaced_and_no_run_starts_twice(
    installed: Installed, pair: dict[str, Operator]
) -> None:
    rng = random.Random(SEED)
    logs = logs_of(pair, installed)
    first, second = pair["a"], pair["b"]
    first.start()
    wait("the first operator holds the lease", holder_is(installed, first), 60, logs)
    second.start()
    wait("the second operator stands by", second.standing_by, 60, logs)
    leader, standby = first, second
    lease_failovers: list[float] = []
    reconcile_failovers: list[float] = []
    schedules: list[str] = []
    runs: list[str] = []
    for round_ in range(KILLS):
        # The leader reconciles: a schedule (its CronJob) and a manual run (its Job).
        before, run = f"before-{round_}", f"run-{round_}"
        create(installed, schedule(before), manual_run(run, before))
        schedules.append(before)
        runs.append(run)
        wait(
            f"round {round_}: the leader makes {before}'s CronJob and {run}'s Job",
            made(installed, before, run),
            60,
            logs,
        )
        time.sleep(rng.uniform(0, 2 * RETRY_PERIOD))  # a seeded phase against the renewals
        killed = time.monotonic()
        leader.kill()
        after, after_run = f"after-{round_}", f"after-run-{round_}"
        create(installed, schedule(after), manual_run(after_run, after))
        schedules.append(after)
        runs.append(after_run)
        held = wait(
            f"round {round_}: the standby takes the lease over",
            holder_is(installed, standby),
            FAILOVER_BOUND + 30,
            logs,
        )
        reconciled = wait(
            f"round {round_}: the new leader reconciles {after}",
            made(installed, after, after_run),
            60,
            logs,
        )
        lease_failovers.append(held - killed)
        reconcile_failovers.append(reconciled - killed)
        leader.start()  # back as a standby, with a new identity
        wait(f"round {round_}: the restarted operator stands by", leader.standing_by, 60, logs)
        leader, standby = standby, leader

    report = {
        "seed": SEED,
        "kills": KILLS,
        "timings": {"lease": LEASE_DURATION, "renew": RENEW_DEADLINE, "retry": RETRY_PERIOD},
        "lease_failover_s": [round(x, 2) for x in lease_failovers],
        "reconcile_failover_s": [round(x, 2) for x in reconcile_failovers],
        "lease_median": round(statistics.median(lease_failovers), 2),
        "lease_max": round(max(lease_failovers), 2),
        "reconcile_median": round(statistics.median(reconcile_failovers), 2),
        "reconcile_max": round(max(reconcile_failovers), 2),
        "bound_lease": FAILOVER_BOUND,
        "bound_reconcile": FAILOVER_BOUND + RECONCILE_MARGIN,
    }
    print(f"\nLEADER ELECTION REPORT (kills) {json.dumps(report)}")

    assert max(lease_failovers) <= FAILOVER_BOUND, report
    assert max(reconcile_failovers) <= FAILOVER_BOUND + RECONCILE_MARGIN, report
    # Only the holder of the Lease wrote, at every moment (the audit log's own times).
    assert writes_outside_tenure(installed) == []
    # No run started twice: one CronJob per schedule entry, one Job per manual run, each
    # created exactly once (successful creates, whoever made them).
    cronjobs = successful_creates(installed, "cronjobs")
    assert {n: k for n, k in cronjobs.items() if k != 1} == {}
    assert set(cronjobs) == {f"{s}-nightly" for s in schedules}
    assert installed.cronjob_names() == {f"{s}-nightly" for s in schedules}
    jobs = successful_creates(installed, "jobs")
    assert {n: k for n, k in jobs.items() if k != 1} == {}
    assert len(jobs) == len(runs)
    per_run: dict[str, int] = {}
    for job in installed.jobs():
        for ref in job.metadata.owner_references or ():
            if ref.kind == "ArchiveRun" and ref.controller:
                per_run[ref.name] = per_run.get(ref.name, 0) + 1
    assert per_run == dict.fromkeys(runs, 1)
    # The Lease's rights are the chart's, and each is used: get, create, update; none refused.
    verbs = {e["verb"] for _, _, e in operator_events(installed) if is_lease(e)}
    assert verbs == {"get", "create", "update"}, verbs
    assert refused(installed) == []


def test_a_leader_cut_off_from_the_api_stops_before_the_standby_takes_over(
    installed: Installed, pair: dict[str, Operator]
) -> None:
    logs = logs_of(pair, installed)
    server = installed.cluster.server.removeprefix("https://")
    host, port = server.rsplit(":", 1)
    proxy = BlackHoleProxy((host, int(port)))
    try:
        cut_off, standby = pair["a"], pair["b"]
        cut_off.kubeconfig = proxied_kubeconfig(installed.kubeconfigs["a"], proxy.port)
        # A previous test's leader may have released the Lease (stopped) or left it to expire.
        cut_off.start()
        wait("the proxied operator holds the lease", holder_is(installed, cut_off), 60, logs)
        standby.start()
        wait("the direct operator stands by", standby.standing_by, 60, logs)
        create(installed, schedule("partition-before"))
        wait(
            "the proxied leader reconciles",
            lambda: "partition-before-nightly" in installed.cronjob_names(),
            60,
            logs,
        )
        time.sleep(1.0)
        assert cut_off.process is not None
        process = cut_off.process
        cut = time.monotonic()
        proxy.cut()
        create(installed, schedule("partition-after"))
        exited = wait("the cut-off leader exits", lambda: process.poll() is not None, 30, logs)
        held = wait("the standby takes the lease over", holder_is(installed, standby), 30, logs)
        reconciled = wait(
            "the new leader reconciles",
            lambda: "partition-after-nightly" in installed.cronjob_names(),
            60,
            logs,
        )
        cut_off.process = None
        report = {
            "exit_after_cut_s": round(exited - cut, 2),
            "takeover_after_cut_s": round(held - cut, 2),
            "reconcile_after_cut_s": round(reconciled - cut, 2),
            "exit_status": process.returncode,
        }
        print(f"\nLEADER ELECTION REPORT (partition) {json.dumps(report)}")
        assert process.returncode == 75, report  # LOST_EXIT_STATUS
        assert "lost the lease" in cut_off.log_tail()
        # It stopped within its renew deadline (measured from its last renewal, which came
        # before the cut) ...
        assert exited - cut <= RENEW_DEADLINE + STOP_ALLOWANCE, report
        # ... before the standby could take over, which waited for the Lease to expire: no
        # earlier than a lease duration after the last renewal it saw (at most a retry period
        # before the cut) ...
        assert held > exited, report
        assert held - cut >= LEASE_DURATION - RETRY_PERIOD - LATENCY, report
        # ... and no later than the failover bound.
        assert held - cut <= FAILOVER_BOUND, report
        assert writes_outside_tenure(installed) == []
        assert refused(installed) == []
    finally:
        proxy.close()
