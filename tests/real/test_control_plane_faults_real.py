"""Faults of the real control plane: kube-apiserver restarted, etcd stopped, the controller
manager down across a fire time — the operator converges, runs are recorded once, coverage has
no gaps (issue 16, item 5; docs/reliability.md, "Faults of the real control plane").

One control plane for the module (tests/fixtures/controlplane.py `launched`: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, the node agent, the CRDs), the chart
installed by helm and the operator run as the e2e real tier runs it (tests/e2e/harness.py
`Operator`: the chart's command line, its ServiceAccount's token), the real archive-runner in
the runner pods, a real Radicale. Components are stopped and started again by the launcher
(`ControlPlane.stop_component` / `start_component`: same command line, data and port).

The run scenario (kube-apiserver SIGTERM, kube-apiserver SIGKILL, etcd): a schedule whose
source sits behind a gate (harness.GatedProxy) and a manual ArchiveRun for two past days; once
the runner is held at the gate, five new schedules are created and the first one's daily time
is changed, and at once the component is stopped. While it is down the gate is opened: the
runner archives and its pod finishes while nothing can be reported; the component stays down
until a read made during the outage has come back (for etcd: the API server's 60 s request
timeout, so the outage is felt, not masked as a slow answer). Then it is started again and

* every schedule is Ready for its current generation with exactly one CronJob of the right
  cron and time zone (the changed time included), none besides;
* the run Succeeded with the runner's counts, one Job, one runner pod, no retried pod, no
  other ArchiveRun (no Skipped record, no catch-up);
* the archive holds exactly the expected UIDs, written by hand (two per day, nothing from the
  days around): nothing missing, nothing doubled;
* every component of the plane still runs (a crashed kube-controller-manager would make the
  checks pass or fail for the wrong reason).

The controller-manager scenario: a daily schedule whose time is the next whole minute at least
70 s ahead (as tests/e2e/test_runs.py on the real tier); kube-controller-manager stopped right
after its CronJob exists, started again 30 s after the fire time. Without
startingDeadlineSeconds the returning CronJob controller starts the missed time itself: one
scheduled Job named for that minute, recorded once as a scheduled run; the operator's
missed-run check leaves the time open (the next time is a day away, missed.py) and its
coverage catch-up never starts (the day is archived long before it is due, fire time + 5 min,
coverage.py). Checked: no Job and no run while the controller was down; then one scheduled run,
one Job, one pod, the day's UIDs exactly; coverage through that day with no gap;
Healthy True in every sample taken from before the stop to the end; no missed or catch-up run.

Figures: `pytest -q -s -m real tests/real/test_control_plane_faults_real.py` prints the REAL
FAULTS REPORT (no random choice: no seed; the times depend only on the machine and the clock).
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from archive_controlplane.launcher import ControlPlane

from tests.chart.helm import NAMESPACE as CHART_NS
from tests.chart.helm import OPERATOR_USERNAME, RELEASE, install_helm
from tests.e2e.harness import (
    BIN,
    CalDAV,
    Cluster,
    GatedProxy,
    Operator,
    user_namespace,
    wait_for,
)
from tests.e2e.test_runs import (
    LONDON,
    condition,
    past_days,
    run_yaml,
    schedule_status,
    schedule_yaml,
    seed_days,
    wait_finished,
)
from tests.fixtures.controlplane import RealCluster, forbidden_answers, install_chart, launched
from tests.fixtures.radicale import RadicaleServer
from tests.real.test_dst_real import (
    owned_by,
    parse_stamp,
    rfc3339_offset,
    sleep_until,
    stamp,
    uids,
)

pytestmark = [pytest.mark.real, pytest.mark.slow]

RUNNER_IMAGE = "archive-runner:e2e"
ZONE = "Europe/London"
NEW_SCHEDULES = 5  # created right before each fault, while the operator reconciles them
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
KCM = "kube-controller-manager"
KCM_BACK_AFTER_FIRE = timedelta(seconds=30)
MIN_DOWN_SECONDS = 5.0  # an outage lasts at least this long, and until the read made in it ends
RBAC_SYNC = timedelta(seconds=5)  # after a restarted kube-apiserver is ready (see World)
REPORT: list[str] = []


@dataclass
class World:
    real: RealCluster
    cluster: Cluster
    operator: Operator
    caldav: CalDAV
    # From each stop of kube-apiserver to RBAC_SYNC after the restarted one was ready: 403s
    # answered then are counted, not failed (forbidden_answers, ignore_between).
    restarts: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def plane(self) -> ControlPlane:
        return self.real.plane


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, radicale_server: RadicaleServer
) -> Iterator[World]:
    """A control plane of this module's own (its components are stopped), the chart, the
    operator as the chart's ServiceAccount (as tests/e2e/conftest.py's real `cluster`)."""
    workdir = tmp_path_factory.mktemp("real-faults")
    caldav = CalDAV(radicale_server.base_url, radicale_server.username, radicale_server.password)
    with launched(workdir / "controlplane") as real:
        identity, args = install_chart(real, install_helm(), RELEASE, CHART_NS)
        cluster = Cluster(
            Path(real.kubeconfig),
            workdir / "e2e",
            None,
            pods_reach_loopback=True,
            operator_kubeconfig=identity,
            operator_args=args,
            real=real,
        )
        operator = Operator(cluster, RUNNER_IMAGE, workdir / "operator.log")
        operator.start()
        world = World(real, cluster, operator, caldav)
        try:
            yield world
        finally:
            alive = operator.process is not None and operator.process.poll() is None
            operator.stop()
            print(operator.log.read_text(errors="replace")[-4000:])
            denied = forbidden_answers(real, OPERATOR_USERNAME, ignore_between=world.restarts)
            during = len(forbidden_answers(real, OPERATOR_USERNAME)) - len(denied)
            REPORT.append(
                f"operator process alive at the end: {alive}; 403s to it: {len(denied)}, and "
                f"{during} within {RBAC_SYNC.seconds} s of a kube-apiserver restart (RBAC "
                "informers not yet synced)"
            )
            print("\nREAL FAULTS REPORT\n" + "\n".join(REPORT))
            assert alive, "the operator process exited during the faults"
            assert not denied, f"the chart's RBAC refused the operator: {denied}"


class BusyGate(GatedProxy):
    """harness.GatedProxy, but until `release` is set every request is answered at once with
    503 and Retry-After: 1 (GatedProxy holds it, at most 60 s, and the runner's HTTP timeout is
    30 s): the runner retries (runner/archive_runner/backends/http.py, RetryPolicy), so it stays
    in flight across an outage of any length and finishes only once released. `waiting` is set
    by its first request; `refused` counts the 503s."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.refused = 0
        gate = self
        forward: Any = self.server.RequestHandlerClass

        class Busy(forward):  # type: ignore[misc]
            def _forward(self) -> None:
                if gate.release.is_set():
                    super()._forward()
                    return
                gate.refused += 1
                gate.waiting.set()
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_REPORT = do_PROPFIND = _forward

        self.server.RequestHandlerClass = Busy

    def __enter__(self) -> BusyGate:
        super().__enter__()
        return self


