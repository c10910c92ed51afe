"""The reconcile loop against an in-memory API: create, repair, delete, status, errors, no-op."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
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
