"""Missed scheduled times through the reconcile loop, against the in-memory API: Skipped
records, Events, status counters, Healthy, metrics — once, whatever is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator import constants as c
from archive_operator import seen
from archive_operator.reconciler import Reconciler
from archive_operator.runs import NoObserver
from archive_operator.settings import Settings
from archive_runner.contract import scheduled_job_name

from .fake_kube import FakeKube

NS = "team-a"
CJ = "alice-nightly"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # London is on UTC until 29 March


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Counting(NoObserver):
    def __init__(self) -> None:
        self.missed_counts: list[tuple[str, str, int]] = []

    def missed(self, namespace: str, schedule: str, reason: str, count: int) -> None:
        self.missed_counts.append((schedule, reason, count))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kube(clock: Clock) -> FakeKube:
    kube = FakeKube()
    kube.now = clock.now
    return kube


@pytest.fixture
def observer() -> Counting:
    return Counting()


@pytest.fixture
def reconciler(kube: FakeKube, clock: Clock, observer: Counting) -> Reconciler:
    return Reconciler(kube, Settings(runner_image="runner:test"), clock, observer=observer)  # type: ignore[arg-type]


def add_schedule(kube: FakeKube, **spec: Any) -> None:
    kube.add_schedule(
        {
            "apiVersion": c.API_VERSION,
            "kind": c.SCHEDULE_KIND,
            "metadata": {"name": "alice", "namespace": NS},
            "spec": {
                "user": "alice",
                "timeZone": "Europe/London",
                "schedules": [{"name": "nightly", "daily": {"at": "23:59"}}],
                "source": {"caldav": {"url": "https://cal/alice/work/"}},
                "destination": {"caldav": {"url": "https://cal/alice/archive/"}},
                **spec,
            },
        }
    )


def nightly(day: int) -> datetime:
    return datetime(2026, 3, day, 23, 59, tzinfo=UTC)


def name_of(moment: datetime) -> str:
    return scheduled_job_name(CJ, moment)


def status(kube: FakeKube) -> dict[str, Any]:
    return dict(kube.schedules[(NS, "alice")].get("status", {}))


def condition(kube: FakeKube, type_: str) -> dict[str, Any]:
    return next(x for x in status(kube)["conditions"] if x["type"] == type_)


def add_cronjob_job(kube: FakeKube, moment: datetime, *, finished: bool = False) -> None:
    """A Job the CronJob started for ``moment`` (the CronJob controller's name and labels)."""
    cronjob = kube.cronjobs[(NS, CJ)]
    job_status: dict[str, Any] = {"startTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if finished:
        job_status["conditions"] = [{"type": "Complete", "status": "True"}]
        job_status["completionTime"] = (moment + timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    kube.add_job(
        {
            "metadata": {
                "name": name_of(moment),
                "namespace": NS,
                "creationTimestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "labels": cronjob["spec"]["jobTemplate"]["metadata"]["labels"],
                "annotations": {c.ANNOTATION_CRONJOB_SCHEDULED: moment.isoformat()},
                "ownerReferences": [
                    {"kind": "CronJob", "uid": cronjob["metadata"]["uid"], "controller": True}
                ],
            },
            "spec": {},
            "status": job_status,
        }
    )
    cronjob.setdefault("status", {})["lastScheduleTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_time_past_its_starting_deadline_becomes_one_skipped_run(
    kube: FakeKube, clock: Clock, reconciler: Reconciler, observer: Counting
) -> None:
    add_schedule(kube, startingDeadlineSeconds=300)
    reconciler.reconcile_named(NS, "alice")
    assert status(kube)["schedules"][0]["lastCheckedTime"] == "2026-03-10T12:00:00Z"
    assert "missedRuns" not in status(kube)

    clock.now = nightly(10) + timedelta(minutes=10)  # nobody started it, the deadline passed
    reconciler.reconcile_named(NS, "alice")

    run = kube.runs[(NS, name_of(nightly(10)))]
    assert run["spec"] == {
        "scheduleRef": {"name": "alice"},
        "start": "2026-03-10",
        "end": "2026-03-10",
        "trigger": "scheduled",
        "dryRun": False,
    }
    assert run["metadata"]["labels"][c.LABEL_ENTRY] == "nightly"
    assert run["status"]["phase"] == "Skipped"
    assert run["status"]["reason"] == "MissedStartingDeadline"
    assert "startingDeadlineSeconds (300s)" in run["status"]["message"]
    assert "no other run archives get a catch-up run (status.coverage)" in run["status"]["message"]
    skipped = [e for e in kube.events if e["reason"] == "RunSkipped"]
    assert [(e["type"], e["kind"]) for e in skipped] == [
        ("Warning", "ArchiveRun"),
        ("Warning", "ArchiveSchedule"),
    ]
    s = status(kube)
    assert (s["missedRuns"], s["lastMissedTime"], s["consecutiveMissed"]) == (
        1,
        "2026-03-10T23:59:00Z",
        1,
    )
    assert s["schedules"][0]["lastCheckedTime"] == "2026-03-10T23:59:00Z"
    assert "lastScheduleTime" not in s  # no Job started
    assert not s.get("consecutiveFailures")  # skipped is not failed
    assert s["lastRun"]["phase"] == "Skipped"
    assert observer.missed_counts == [("alice", "MissedStartingDeadline", 1)]

    # Retried reconciles and resyncs: nothing more.
    kube.writes.clear()
    clock.now += timedelta(minutes=5)
    reconciler.reconcile_named(NS, "alice")
    reconciler.reconcile_named(NS, "alice")
    assert kube.writes == []
    assert observer.missed_counts == [("alice", "MissedStartingDeadline", 1)]


def test_a_lost_status_write_makes_no_second_record_and_counts_once(
    kube: FakeKube, clock: Clock, reconciler: Reconciler
) -> None:
    add_schedule(kube, startingDeadlineSeconds=300)
    reconciler.reconcile_named(NS, "alice")
    before = status(kube)
    clock.now = nightly(10) + timedelta(minutes=10)
    reconciler.reconcile_named(NS, "alice")
    kube.schedules[(NS, "alice")]["status"] = before  # as if the status patch never landed

    reconciler.reconcile_named(NS, "alice")

    assert [w for w in kube.writes if w[0] == "create-run"] == [
        ("create-run", name_of(nightly(10)))
    ]
    assert status(kube)["missedRuns"] == 1


def test_three_missed_days_make_the_schedule_unhealthy_until_a_run_starts(
    kube: FakeKube, clock: Clock, reconciler: Reconciler
) -> None:
    add_schedule(kube, startingDeadlineSeconds=300)
    reconciler.reconcile_named(NS, "alice")
    clock.now = nightly(12) + timedelta(minutes=10)  # e.g. the controller was down three days
    reconciler.reconcile_named(NS, "alice")

    assert sorted(n for (_, n) in kube.runs) == [name_of(nightly(d)) for d in (10, 11, 12)]
    assert status(kube)["consecutiveMissed"] == 3
    healthy = condition(kube, "Healthy")
    assert (healthy["status"], healthy["reason"]) == ("False", "MissingRuns")
    assert "3 scheduled runs in a row were not started" in healthy["message"]

    clock.now = nightly(13) + timedelta(seconds=5)
    add_cronjob_job(kube, nightly(13))  # the CronJob starts again
    reconciler.reconcile_named(NS, "alice")

    s = status(kube)
    assert (s["missedRuns"], s["consecutiveMissed"]) == (3, 0)
    assert s["lastScheduleTime"] == "2026-03-13T23:59:00Z"
    assert condition(kube, "Healthy")["reason"] != "MissingRuns"


def test_forbid_with_the_previous_run_still_active_is_the_reason(
    kube: FakeKube, clock: Clock, reconciler: Reconciler
) -> None:
    add_schedule(kube)  # Forbid by default, no deadline
    reconciler.reconcile_named(NS, "alice")
    clock.now = nightly(10) + timedelta(seconds=5)
    add_cronjob_job(kube, nightly(10))  # runs for more than a day
    reconciler.reconcile_named(NS, "alice")
    assert kube.runs[(NS, name_of(nightly(10)))]["status"]["phase"] == "Running"

    # The 11th: JobAlreadyActive. The 12th: the first Job is done, the CronJob starts again.
    clock.now = nightly(12) + timedelta(seconds=5)
    job = kube.jobs[(NS, name_of(nightly(10)))]
    job["status"]["conditions"] = [{"type": "Complete", "status": "True"}]
    job["status"]["completionTime"] = "2026-03-12T01:00:00Z"
    add_cronjob_job(kube, nightly(12))
    reconciler.reconcile_named(NS, "alice")

    skipped = kube.runs[(NS, name_of(nightly(11)))]["status"]
    assert (skipped["phase"], skipped["reason"]) == ("Skipped", "ConcurrentRunActive")
    assert name_of(nightly(10)) in skipped["message"]
    assert kube.runs[(NS, name_of(nightly(12)))]["status"]["phase"] == "Running"
    assert status(kube)["consecutiveMissed"] == 0  # a later run started


def test_too_many_missed_times_are_bounded_by_the_history_and_announced(
    kube: FakeKube, clock: Clock, reconciler: Reconciler, observer: Counting
) -> None:
    add_schedule(
        kube,
        schedules=[{"name": "nightly", "cron": "*/10 * * * *"}],
        history={"successfulRuns": 3, "failedRuns": 4},
    )
    reconciler.reconcile_named(NS, "alice")
    clock.now = START + timedelta(days=3)  # the operator was down: 432 times, none started
    reconciler.reconcile_named(NS, "alice")

    records = sorted(n for (_, n) in kube.runs)
    assert len(records) == 4  # spec.history.failedRuns
    announced = [e["message"] for e in kube.events if e["reason"] == "TooManyMissedTimes"]
    assert len(announced) == 1
    assert announced[0].startswith(
        "entry nightly: 430 scheduled times from 2026-03-10T12:10:00Z to 2026-03-13T11:40:00Z"
    )
    assert status(kube)["missedRuns"] == 430  # the last two may still start
    assert observer.missed_counts == [("alice", "MissedSchedule", 430)]


def test_a_suspended_schedule_misses_nothing(
    kube: FakeKube, clock: Clock, reconciler: Reconciler
) -> None:
    add_schedule(kube, startingDeadlineSeconds=300)
    reconciler.reconcile_named(NS, "alice")
    kube.schedules[(NS, "alice")]["spec"]["suspend"] = True
    reconciler.reconcile_named(NS, "alice")
    clock.now = nightly(13) + timedelta(hours=1)
    reconciler.reconcile_named(NS, "alice")
    kube.schedules[(NS, "alice")]["spec"]["suspend"] = False
    reconciler.reconcile_named(NS, "alice")

    assert kube.runs == {}
    assert "missedRuns" not in status(kube)
    assert status(kube)["schedules"][0]["lastCheckedTime"] == "2026-03-13T23:59:00Z"


def test_a_late_job_takes_over_the_record_of_its_time(
    kube: FakeKube, clock: Clock, reconciler: Reconciler
) -> None:
    add_schedule(kube, startingDeadlineSeconds=300)
    reconciler.reconcile_named(NS, "alice")
    clock.now = nightly(10) + timedelta(minutes=10)
    reconciler.reconcile_named(NS, "alice")
    assert kube.runs[(NS, name_of(nightly(10)))]["status"]["phase"] == "Skipped"

    add_cronjob_job(kube, nightly(10))  # e.g. the controller's clock was far behind
    reconciler.reconcile_named(NS, "alice")

    run = kube.runs[(NS, name_of(nightly(10)))]
    assert run["status"]["phase"] == "Running"
    assert "completionTime" not in run["status"]
    assert [n for (_, n) in kube.runs] == [name_of(nightly(10))]  # still one record


def test_one_reconcile_reads_once_records_a_job_and_follows_it(
    kube: FakeKube, clock: Clock, reconciler: Reconciler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observe → decide → act: the record of a Job the CronJob started is created and already
    Running after the same reconcile, from one read of the runs (nothing re-read)."""
    add_schedule(kube)
    reconciler.reconcile_named(NS, "alice")
    clock.now = nightly(10) + timedelta(seconds=5)
    add_cronjob_job(kube, nightly(10))
    reads: list[str] = []
    real_list_runs = kube.list_runs

    def counted(namespace: str) -> Any:
        reads.append(namespace)
        return real_list_runs(namespace)

    monkeypatch.setattr(kube, "list_runs", counted)
    reconciler.reconcile_named(NS, "alice")

    assert reads == [NS]
    record = kube.runs[(NS, name_of(nightly(10)))]
    assert record["spec"]["trigger"] == "scheduled"
    assert record["status"]["phase"] == "Running"
    # Local day of 2026-03-10 23:59 UTC in London (GMT) is the 10th; the window is that day.
    assert (record["spec"]["start"], record["spec"]["end"]) == ("2026-03-10", "2026-03-10")


class ClockTaughtByAnswers(FakeKube):
    """The operator's clock learns the cluster's time from answers' Date headers only
    (cluster_clock.py): here, until a CronJob request is answered, ``clock`` still reads
    what the last answer before said."""

    def __init__(self, clock: Clock, cluster_now: datetime) -> None:
        super().__init__()
        self.clock, self.cluster_now = clock, cluster_now

    def list_cronjobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.clock.now = self.cluster_now
        return super().list_cronjobs(namespace, selector)

    def create_cronjob(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.clock.now = self.cluster_now
        return super().create_cronjob(manifest)


def test_a_new_schedule_is_judged_at_the_time_of_the_reconciles_answers(
    clock: Clock, observer: Counting
) -> None:
    """The cluster's clock was set back 30 days after the operator's last answer (a test's
    sandbox; a stepped clock): a new schedule, reconciled from kopf's copy with no read first,
    must not be judged at the old time, which would count 30 nights as missed (Skipped runs)
    and start a catch-up of days still to come. Failed before the time was read after the
    CronJob requests (the e2e spring-forward test, when its operator had idled)."""
    clock.now = START + timedelta(days=30)  # the operator's last answer
    kube = ClockTaughtByAnswers(clock, cluster_now=START + timedelta(minutes=1))
    kube.now = START  # the schedule's creationTimestamp: the cluster's time, set back
    add_schedule(kube)
    reconciler = Reconciler(
        kube,  # type: ignore[arg-type]
        Settings(runner_image="runner:test"),
        clock,
        observer=observer,
        seen=seen.Seen(),  # kopf's watches showed no run: kopf's copy is used as it is
    )

    outcome = reconciler.reconcile_body(kube.schedules[(NS, "alice")])

    assert outcome is not None and outcome.ready
    assert kube.runs == {}  # no Skipped run, no catch-up
    assert "missedRuns" not in status(kube)
