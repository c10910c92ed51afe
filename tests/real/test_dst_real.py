"""A spring-forward night on the real control plane, a few minutes from now (DESIGN.md 5a).

Real clocks cannot be moved, so the time zone moves instead: `zic` compiles a zoneinfo
directory holding one zone under a real IANA name (the CRD admits only those) —
America/Sao_Paulo, or Asia/Tokyo when the crafted offsets would come near Sao Paulo's real
one; neither has DST today — whose standard offset is chosen so that local standard time reads
02:00 at a whole UTC minute J a minute or two ahead, and whose only rule moves the clocks from
02:00 to 03:00 at J. All times below are worked out here by hand from that offset, never by
the operator's code.

Who reads the crafted zone:

* kube-apiserver and kube-controller-manager of a control plane of this test's own: the
  launcher gives them ZONEINFO=<dir> (controlplane/README.md, "Extra environment"); Go's
  time.LoadLocation reads $ZONEINFO before the system's database and the tzdata the binaries
  embed, and reads the file at every call — so the zone is compiled once everything is up,
  right before the schedule is made, and the jump comes as early as possible.
* the operator (kopf, as the chart's ServiceAccount, like the e2e real tier) and the runner
  pods (the node agent's image rule for the runner image): PYTHONTZPATH=<dir>. Python's
  zoneinfo searches PYTHONTZPATH's directories, which replace the compiled-in system paths,
  and only then the `tzdata` package (so every other zone still loads).

The scenario: `daily: {at: "02:00"}`, window yesterday (offsetDays -1, days 1), created a
minute or two before 02:00 local. 02:00 does not exist on day D: the real CronJob controller
(robfig/cron) does not fire that day. Coverage says run day D owes D-1 from its nominal time
02:00 read with the standard offset (= J), due 5 minutes later (coverage.START_GRACE); the
operator starts the catch-up run `alice-catchup-<D-1>`, which archives D-1.

Controls, so that no check passes by construction: a plain CronJob "1 3 * * *" in the same
zone must fire at J + 1 min (03:01 daylight time) with the daylight offset in its Job's
scheduled-timestamp annotation — the controller ran through the jump reading the crafted
zone; the API server accepts a CronJob whose timeZone is a name only the crafted directory
has and rejects an unknown one; the seeded events sit a minute inside and outside D-1's local
edges, so a runner reading another offset archives other events.

Takes about 6 minutes: some 15 s to start everything, the jump 45-105 s after the zone is
compiled, the 5-minute grace, a few seconds for the run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from archive_controlplane.launcher import ControlPlane
from archive_sandbox.controllers.workloads import RUNNER_RULE

from tests.chart.helm import NAMESPACE as CHART_NS
from tests.chart.helm import OPERATOR_USERNAME, RELEASE, install_helm
from tests.e2e.harness import CalDAV, Cluster, Operator, user_namespace, vevent, wait_for
from tests.e2e.test_runs import condition, schedule_status, wait_finished
from tests.fixtures.controlplane import ROOT, RealCluster, forbidden_answers, install_chart
from tests.fixtures.radicale import RadicaleServer

pytestmark = [pytest.mark.real, pytest.mark.slow]

ZIC = shutil.which("zic") or "/usr/sbin/zic"
# IANA names without DST today and their real UTC offsets (by hand). The crafted zone takes the
# name whose real offset is farthest from both crafted offsets, so that a component reading the
# real zone instead would be hours off, never minutes.
REAL_ZONES = {"America/Sao_Paulo": timedelta(hours=-3), "Asia/Tokyo": timedelta(hours=9)}
PROBE_ZONE = "Archive/Crafted"  # a link to the crafted zone: a name no other database has
# From compiling the zone to the jump at least this long: the schedule and its CronJob are
# made in about a second, so this is margin for a busy machine.
LEAD = timedelta(seconds=45)
START_GRACE = timedelta(minutes=5)  # docs/operator.md, "Coverage": due 5 min after nominal
SCHEDULE = "alice"
RUNNER_IMAGE = "archive-runner:e2e"
CONTROL = "crafted-clock"  # the control CronJob
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HOUR = timedelta(hours=1)


def zic_offset(delta: timedelta) -> str:
    """timedelta(hours=-9, minutes=-37) -> '-9:37' (zic's STDOFF)."""
    minutes = int(delta.total_seconds()) // 60
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def rfc3339_offset(delta: timedelta) -> str:
    """As Go's time.RFC3339 writes an offset: 'Z', '+13:23', '-08:37'."""
    minutes = int(delta.total_seconds()) // 60
    if minutes == 0:
        return "Z"
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zic_until(moment: datetime) -> str:
    """A UTC instant as zic's UNTIL column ('u': universal time)."""
    return f"{moment.year} {MONTHS[moment.month - 1]} {moment.day} {moment:%H:%M}u"


@dataclass(frozen=True)
class CraftedZone:
    name: str
    jump: datetime  # UTC, a whole minute: local standard 02:00, which becomes 03:00 daylight
    std: timedelta  # the standard offset; daylight time is std + 1 h

    @classmethod
    def around(cls, now: datetime) -> CraftedZone:
        ahead = now + LEAD
        jump = ahead.replace(second=0, microsecond=0) + timedelta(minutes=1)
        since_midnight = jump - jump.replace(hour=0, minute=0)
        std = 2 * HOUR - since_midnight  # local standard time 02:00 at the jump
        if std <= timedelta(hours=-12):
            std += timedelta(days=1)  # the same wall clock, one date later: -12 h < std <= +12 h

        def distance(real: timedelta) -> timedelta:
            return min(abs(std - real), abs(std + HOUR - real))

        name = max(REAL_ZONES, key=lambda n: distance(REAL_ZONES[n]))
        return cls(name, jump, std)

    @property
    def dst(self) -> timedelta:
        return self.std + HOUR

    @property
    def day(self) -> date:
        """D: the local date of the jump."""
        return (self.jump + self.std).date()

    def standard(self, day: date, hour: int, minute: int) -> datetime:
        """The UTC instant of a local standard-time wall clock."""
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - self.std

    def source(self) -> str:
        back = self.jump + timedelta(days=7)  # fall back a week later: an ordinary DST season
        std = zic_offset(self.std)
        return (
            f"# {__name__}: 02:00 (UTC{std}) becomes 03:00 at {self.jump:%Y-%m-%dT%H:%MZ}\n"
            f"Zone {self.name} {std} - TST {zic_until(self.jump)}\n"
            f"\t\t{std} 1:00 TDT {zic_until(back)}\n"
            f"\t\t{std} - TST\n"
            f"Link {self.name} {PROBE_ZONE}\n"
        )

    def compile(self, directory: Path) -> None:
        source = directory.parent / "crafted.zi"
        source.write_text(self.source())
        done = subprocess.run(
            [ZIC, "-d", str(directory), str(source)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"zic: {done.stderr}"
        # The compiled file says what was meant (zic checked, not the operator).
        with (directory / self.name).open("rb") as compiled:
            zone = ZoneInfo.from_file(compiled)
        before = (self.jump - timedelta(seconds=1)).astimezone(zone)
        after = self.jump.astimezone(zone)
        assert (before.utcoffset(), before.strftime("%H:%M:%S")) == (self.std, "01:59:59")
        assert (after.utcoffset(), after.strftime("%H:%M")) == (self.dst, "03:00")


def runner_images(workdir: Path, zoneinfo: Path) -> Path:
    """The node agent's image rules: the runner image as the sandbox runs it by default
    (RUNNER_RULE), with the crafted zone in its environment, as an image would bake it in."""
    rule = {
        "image": RUNNER_RULE.image,
        "entrypoint": list(RUNNER_RULE.entrypoint),
        "cmd": list(RUNNER_RULE.cmd),
        "workingDir": RUNNER_RULE.working_dir,
        "path": list(RUNNER_RULE.path),
        "env": {**RUNNER_RULE.env, "PYTHONTZPATH": str(zoneinfo)},
    }
    path = workdir / "images.yaml"
    path.write_text(yaml.safe_dump({"images": [rule]}))
    return path


@contextmanager
def crafted_cluster(workdir: Path, zoneinfo: Path) -> Iterator[tuple[RealCluster, Cluster]]:
    """A control plane of its own reading time zones from `zoneinfo` first, one node whose
    runner pods do too, the CRDs and the chart (as tests/e2e/conftest.py's real `cluster`;
    fixtures.controlplane.launched takes neither an environment nor image rules)."""
    planedir = workdir / "controlplane"
    with ControlPlane.started(planedir, env={"ZONEINFO": str(zoneinfo)}) as plane:
        plane.start_node("node-1", images=runner_images(workdir, zoneinfo))
        real = RealCluster(plane, planedir)
        real.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        real.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s",
            "crd/archiveschedules.archive.auriora.io", "crd/archiveruns.archive.auriora.io",
        )  # fmt: skip
        identity, args = install_chart(real, install_helm(), RELEASE, CHART_NS)
        yield (
            real,
            Cluster(
                Path(real.kubeconfig),
                workdir / "e2e",
                None,
                pods_reach_loopback=True,
                operator_kubeconfig=identity,
                operator_args=args,
                real=real,
            ),
        )


@contextmanager
def running_operator(
    cluster: Cluster, log: Path, zoneinfo: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Operator]:
    """The operator as in the e2e real tier (harness.Operator: the chart's arguments and
    ServiceAccount), with PYTHONTZPATH in the environment it inherits."""
    monkeypatch.setenv("PYTHONTZPATH", str(zoneinfo))
    operator = Operator(cluster, RUNNER_IMAGE, log)
    operator.start()
    monkeypatch.delenv("PYTHONTZPATH")
    try:
        yield operator
    finally:
        operator.stop()
        print(log.read_text(errors="replace")[-6000:])


def schedule_yaml(zone: str, source: str, archive: str) -> str:
    return f"""
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveSchedule
metadata:
  name: {SCHEDULE}
spec:
  user: alice
  timeZone: {zone}
  schedules: [{{name: nightly, daily: {{at: "02:00"}}}}]
  window: {{offsetDays: -1, days: 1}}
  source:
    caldav:
      url: {source}
  destination:
    caldav:
      url: {archive}
  credentialsSecretRef:
    name: calendar
"""


def cronjob_yaml(name: str, zone: str, schedule: str) -> str:
    """A plain CronJob whose Jobs start suspended (no pods): only its timing is looked at."""
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": name},
            "spec": {
                "schedule": schedule,
                "timeZone": zone,
                "jobTemplate": {
                    "spec": {
                        "suspend": True,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "example.org/never:1"}],
                            }
                        },
                    }
                },
            },
        }
    )


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def owned_by(item: dict[str, Any], kind: str, name: str) -> bool:
    refs = item["metadata"].get("ownerReferences") or []
    return any(r["kind"] == kind and r["name"] == name for r in refs)