# --- checks -----------------------------------------------------------------------------------


def daily(at: str) -> str:
    return f'[{{name: nightly, daily: {{at: "{at}"}}}}]'


def cron_of(at: str) -> str:
    """'07:05' -> '5 7 * * *' (by hand: the cron a daily time must become)."""
    hour, minute = at.split(":")
    return f"{int(minute)} {int(hour)} * * *"


def far_times(count: int) -> list[str]:
    """Daily times six hours and more from now: none fires during the module."""
    base = datetime.now(LONDON) + timedelta(hours=6)
    return [f"{base + timedelta(minutes=i):%H:%M}" for i in range(count)]


def convergence(cluster: Cluster, namespace: str, wanted: dict[str, str]) -> list[str]:
    """What is not yet as it must be: each schedule of `wanted` (name -> daily time) Ready for
    its current generation, with exactly one CronJob, of that cron in ZONE, not suspended; no
    CronJob besides."""
    schedules = {s["metadata"]["name"]: s for s in cluster.items("archiveschedules", namespace)}
    cronjobs = cluster.items("cronjobs", namespace)
    problems = []
    for name, at in wanted.items():
        body = schedules.get(name)
        if body is None:
            problems.append(f"{name}: missing")
            continue
        status = body.get("status") or {}
        ready = condition(status, "Ready").get("status")
        generation = (status.get("observedGeneration"), body["metadata"]["generation"])
        if ready != "True" or generation[0] != generation[1]:
            problems.append(f"{name}: Ready={ready}, observed/generation {generation}")
        mine = [
            (c["spec"]["schedule"], c["spec"]["timeZone"], c["spec"].get("suspend"))
            for c in cronjobs
            if owned_by(c, "ArchiveSchedule", name)
        ]
        if mine != [(cron_of(at), ZONE, False)]:
            problems.append(f"{name}: CronJobs {mine}, want {[(cron_of(at), ZONE, False)]}")
    strays = [
        c["metadata"]["name"]
        for c in cronjobs
        if not any(owned_by(c, "ArchiveSchedule", n) for n in wanted)
    ]
    if strays:
        problems.append(f"CronJobs of no schedule: {strays}")
    return problems


