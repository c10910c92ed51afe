"""Pure reconcile decisions and drift detection."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from archive_operator.plan import contains, drifted, parse_quantity, plan_cronjobs

UID = "uid-1"


def cronjob(name: str, uid: str = UID, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"a": "b"},
            "ownerReferences": [{"kind": "ArchiveSchedule", "uid": uid, "controller": True}],
        },
        "spec": {"schedule": "0 0 * * *", "suspend": False, **spec},
    }


def test_plan_create_update_delete_unchanged() -> None:
    desired = [cronjob("a"), cronjob("b", schedule="5 0 * * *"), cronjob("c")]
    actual = [cronjob("b"), cronjob("c"), cronjob("old"), cronjob("foreign", uid="other")]
    actual[0]["metadata"]["resourceVersion"] = "7"
    plan = plan_cronjobs(desired, actual, UID)
    assert [m["metadata"]["name"] for m in plan.create] == ["a"]
    assert [m["metadata"]["name"] for m in plan.update] == ["b"]
    assert plan.update[0]["metadata"]["resourceVersion"] == "7"
    assert [m["metadata"]["name"] for m in plan.delete] == ["old"]
    assert plan.unchanged == ["c"]
    assert plan.writes == 3


def test_server_defaults_are_not_drift() -> None:
    desired = cronjob("a")
    actual = copy.deepcopy(desired)
    actual["spec"]["concurrencyPolicy"] = "Allow"  # not set by us: a default
    actual["metadata"]["labels"]["extra"] = "x"
    actual["metadata"]["managedFields"] = []
    assert not drifted(desired, actual)


def test_managed_optional_field_set_by_hand_is_drift() -> None:
    actual = cronjob("a", startingDeadlineSeconds=5)
    assert drifted(cronjob("a"), actual)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["spec"].update(suspend=True),
        lambda m: m["metadata"]["labels"].update(a="z"),
        lambda m: m["metadata"].update(ownerReferences=[]),
        lambda m: m["spec"].pop("schedule"),
    ],
)
def test_edits_are_drift(change: Any) -> None:
    actual = cronjob("a")
    change(actual)
    assert drifted(cronjob("a"), actual)


def test_quantities_compare_by_value() -> None:
    want = {"resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}
    have = {"resources": {"requests": {"cpu": "500m", "memory": "1024Mi"}}}
    assert contains(want, have)
    assert not contains(want, {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}})
    assert parse_quantity("128Mi") == 128 * 2**20
    assert parse_quantity("1e3") == 1000
    assert parse_quantity("banana") is None


def test_types_matter() -> None:
    assert not contains({"x": 1}, {"x": True})
    assert not contains({"x": [1, 2]}, {"x": [1]})
