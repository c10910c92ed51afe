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
    """Shows objects to a Seen the way the handlers do, one event at a time."""

    def __init__(self) -> None:
        self.seen = seen.Seen()

    def show(self, kind: str, namespace: str, schedule: str, name: str = "obj") -> None:
        self.seen.observe(kind, "ADDED", _body(kind, namespace, schedule, name))

    def hint(self) -> seen.Seen:
        return self.seen


def _body(kind: str, namespace: str, schedule: str, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": namespace, "name": name}
    if kind == seen.RUNS:
        return {"metadata": meta, "spec": {"scheduleRef": {"name": schedule}}}
    meta["labels"] = {c.LABEL_SCHEDULE: schedule}
    return {"metadata": meta}


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


def test_keys_are_the_label_or_the_run_reference() -> None:
    labelled = _body(seen.JOBS, "team-a", "carol", "j")
    assert seen.key_of(seen.JOBS, labelled) == ("team-a", "carol")
    assert seen.key_of(seen.PODS, {"metadata": {"namespace": "team-a", "name": "p"}}) is None
    run = _body(seen.RUNS, "team-a", "carol", "r")
    assert seen.key_of(seen.RUNS, run) == ("team-a", "carol")
    assert seen.key_of(seen.RUNS, {"metadata": {"namespace": "team-a"}, "spec": {}}) is None


def test_a_name_that_is_no_label_value_is_asked_by_its_label(indexes: Indexes) -> None:
    name = "x" * 70  # longer than a label value may be: labelled with a shortened form
    indexes.show(seen.CRONJOBS, NS, c.label_value(name))
    indexes.show(seen.RUNS, NS, name)  # runs are keyed by the schedule's own name
    hint = indexes.hint()
    assert hint.may_have_cronjobs(NS, name)
    assert hint.may_have_runs(NS, name)
    assert not hint.may_have_cronjobs("team-b", name)


def test_objects_are_counted_until_the_last_is_deleted(indexes: Indexes) -> None:
    hint = indexes.hint()
    indexes.show(seen.CRONJOBS, NS, "carol", "carol-a")
    indexes.show(seen.CRONJOBS, NS, "carol", "carol-b")
    hint.observe(seen.CRONJOBS, "DELETED", _body(seen.CRONJOBS, NS, "carol", "carol-a"))
    assert hint.may_have_cronjobs(NS, "carol")
    hint.observe(seen.CRONJOBS, "DELETED", _body(seen.CRONJOBS, NS, "carol", "carol-b"))
    assert not hint.may_have_cronjobs(NS, "carol")


def test_a_relabelled_object_moves_to_its_new_schedule(indexes: Indexes) -> None:
    hint = indexes.hint()
    indexes.show(seen.JOBS, NS, "carol", "job-1")
    indexes.show(seen.JOBS, NS, "dave", "job-1")  # MODIFIED: same object, other label
    assert not hint.may_have_runs(NS, "carol")
    assert hint.may_have_runs(NS, "dave")


def test_preload_counts_what_was_listed() -> None:
    hint = seen.Seen()
    hint.preload(seen.PODS, [_body(seen.PODS, NS, "carol", f"p{i}") for i in range(3)])
    assert hint.may_have_runs(NS, "carol")
    assert not hint.may_have_runs(NS, "dave")


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