def all_running(plane: ControlPlane) -> dict[str, bool]:
    return {c.name: plane.running(c.name) for c in plane.components}


def expected_uids(days: list[date]) -> list[str]:
    """seed_days (tests/e2e/test_runs.py) writes early-YYYYMMDD and noon-YYYYMMDD per day."""
    return sorted(f"{kind}-{day:%Y%m%d}" for day in days for kind in ("early", "noon"))


@dataclass
class Probe:
    """One `kubectl get` made during an outage, in a thread: how it ended and after how long."""

    cluster: Cluster
    namespace: str
    code: int | None = None
    seconds: float = 0.0
    said: str = ""
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        try:
            done = subprocess.run(
                [str(BIN / "kubectl"),
                 f"--namespace={self.namespace}", "get", "archiveruns", "-o", "name"],
                capture_output=True, text=True, env=self.cluster.env(), timeout=150, check=False,
            )  # fmt: skip
            self.code, self.said = done.returncode, (done.stderr or done.stdout).strip()
        except subprocess.TimeoutExpired:
            self.code, self.said = -1, "no answer in 150 s"
        self.seconds = time.monotonic() - began

    def start(self) -> Probe:
        self.thread.start()
        return self

    def wait(self) -> None:
        self.thread.join(160)


# --- the run scenario ---------------------------------------------------------------------------


@dataclass
class Outage:
    """How an outage went: the stopped process's exit status, the read made during it, how
    long it lasted, the 503s the runner was answered meanwhile, what the archive held at the
    restart (empty: the runner had not finished), how long the API server took to be ready."""

    exit_code: int
    probe: Probe
    down_seconds: float
    refused: int
    archived_at_restart: list[str]
    api_ready_after: float  # seconds from the component's start to the API server's /readyz
    runs_admitted_after: float  # seconds more until an ArchiveRun passes admission again