def uids(caldav: CalDAV, calendar: str) -> list[str]:
    return sorted(
        line.split(":", 1)[1].strip()
        for text in caldav.items(calendar)
        for line in text.splitlines()
        if line.startswith("UID:")
    )


@pytest.mark.timeout(1500)
def test_the_real_cronjob_controller_skips_a_crafted_spring_forward_and_the_day_is_caught_up(
    tmp_path: Path, radicale_server: RadicaleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path(ZIC).exists():
        pytest.skip("needs zic, the tz database compiler")
    zoneinfo = tmp_path / "zoneinfo"
    zoneinfo.mkdir()
    caldav = CalDAV(radicale_server.base_url, radicale_server.username, radicale_server.password)
    with (
        crafted_cluster(tmp_path, zoneinfo) as (real, cluster),
        running_operator(cluster, tmp_path / "operator.log", zoneinfo, monkeypatch),
        user_namespace(cluster, "dst-") as namespace,
    ):
        source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
        zone = CraftedZone.around(datetime.now(UTC))
        zone.compile(zoneinfo)
        jump, day = zone.jump, zone.day
        yesterday = day - timedelta(days=1)
        print(
            f"crafted {zone.name}: UTC{zic_offset(zone.std)}, jump {jump:%H:%M}Z, local day {day}"
        )
        # A minute inside and outside D-1's local (standard-time) edges, one minute long.
        seeded = {
            "before": zone.standard(yesterday - timedelta(days=1), 23, 58),
            "first": zone.standard(yesterday, 0, 1),
            "last": zone.standard(yesterday, 23, 58),
            "after": zone.standard(day, 0, 1),
        }
        for uid, start in seeded.items():
            caldav.put(source, uid, vevent(uid, start, uid, minutes=1))

        cluster.apply(schedule_yaml(zone.name, source, archive), namespace)
        (cronjob,) = wait_for(
            lambda: [
                c
                for c in cluster.items("cronjobs", namespace)
                if owned_by(c, "ArchiveSchedule", SCHEDULE)
            ],
            "the schedule's CronJob",
        )
        cluster.apply(cronjob_yaml(CONTROL, zone.name, "1 3 * * *"), namespace)
        created = parse_stamp(
            cluster.get("archiveschedule", namespace, SCHEDULE)["metadata"]["creationTimestamp"]
        )

        # The real API server validates timeZone with the crafted directory first.
        probe = cronjob_yaml("probe", PROBE_ZONE, "0 2 * * *")
        accepted = real.kubectl(
            "create", "--dry-run=server", "-f", "-", input=probe, namespace=namespace, check=False
        )
        unknown = probe.replace(PROBE_ZONE, "Archive/Nope")
        refused = real.kubectl(
            "create", "--dry-run=server", "-f", "-", input=unknown, namespace=namespace,
            check=False,
        )  # fmt: skip

        # 03:01 daylight time, a minute after the jump: the control CronJob fires.
        fired = jump + timedelta(minutes=1)
        sleep_until(fired + timedelta(seconds=5))
        control_jobs = wait_for(
            lambda: [
                j for j in cluster.items("jobs", namespace) if owned_by(j, "CronJob", CONTROL)
            ],
            "the control CronJob's Job",
            timeout=60,
        )
        control = cluster.get("cronjob", namespace, CONTROL)

        # The jump plus the start grace: the day D owes (D-1) is due; the operator catches up.
        sleep_until(jump + START_GRACE)
        catch_ups = wait_for(
            lambda: [
                r
                for r in cluster.items("archiveruns", namespace)
                if r["spec"].get("trigger") == "catchup"
            ],
            "the catch-up run",
            timeout=90,
        )
        name = catch_ups[0]["metadata"]["name"]
        run = wait_finished(cluster, namespace, name, timeout=180)
        status = wait_for(
            lambda: (
                (s := schedule_status(cluster, namespace, SCHEDULE))
                .get("coverage", {})
                .get("coveredThrough")
                == yesterday.isoformat()
                and s
            ),
            f"coverage through {yesterday}",
        )
        cronjob = cluster.get("cronjob", namespace, cronjob["metadata"]["name"])
        jobs = cluster.items("jobs", namespace)
        runs = cluster.items("archiveruns", namespace)
        events = [
            e
            for e in cluster.items("events", namespace)
            if e["involvedObject"].get("kind") == "ArchiveSchedule"
            and e.get("reason") == "CatchUpStarted"
        ]
        finished_at = datetime.now(UTC)
        archived = uids(caldav, archive)
    denied = forbidden_answers(real, OPERATOR_USERNAME)

    # The zone: the API server took the crafted directory's names, and only real ones.
    assert accepted.returncode == 0, accepted.stderr
    assert refused.returncode != 0 and "unknown time zone Archive/Nope" in refused.stderr, (
        refused.stderr
    )
    assert (cronjob["spec"]["timeZone"], cronjob["spec"]["schedule"]) == (zone.name, "0 2 * * *")
    # The controller read it: 03:01 daylight time came at the jump + 1 min, so stamped.
    assert control.get("status", {}).get("lastScheduleTime") == stamp(fired)
    (control_job,) = control_jobs
    wall = (fired + zone.dst).strftime("%Y-%m-%dT%H:%M:%S")
    assert control_job["metadata"]["annotations"][SCHEDULED_AT] == wall + rfc3339_offset(zone.dst)

    # Both existed before the jump; the real CronJob controller skipped 02:00 on day D.
    assert created < jump and parse_stamp(cronjob["metadata"]["creationTimestamp"]) < jump
    last = cronjob.get("status", {}).get("lastScheduleTime")
    assert last is None or parse_stamp(last) < jump, f"the CronJob fired at {last}"
    assert not [
        j["metadata"]["name"] for j in jobs if owned_by(j, "CronJob", cronjob["metadata"]["name"])
    ]

    # The operator: one catch-up run, for D-1, because 02:00 did not exist on D; it succeeded.
    assert name == f"{SCHEDULE}-catchup-{yesterday:%Y%m%d}"
    assert (run["spec"]["start"], run["spec"]["end"]) == ((yesterday.isoformat(),) * 2)
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert [r["metadata"]["name"] for r in runs] == [name], "runs besides the catch-up"
    # Not before it was due. One second of leeway: creationTimestamp is truncated to the second,
    # and the operator's cluster clock is read from the API server's Date header (cluster_clock),
    # which has one-second resolution too (a CI run saw the catch-up stamped at due - 1 s).
    created_at = parse_stamp(run["metadata"]["creationTimestamp"])
    assert created_at >= jump + START_GRACE - timedelta(seconds=1)
    assert len(events) == 1 and "NoScheduledTime" in events[0]["message"], events
    # The runner read D-1's edges in the crafted zone.
    assert archived == ["first", "last"]

    coverage = status["coverage"]
    assert coverage["since"] == yesterday.isoformat()
    assert coverage["coveredThrough"] == yesterday.isoformat()
    assert not coverage.get("gaps") and coverage.get("missingDays", 0) == 0, coverage
    healthy = condition(status, "Healthy")
    assert healthy.get("status") == "True", healthy
    assert not denied, f"the chart's RBAC refused the operator: {denied}"
    print(f"caught up {(finished_at - jump).total_seconds():.0f} s after the jump")
