"""The watches' hint (seen.py): which reads a handler-triggered reconcile may skip, and that
skipping never changes what the reconcile does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from archive_operator import constants as c
from archive_operator import seen
from archive_operator.reconciler import Reconciler
from archive_operator.settings import Settings

from .fake_kube import FakeKube
from .test_reconciler import NS, Clock, add, ready

READS = ("get_schedule", "list_cronjobs", "get_cronjob", "list_runs", "list_jobs", "list_pods")


class CountingKube(FakeKube):
    """FakeKube that also records its reads, by method name."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name in READS:
            object.__getattribute__(self, "reads").append(name)
        return object.__getattribute__(self, name)


class Indexes:
    """kopf's indexes as the reconciler sees them: mappings from (namespace, schedule) keys."""

    def __init__(self) -> None:
        self.maps: dict[str, dict[seen.Key, Any]] = {name: {} for name in seen.INDEXES}

    def show(self, index: str, namespace: str, schedule: str) -> None:
        self.maps[index][(namespace, schedule)] = [True]

    def hint(self) -> seen.Seen:
        return seen.Seen(self.maps)


@pytest.fixture
def kube() -> CountingKube:
    return CountingKube()


@pytest.fixture
def indexes() -> Indexes:
    return Indexes()


@pytest.fixture
def reconciler(kube: CountingKube, indexes: Indexes) -> Reconciler:
    settings = Settings(runner_image="runner:test")
    return Reconciler(kube, settings, Clock(), seen=indexes.hint())  # type: ignore[arg-type]


def test_keys_are_the_labels_and_the_run_reference() -> None:
    labels = {c.LABEL_SCHEDULE: "carol"}
    assert seen.workload_key("team-a", labels) == ("team-a", "carol")
    assert seen.workload_key("team-a", {}) is None
    assert seen.workload_key(None, labels) is None
    assert seen.run_key("team-a", {"scheduleRef": {"name": "carol"}}) == ("team-a", "carol")
    assert seen.run_key("team-a", {}) is None


def test_a_name_that_is_no_label_value_is_asked_by_its_label(indexes: Indexes) -> None:
    name = "x" * 70  # longer than a label value may be: labelled with a shortened form
    indexes.show(seen.CRONJOBS, NS, c.label_value(name))
    indexes.show(seen.RUNS, NS, name)  # runs are keyed by the schedule's own name
    hint = indexes.hint()
    assert hint.may_have_cronjobs(NS, name)
    assert hint.may_have_runs(NS, name)
    assert not hint.may_have_cronjobs("team-b", name)


@pytest.mark.parametrize("index", [seen.RUNS, seen.JOBS, seen.PODS])
def test_any_run_job_or_pod_means_runs_may_exist(indexes: Indexes, index: str) -> None:
    assert not indexes.hint().may_have_runs(NS, "carol")
    indexes.show(index, NS, "carol")
    assert indexes.hint().may_have_runs(NS, "carol")


def test_a_new_schedule_is_created_without_a_read(
    kube: CountingKube, reconciler: Reconciler
) -> None:
    body = add(kube, "carol")
    outcome = reconciler.reconcile_body(body)
    assert outcome is not None and outcome.ready
    assert kube.reads == []
    assert len(kube.cronjobs) == 3
    assert ready(kube, "carol")["status"] == "True"
    assert [w for w in kube.writes if w[0] == "patch-status"] == [("patch-status", "carol")]


def test_a_cronjob_the_watches_have_not_shown_is_found_by_the_post(
    kube: CountingKube, reconciler: Reconciler
) -> None:
    add(kube, "carol")
    # Made by an earlier reconcile; its watch event is still in flight.
    plain = Reconciler(kube, Settings(runner_image="runner:test"), Clock())  # type: ignore[arg-type]
    plain.reconcile_named(NS, "carol")
    body = kube.get_schedule(NS, "carol")
    kube.writes.clear()
    kube.reads.clear()
    before = copy.deepcopy(kube.cronjobs)
    outcome = reconciler.reconcile_body(body)
    assert outcome is not None and outcome.ready
    # Each POST answered 409; each CronJob was read and found as wanted: nothing written.
    assert kube.writes == []
    assert kube.cronjobs == before
    assert kube.reads == ["get_cronjob"] * 3


def test_a_stale_copy_is_read_again(kube: CountingKube, reconciler: Reconciler) -> None:
    body = add(kube, "carol")
    stale = copy.deepcopy(body)
    stale["metadata"]["resourceVersion"] = "7"  # the stored object is at another version
    outcome = reconciler.reconcile_body(stale)
    assert outcome is not None and outcome.ready
    assert "get_schedule" in kube.reads  # the 409 made it read the schedule again
    assert ready(kube, "carol")["status"] == "True"


def test_a_schedule_with_runs_is_read_fresh(
    kube: CountingKube, indexes: Indexes, reconciler: Reconciler
) -> None:
    body = add(kube, "carol")
    indexes.show(seen.RUNS, NS, "carol")
    reconciler.reconcile_body(body)
    assert kube.reads[0] == "get_schedule"
    assert {"list_runs", "list_jobs", "list_pods"} <= set(kube.reads)


def test_existing_cronjobs_are_listed(
    kube: CountingKube, indexes: Indexes, reconciler: Reconciler
) -> None:
    body = add(kube, "carol")
    reconciler.reconcile_body(body)
    indexes.show(seen.CRONJOBS, NS, "carol")
    kube.reads.clear()
    kube.writes.clear()
    reconciler.reconcile_body(kube.get_schedule(NS, "carol"))
    assert kube.reads == ["get_schedule", "list_cronjobs"]
    assert kube.writes == []  # nothing changed, nothing written


def test_the_resync_reads_everything(kube: CountingKube, reconciler: Reconciler) -> None:
    add(kube, "carol")
    reconciler.resync([NS])
    assert {"get_schedule", "list_cronjobs", "list_runs", "list_jobs", "list_pods"} <= set(
        kube.reads
    )