def outage(
    world: World, name: str, how: signal.Signals, probe: Probe, gate: BusyGate, archive: str,
    *, namespace: str, release_while_down: bool = False,
) -> Outage:  # fmt: skip
    """Stop `name`; keep it down at least MIN_DOWN_SECONDS and until the read made during the
    outage has come back; start it again (the launcher waits for its health) and wait until
    kube-apiserver answers /readyz (which checks etcd). `release_while_down`: open the gate
    at once, and stay down until the runner has archived."""
    plane, began = world.plane, time.monotonic()
    stopped_at, refused_before = datetime.now(UTC), gate.refused
    code = plane.stop_component(name, how)
    probe.start()
    try:
        if release_while_down:
            gate.release.set()
            expected = expected_uids(past_days(2))
            wait_for(lambda: uids(world.caldav, archive) == expected, "the runner's archive", 60)
        probe.wait()
        time.sleep(max(0.0, MIN_DOWN_SECONDS - (time.monotonic() - began)))
    finally:
        archived = uids(world.caldav, archive)
        refused = gate.refused - refused_before
        down = time.monotonic() - began
        plane.start_component(name)
        started = time.monotonic()
        # The API server's etcd client reconnects with a back-off: usable again only later.
        plane.wait_healthy("kube-apiserver")
        ready = time.monotonic() - started
        admitted = runs_admitted(world.cluster, namespace)
        if name == "kube-apiserver":
            world.restarts.append((stopped_at, datetime.now(UTC) + RBAC_SYNC))
    return Outage(code, probe, down, refused, archived, ready, admitted)


def runs_admitted(cluster: Cluster, namespace: str) -> float:
    """Seconds until the API server admits an ArchiveRun again (a server-side dry run).

    After a kube-apiserver restart the chart's ValidatingAdmissionPolicy
    archive-operator-run-owner refuses every ArchiveRun for a while: "failed to configure
    policy: failed to find resource referenced by paramKind: 'archive.auriora.io/v1alpha1,
    Kind=ArchiveSchedule'" (its paramKind is a CRD the restarted server has not mapped yet).
    Measured and reported, not hidden: the operator's own run creations (catch-ups, missed
    records) meet the same refusals and are retried."""
    began = time.monotonic()
    manifest = run_yaml("admission-probe", "alice", past_days(1)[0], past_days(1)[0])
    refusal = last_refusal(cluster, namespace, manifest)
    while refusal:
        assert time.monotonic() - began < 120, f"ArchiveRuns still refused: {refusal}"
        time.sleep(0.5)
        refusal = last_refusal(cluster, namespace, manifest)
    return time.monotonic() - began


def last_refusal(cluster: Cluster, namespace: str, manifest: str) -> str:
    done = subprocess.run(
        [str(BIN / "kubectl"), f"--namespace={namespace}", "create", "--dry-run=server", "-f", "-"],
        input=manifest, capture_output=True, text=True, env=cluster.env(), timeout=60, check=False,
    )  # fmt: skip
    return "" if done.returncode == 0 else done.stderr


@contextmanager
def run_in_flight(world: World, namespace: str) -> Iterator[tuple[BusyGate, str, list[str]]]:
    """Schedule alice (daily, far from now) reading its source through a BusyGate; a manual
    run for two past days, held: the runner has reached the gate. Yields the gate, the
    archive's URL and the UIDs the run must archive (by hand: seed_days' two per day)."""
    cluster, caldav = world.cluster, world.caldav
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    days = past_days(2)
    seed_days(caldav, source, [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)])
    with BusyGate(caldav.base_url) as gate:
        gated = source.replace(caldav.base_url, gate.url)
        (at,) = far_times(1)
        cluster.apply(schedule_yaml("alice", gated, archive, entries=daily(at)), namespace)
        wait_for(lambda: not convergence(cluster, namespace, {"alice": at}), "alice Ready", 60)
        cluster.apply(run_yaml("alice-manual", "alice", days[0], days[-1]), namespace)
        wait_for(gate.waiting.is_set, "the runner to reach the calendar server", 60)
        yield gate, archive, expected_uids(days)


