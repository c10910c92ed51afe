"""The reconcile loop against an in-memory API: create, repair, delete, status, errors, no-op."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator import constants as c
from archive_operator.reconciler import Reconciler
from archive_operator.settings import Settings

from .fake_kube import FakeKube
from .test_render import example_schedules

NS = "team-a"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 20, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reconciler(kube: FakeKube, clock: Clock) -> Reconciler:
    return Reconciler(kube, Settings(runner_image="runner:test"), clock)  # type: ignore[arg-type]


def add(kube: FakeKube, name: str, **spec: Any) -> dict[str, Any]:
    doc = copy.deepcopy(next(d for d in example_schedules() if d["metadata"]["name"] == name))
    doc["metadata"]["namespace"] = NS
    doc["spec"].update(spec)
    ref = doc["spec"].get("credentialsSecretRef")
    if ref:  # the example's Secret, annotated as its user's (ownership.py)
        kube.add_credentials(NS, ref["name"], doc["spec"]["user"])
    return kube.add_schedule(doc)


def status(kube: FakeKube, name: str) -> dict[str, Any]:
    return dict(kube.schedules[(NS, name)].get("status", {}))


def ready(kube: FakeKube, name: str) -> dict[str, Any]:
    return next(c for c in status(kube, name)["conditions"] if c["type"] == "Ready")


def test_creates_cronjobs_and_reports_status(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "carol")
    outcome = reconciler.reconcile_named(NS, "carol")
    assert outcome is not None and outcome.ready
    assert sorted(name for _, name in kube.cronjobs) == [
        "carol-hourly",
        "carol-sunday-catch-up",
        "carol-weeknights",
    ]
    st = status(kube, "carol")
    assert st["observedGeneration"] == 1
    assert ready(kube, "carol")["status"] == "True"
    assert ready(kube, "carol")["reason"] == "Reconciled"
    assert [s["name"] for s in st["schedules"]] == ["weeknights", "sunday-catch-up", "hourly"]
    hourly = st["schedules"][2]
    # 12:00Z is 21:00 in Tokyo; the next hourly run is 13:00Z.
    assert hourly == {
        "name": "hourly",
        "cronJobName": "carol-hourly",
        "cron": "@hourly",
        "nextRunTime": "2026-03-20T13:00:00Z",
    }
    assert st["nextRunTime"] == "2026-03-20T13:00:00Z"
    assert st["schedulesSummary"].startswith("weeknights=cron 30 2 * * 1-5, sunday-catch-up=")
    assert {e["reason"] for e in kube.events} == {"CronJobCreated"}


def test_second_reconcile_writes_nothing(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "carol")
    reconciler.reconcile_named(NS, "carol")
    kube.writes.clear()
    outcome = reconciler.reconcile_named(NS, "carol")
    assert outcome is not None and outcome.writes == 0
    assert kube.writes == []


def test_status_advances_only_when_the_next_run_passed(
    kube: FakeKube, reconciler: Reconciler, clock: Clock
) -> None:
    add(kube, "alice")
    reconciler.reconcile_named(NS, "alice")
    transition = ready(kube, "alice")["lastTransitionTime"]
    kube.writes.clear()
    clock.now += timedelta(hours=1)
    reconciler.reconcile_named(NS, "alice")
    assert kube.writes == []
    clock.now += timedelta(days=1)
    reconciler.reconcile_named(NS, "alice")
    assert kube.writes == [("patch-status", "alice")]
    assert ready(kube, "alice")["lastTransitionTime"] == transition


def test_edited_time_updates_the_cronjob(kube: FakeKube, reconciler: Reconciler) -> None:
    body = add(kube, "alice")
    reconciler.reconcile_named(NS, "alice")
    body["spec"]["schedules"][0]["daily"]["at"] = "06:30"
    body["metadata"]["generation"] = 2
    kube.schedules[(NS, "alice")]["spec"] = body["spec"]
    kube.schedules[(NS, "alice")]["metadata"]["generation"] = 2
    kube.writes.clear()
    reconciler.reconcile_named(NS, "alice")
    assert ("replace", "alice-nightly") in kube.writes
    assert kube.cronjobs[(NS, "alice-nightly")]["spec"]["schedule"] == "30 6 * * *"
    assert status(kube, "alice")["observedGeneration"] == 2


def test_hand_edit_is_repaired_and_server_defaults_are_not_drift(
    kube: FakeKube, reconciler: Reconciler
) -> None:
    add(kube, "alice")
    reconciler.reconcile_named(NS, "alice")
    kube.cronjobs[(NS, "alice-nightly")]["spec"]["suspend"] = True
    kube.writes.clear()
    reconciler.reconcile_named(NS, "alice")
    assert kube.writes == [("replace", "alice-nightly"), ("event", "CronJobUpdated")]
    assert kube.cronjobs[(NS, "alice-nightly")]["spec"]["suspend"] is False


def test_removed_entry_is_deleted(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "carol")
    reconciler.reconcile_named(NS, "carol")
    schedules = kube.schedules[(NS, "carol")]["spec"]["schedules"]
    kube.schedules[(NS, "carol")]["spec"]["schedules"] = schedules[:1]
    reconciler.reconcile_named(NS, "carol")
    assert [name for _, name in kube.cronjobs] == ["carol-weeknights"]
    assert [s["name"] for s in status(kube, "carol")["schedules"]] == ["weeknights"]


def test_unknown_time_zone_is_ready_false_once(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice", timeZone="Mars/Olympus_Mons")
    outcome = reconciler.reconcile_named(NS, "alice")
    assert outcome is not None and not outcome.ready
    condition = ready(kube, "alice")
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidTimeZone"
    assert "spec.timeZone: 'Mars/Olympus_Mons'" in condition["message"]
    assert "Europe/London" in condition["message"]
    assert kube.cronjobs == {}
    assert [(e["type"], e["reason"]) for e in kube.events] == [("Warning", "InvalidTimeZone")]
    kube.writes.clear()
    reconciler.reconcile_named(NS, "alice")  # no retry storm, no repeated event
    assert kube.writes == []


def test_recovery_after_fix(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice", schedules=[{"name": "bad", "cron": "0 0 * * 7"}])
    reconciler.reconcile_named(NS, "alice")
    assert ready(kube, "alice")["reason"] == "InvalidSchedule"
    assert "spec.schedules[0].cron" in ready(kube, "alice")["message"]
    kube.schedules[(NS, "alice")]["spec"]["schedules"] = [{"name": "ok", "cron": "0 0 * * 6"}]
    reconciler.reconcile_named(NS, "alice")
    assert ready(kube, "alice")["status"] == "True"
    assert kube.events[-1]["reason"] == "Ready"


def test_name_conflict_with_a_foreign_cronjob(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice")
    kube.cronjobs[(NS, "alice-nightly")] = {"metadata": {"name": "alice-nightly"}, "spec": {}}
    reconciler.reconcile_named(NS, "alice")
    condition = ready(kube, "alice")
    assert (condition["status"], condition["reason"]) == ("False", "CronJobNameConflict")
    assert kube.cronjobs[(NS, "alice-nightly")]["spec"] == {}  # not taken over


def test_rejected_cronjob_is_reported(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice")
    kube.reject_cronjobs = True
    reconciler.reconcile_named(NS, "alice")
    condition = ready(kube, "alice")
    assert (condition["status"], condition["reason"]) == ("False", "CronJobRejected")


def test_suspend_suspends_and_clears_next_run(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice")
    reconciler.reconcile_named(NS, "alice")
    assert "nextRunTime" in status(kube, "alice")
    kube.schedules[(NS, "alice")]["spec"]["suspend"] = True
    reconciler.reconcile_named(NS, "alice")
    assert kube.cronjobs[(NS, "alice-nightly")]["spec"]["suspend"] is True
    assert "nextRunTime" not in status(kube, "alice")
    assert "(suspended)" in ready(kube, "alice")["message"]


def test_other_conditions_are_kept(kube: FakeKube, reconciler: Reconciler) -> None:
    body = add(kube, "alice")
    healthy = {
        "type": "Healthy",
        "status": "True",
        "reason": "RunsSucceed",
        "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    kube.schedules[(NS, "alice")]["status"] = {"conditions": [healthy]}
    assert body
    reconciler.reconcile_named(NS, "alice")
    types = [c["type"] for c in status(kube, "alice")["conditions"]]
    assert types == ["Healthy", "Ready"]


def test_deleted_or_deleting_schedules_are_left_alone(
    kube: FakeKube, reconciler: Reconciler
) -> None:
    assert reconciler.reconcile_named(NS, "nobody") is None
    add(kube, "alice")
    kube.schedules[(NS, "alice")]["metadata"]["deletionTimestamp"] = "2026-03-20T12:00:00Z"
    assert reconciler.reconcile_named(NS, "alice") is None
    assert kube.writes == []


def test_resync_covers_every_schedule(kube: FakeKube, reconciler: Reconciler) -> None:
    add(kube, "alice")
    add(kube, "bob")
    reconciler.resync([])
    assert {name for _, name in kube.cronjobs} == {"alice-nightly", "bob-twice-weekly"}


# --- whose credentials (ownership.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "reason", "fragment"),
    [
        (
            "bob@example.com",
            "CredentialsNotOwned",
            "spec.credentialsSecretRef.name: Secret 'alice-calendar' belongs to user "
            "'bob@example.com' (archive.auriora.io/user), not to 'alice'",
        ),
        (
            None,
            "CredentialsNotOwned",
            "has no annotation archive.auriora.io/user, so it cannot be shown to belong to user "
            "'alice'; if it holds alice's credentials, mark it: kubectl annotate secret "
            "alice-calendar archive.auriora.io/user=alice --overwrite",
        ),
        ("missing", "CredentialsSecretNotFound", "does not exist in namespace 'team-a'"),
    ],
)
def test_a_schedule_may_use_only_its_own_users_secret(
    kube: FakeKube, reconciler: Reconciler, owner: str | None, reason: str, fragment: str
) -> None:
    add(kube, "alice")
    kube.secret_meta.pop((NS, "alice-calendar"))
    if owner != "missing":
        kube.add_credentials(NS, "alice-calendar", owner)
    outcome = reconciler.reconcile_named(NS, "alice")

    assert outcome is not None and not outcome.ready
    condition = ready(kube, "alice")
    assert (condition["status"], condition["reason"]) == ("False", reason)
    assert fragment in condition["message"]
    assert kube.cronjobs == {}  # nothing that would mount the Secret
    assert [e["reason"] for e in kube.events] == [reason]

    # Once the Secret is alice's, the schedule is Ready and its CronJob made.
    kube.add_credentials(NS, "alice-calendar", "alice")
    outcome = reconciler.reconcile_named(NS, "alice")
    assert outcome is not None and outcome.ready
    assert list(kube.cronjobs) == [(NS, "alice-nightly")]


def test_a_schedule_turned_to_another_users_secret_keeps_its_cronjob_as_it_was(
    kube: FakeKube, reconciler: Reconciler
) -> None:
    add(kube, "alice")
    reconciler.reconcile_named(NS, "alice")
    before = copy.deepcopy(kube.cronjobs[(NS, "alice-nightly")])
    kube.add_credentials(NS, "bob-calendar", "bob@example.com")
    body = kube.schedules[(NS, "alice")]
    body["spec"]["credentialsSecretRef"] = {"name": "bob-calendar"}
    body["spec"]["source"] = {"caldav": {"url": "https://evil.example.com/collect/"}}
    body["metadata"]["generation"] = 2
    reconciler.reconcile_named(NS, "alice")

    assert ready(kube, "alice")["reason"] == "CredentialsNotOwned"
    assert kube.cronjobs[(NS, "alice-nightly")] == before  # still alice's Secret and source


# --- whose runs (issue 18 item 3) -------------------------------------------------------------


def run_body(name: str, schedule: str, created: datetime) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.RUN_KIND,
        "metadata": {
            "name": name,
            "namespace": NS,
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {"scheduleRef": {"name": schedule}, "start": "2026-03-01", "end": "2026-03-01"},
    }


def test_a_run_made_before_its_schedule_existed_never_starts(
    kube: FakeKube, reconciler: Reconciler, clock: Clock
) -> None:
    """The attack: a run naming a schedule bob is about to create, admitted because no such
    schedule existed (the ownership policy had nothing to check it against)."""
    kube.add_run(run_body("grab", "bob", clock.now - timedelta(seconds=30)))
    reconciler.reconcile_named(NS, "bob")
    pending = kube.runs[(NS, "grab")]["status"]
    assert (pending["phase"], pending["reason"]) == ("Pending", "ScheduleNotFound")

    schedule = add(kube, "bob")  # bob's schedule, created now (after the run)
    schedule["metadata"]["creationTimestamp"] = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    reconciler.reconcile_named(NS, "bob")

    status = kube.runs[(NS, "grab")]["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "RunPredatesSchedule")
    assert "before ArchiveSchedule 'bob' existed" in status["message"]
    assert not [job for job in kube.jobs.values() if job["metadata"]["name"].startswith("grab")]


def test_a_run_whose_schedule_never_comes_fails_after_the_grace(
    kube: FakeKube, clock: Clock
) -> None:
    rechecks: list[tuple[str, str, float]] = []
    reconciler = Reconciler(
        kube,  # type: ignore[arg-type]
        Settings(runner_image="runner:test"),
        clock,
        recheck=lambda ns, name, delay: rechecks.append((ns, name, delay)),
    )
    kube.add_run(run_body("lost", "nobody", clock.now))
    reconciler.reconcile_named(NS, "nobody")
    status = kube.runs[(NS, "lost")]["status"]
    assert (status["phase"], status["reason"]) == ("Pending", "ScheduleNotFound")
    assert status["message"].endswith("unless that schedule exists by 2026-03-20T12:02:00Z")
    assert rechecks == [(NS, "nobody", 121.0)]  # the grace, 120 s, plus a second

    clock.now += timedelta(minutes=2)
    reconciler.reconcile_named(NS, "nobody")  # the recheck
    status = kube.runs[(NS, "lost")]["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ScheduleNotFound")
    assert status["completionTime"] == "2026-03-20T12:02:00Z"
    assert [e["reason"] for e in kube.events] == ["ScheduleNotFound", "ScheduleNotFound"]


def test_a_schedule_from_before_coverage_is_tracked_from_today(
    kube: FakeKube, reconciler: Reconciler
) -> None:
    """An operator upgrade must not start a catch-up of every day of every old schedule."""
    body = add(kube, "alice")
    body["metadata"]["creationTimestamp"] = "2025-03-20T12:00:00Z"  # a year before the clock
    body["status"] = {"observedGeneration": 1}  # reconciled by an operator without coverage
    reconciler.reconcile_named(NS, "alice")

    coverage = status(kube, "alice")["coverage"]
    # 2026-03-20 12:00 UTC is 12:00 GMT in London: today is the 20th, yesterday the 19th.
    assert (coverage["since"], coverage["coveredThrough"]) == ("2026-03-20", "2026-03-19")
    assert kube.runs == {}


def test_a_new_schedule_owes_from_its_creation(kube: FakeKube, reconciler: Reconciler) -> None:
    body = add(kube, "alice")
    body["metadata"]["creationTimestamp"] = "2026-03-18T12:00:00Z"
    reconciler.reconcile_named(NS, "alice")
    # alice: daily 23:59 London, the run's own day; created the 18th at noon, so the runs of
    # the 18th and 19th owe those days, due 00:04 the next day, and none ran: one catch-up.
    (run,) = kube.runs.values()
    assert run["spec"]["trigger"] == "catchup"
    assert (run["spec"]["start"], run["spec"]["end"]) == ("2026-03-18", "2026-03-19")
    assert status(kube, "alice")["coverage"]["since"] == "2026-03-18"