def run_through_fault(world: World, namespace: str, component: str, how: signal.Signals) -> None:
    cluster, caldav, plane = world.cluster, world.caldav, world.plane
    with run_in_flight(world, namespace) as (gate, archive, expected):
        # The operator has new work when the fault comes: new schedules and a changed one.
        times = far_times(NEW_SCHEDULES + 1)
        wanted = {"alice": times[0]} | {f"s{i}": times[1 + i] for i in range(NEW_SCHEDULES)}
        source = cluster.get("archiveschedule", namespace, "alice")["spec"]["source"]
        manifests = [
            schedule_yaml(name, source["caldav"]["url"], archive, entries=daily(at))
            for name, at in wanted.items()
        ]
        cluster.apply("---".join(manifests), namespace)
        down = outage(
            world, component, how, Probe(cluster, namespace), gate, archive, namespace=namespace
        )
        back = time.monotonic()
        gate.release.set()  # the runner goes on once the component is back
        try:
            wait_for(
                lambda: not convergence(cluster, namespace, wanted),
                f"{len(wanted)} schedules to converge after the fault",
                90,
            )
        except AssertionError as e:
            raise AssertionError(f"{e}: {convergence(cluster, namespace, wanted)}") from None
        converged = time.monotonic() - back
        run = wait_finished(cluster, namespace, "alice-manual", timeout=120)
        finished = time.monotonic() - back
    jobs = cluster.items("jobs", namespace)
    pods = cluster.items("pods", namespace)
    runs = cluster.items("archiveruns", namespace)
    archived = uids(caldav, archive)
    running = all_running(plane)
    REPORT.append(
        f"{component} {how.name}: exit {down.exit_code}, down {down.down_seconds:.1f} s, the "
        f"API server ready {down.api_ready_after:.1f} s after the start and admitting "
        f"ArchiveRuns {down.runs_admitted_after:.1f} s later, the runner answered "
        f"503 {down.refused} times meanwhile; a read during the outage: exit "
        f"{down.probe.code} after {down.probe.seconds:.1f} s ({down.probe.said[:100]}); after "
        f"the start: {len(wanted)} schedules converged in {converged:.1f} s, the run "
        f"{run['status']['phase']} in {finished:.1f} s; Jobs {len(jobs)}, pods {len(pods)}, "
        f"runs {len(runs)}, archived {len(archived)}/{len(expected)}"
    )

    assert all(running.values()), f"a component of the plane exited: {running}"
    # The outage was felt: a read during it failed (not merely slow); the run was in flight
    # across it (the runner retrying, nothing archived yet).
    assert down.probe.code not in (None, 0), (down.probe.code, down.probe.said)
    assert down.refused > 0 and down.archived_at_restart == [], down
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == len(expected), run["status"]["counts"]
    assert run["status"]["jobName"] == "alice-manual"
    assert [j["metadata"]["name"] for j in jobs] == ["alice-manual"]
    (job,) = jobs
    assert (job["status"].get("succeeded"), job["status"].get("failed", 0)) == (1, 0)
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    assert [r["metadata"]["name"] for r in runs] == ["alice-manual"]
    assert archived == expected


@pytest.mark.timeout(400)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_apiserver_restarted_mid_run(world: World, how: signal.Signals) -> None:
    """Fails if: the operator's watches do not come back after the API server does (schedules
    created just before stay not Ready or without CronJob, the changed time not applied); a
    status write lost in the restart is not retried (the run never Succeeded); the run is
    executed again (a second pod, the Job's failed count, runner counts 'unchanged')."""
    with user_namespace(world.cluster, "fault-") as namespace:
        run_through_fault(world, namespace, "kube-apiserver", how)


@pytest.mark.timeout(400)
def test_etcd_stopped_mid_run(world: World) -> None:
    """etcd stopped (SIGTERM) while the run is in flight; down until a read made during the
    outage has failed (the API server answers it only after its 60 s request timeout), then
    started with its data. Fails as the API-server test does, and if etcd's data did not
    survive (the schedules and the run would be gone)."""
    with user_namespace(world.cluster, "fault-") as namespace:
        run_through_fault(world, namespace, "etcd", signal.SIGTERM)


@pytest.mark.timeout(300)
def test_a_runner_that_finishes_while_the_apiserver_is_down_is_recorded(world: World) -> None:
    """The runner finishes while kube-apiserver is down (SIGKILL; the gate opened at the stop):
    once it is back, the pod's end must be reported and the run recorded, once. (Found here:
    the node agent's status write died with the API server's connection and was never tried
    again; node_agent.write_status now retries with a back-off, as a kubelet does.)"""
    cluster = world.cluster
    with (
        user_namespace(cluster, "fault-") as namespace,
        run_in_flight(world, namespace) as (gate, archive, expected),
    ):
        down = outage(
            world, "kube-apiserver", signal.SIGKILL, Probe(cluster, namespace), gate, archive,
            namespace=namespace, release_while_down=True,
        )  # fmt: skip
        REPORT.append(
            f"kube-apiserver SIGKILL, the runner done while down ({len(down.archived_at_restart)}"
            f"/{len(expected)} archived at the restart, down {down.down_seconds:.1f} s)"
        )
        assert down.archived_at_restart == expected
        # A kubelet reports within seconds; 45 s is generous (the agent's back-off is <= 10 s).
        run = wait_finished(cluster, namespace, "alice-manual", timeout=45)
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == len(expected)
    assert len(cluster.items("pods", namespace)) == 1


# --- the controller manager down across a fire time -------------------------------------------


@pytest.mark.timeout(420)
def test_controller_manager_down_across_a_fire_time(world: World) -> None:
    """Fails if: the fire time is lost (no run, coverage a gap); the day is archived twice (a
    catch-up run or a second scheduled run next to the CronJob's); the operator records the
    open time as missed (a Skipped run, missedRuns) while the controller is down; Healthy
    turns False."""
    cluster, caldav, plane = world.cluster, world.caldav, world.plane
    with user_namespace(cluster, "fault-") as namespace:
        source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
        ahead = datetime.now(LONDON) + timedelta(seconds=70)
        fires = ahead.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = fires.date()
        seed_days(caldav, source, [day - timedelta(days=1), day, day + timedelta(days=1)])
        expected = expected_uids([day])
        at = f"{fires:%H:%M}"
        cluster.apply(schedule_yaml("alice", source, archive, entries=daily(at)), namespace)
        wait_for(lambda: not convergence(cluster, namespace, {"alice": at}), "alice converged", 60)
        (cronjob,) = [
            c
            for c in cluster.items("cronjobs", namespace)
            if owned_by(c, "ArchiveSchedule", "alice")
        ]
        cronjob_name = cronjob["metadata"]["name"]

        samples: list[tuple[float, str | None]] = []
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                try:
                    status = schedule_status(cluster, namespace, "alice")
                    samples.append((time.time(), condition(status, "Healthy").get("status")))
                except AssertionError as e:  # a failed kubectl: noted, not a Healthy sample
                    samples.append((time.time(), f"read failed: {e}"))
                stop_sampling.wait(2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            assert datetime.now(UTC) < fires - timedelta(seconds=20), "too late to stop first"
            stopped = datetime.now(UTC)
            code = plane.stop_component(KCM, signal.SIGTERM)
            sleep_until(fires + KCM_BACK_AFTER_FIRE)
            # Control: the fire time passed and nothing fired.
            jobs_while_down = cluster.items("jobs", namespace)
            runs_while_down = cluster.items("archiveruns", namespace)
            last_while_down = cluster.get("cronjob", namespace, cronjob_name).get("status", {})
            plane.start_component(KCM)
            back = datetime.now(UTC)
            runs = wait_for(
                lambda: cluster.items("archiveruns", namespace), "the scheduled run", timeout=120
            )
            name = runs[0]["metadata"]["name"]
            run = wait_finished(cluster, namespace, name, timeout=120)
            status = wait_for(
                lambda: (
                    (s := schedule_status(cluster, namespace, "alice"))
                    .get("coverage", {})
                    .get("coveredThrough")
                    == day.isoformat()
                    and s
                ),
                f"coverage through {day}",
                60,
            )
            time.sleep(5)  # a second run, if one were coming, has had a few resyncs to appear
        finally:
            stop_sampling.set()
            sampler.join(10)
        jobs = cluster.items("jobs", namespace)
        pods = cluster.items("pods", namespace)
        runs = cluster.items("archiveruns", namespace)
        status = schedule_status(cluster, namespace, "alice")
        cronjob = cluster.get("cronjob", namespace, cronjob_name)
        catch_up_events = [
            e for e in cluster.items("events", namespace) if e.get("reason") == "CatchUpStarted"
        ]
        archived = uids(caldav, archive)
        running = all_running(plane)

    def after_start(stamp_: str | None) -> str:
        if not stamp_:
            return "never"
        return f"{(parse_stamp(stamp_) - back).total_seconds():.0f} s"

    REPORT.append(
        f"kube-controller-manager SIGTERM: exit {code}, down "
        f"{(back - stopped).total_seconds():.0f} s, from "
        f"{(fires - stopped).total_seconds():.0f} s before the fire time ({fires:%H:%M} London) "
        f"to {(back - fires).total_seconds():.0f} s after; after its start: the Job "
        f"{jobs[0]['metadata']['name'] if jobs else None} created "
        f"{after_start(jobs[0]['metadata']['creationTimestamp'] if jobs else None)}, the run "
        f"{run['status']['phase']} {after_start(run['status'].get('completionTime'))}; "
        f"runs {len(runs)}, Jobs {len(jobs)}, pods {len(pods)}, archived "
        f"{len(archived)}/{len(expected)}, coverage missingDays "
        f"{status.get('coverage', {}).get('missingDays', 0)}, Healthy samples {len(samples)} "
        f"all True: {all(s == 'True' for _, s in samples)}"
    )

    assert all(running.values()), f"a component of the plane exited: {running}"
    # While the controller was down, the fire time passed without a Job or a run.
    assert jobs_while_down == [] and runs_while_down == [], (jobs_while_down, runs_while_down)
    assert "lastScheduleTime" not in last_while_down, last_while_down
    # Back, the CronJob controller started the missed time itself: one Job named for that
    # minute, stamped with it; the operator recorded it once, as a scheduled run.
    minute = int(fires.timestamp()) // 60
    assert [j["metadata"]["name"] for j in jobs] == [f"{cronjob_name}-{minute}"]
    (job,) = jobs
    assert owned_by(job, "CronJob", cronjob_name)
    offset = fires.utcoffset()
    assert offset is not None
    wall = f"{fires:%Y-%m-%dT%H:%M:%S}{rfc3339_offset(offset)}"  # as Go's RFC3339 writes it
    assert job["metadata"]["annotations"][SCHEDULED_AT] == wall
    assert (job["status"].get("succeeded"), job["status"].get("failed", 0)) == (1, 0)
    assert len(pods) == 1
    assert [r["metadata"]["name"] for r in runs] == [job["metadata"]["name"]]
    assert run["spec"]["trigger"] == "scheduled"
    assert run["spec"]["start"] == run["spec"]["end"] == day.isoformat()
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == len(expected)
    assert archived == expected
    assert cronjob["status"]["lastScheduleTime"] == stamp(fires)
    # Coverage: the day archived, no gap; no catch-up, nothing recorded as missed.
    coverage = status["coverage"]
    assert coverage["coveredThrough"] == day.isoformat(), coverage
    assert not coverage.get("gaps") and coverage.get("missingDays", 0) == 0, coverage
    assert not catch_up_events
    assert not status.get("missedRuns"), status
    assert condition(status, "Healthy").get("status") == "True", status
    assert samples and all(s == "True" for _, s in samples), samples
