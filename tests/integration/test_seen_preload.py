"""The start-up listing behind the reconcile's hint (seen.py), against the sandbox: paged, scoped,
and filtered as the operator needs it."""

from __future__ import annotations

from typing import Any

import pytest
from archive_operator import constants as c
from archive_operator import kube as kube_module
from archive_operator.errors import Transient
from archive_operator.handlers.startup import load_seen
from archive_operator.kube import Kube

pytestmark = pytest.mark.usefixtures("crds")


def _pod(namespace: str, name: str, schedule: str, managed: bool = True) -> dict[str, Any]:
    labels = {c.LABEL_SCHEDULE: schedule}
    if managed:
        labels[c.LABEL_MANAGED_BY] = c.OPERATOR_NAME
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "none:0"}]},
    }


def _run(namespace: str, name: str, schedule: str) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.RUN_KIND,
        "metadata": {"name": name, "namespace": namespace},  # made by hand: no labels
        "spec": {"scheduleRef": {"name": schedule}, "start": "2026-03-01", "end": "2026-03-02"},
    }


def test_objects_are_listed_page_by_page(
    kube: Kube, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        kube.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods", body=_pod(namespace, f"p{i}", "a")
        )
    monkeypatch.setattr(kube_module, "PAGE_SIZE", 2)
    calls: list[Any] = []
    original = kube.request

    def counting(method: str, path: str, **kwargs: Any) -> Any:
        calls.append(dict(kwargs.get("query", ())))
        return original(method, path, **kwargs)

    monkeypatch.setattr(kube, "request", counting)
    names = [p["metadata"]["name"] for p in kube.iter_objects("pods", namespace)]
    assert sorted(names) == [f"p{i}" for i in range(5)]
    assert len(calls) == 3  # 2 + 2 + 1
    assert all(q["limit"] == "2" for q in calls)
    assert "continue" not in calls[0] and all("continue" in q for q in calls[1:])


def test_load_seen_sees_managed_workloads_and_every_run(
    kube: Kube, sandbox: Any, namespace: str
) -> None:
    other = sandbox.create_namespace(f"{namespace}-other")
    try:
        pods = f"/api/v1/namespaces/{namespace}/pods"
        kube.request("POST", pods, body=_pod(namespace, "ours", "carol"))
        kube.request("POST", pods, body=_pod(namespace, "foreign", "dave", managed=False))
        runs = f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{namespace}/{c.RUN_PLURAL}"
        kube.request("POST", runs, body=_run(namespace, "by-hand", "erin"))
        out_of_scope = f"/api/v1/namespaces/{other}/pods"
        kube.request("POST", out_of_scope, body=_pod(other, "elsewhere", "frank"))

        seen = load_seen(kube, [namespace])
        assert seen is not None
        assert seen.may_have_runs(namespace, "carol")
        assert not seen.may_have_runs(namespace, "dave")  # not labelled as the operator's
        assert seen.may_have_runs(namespace, "erin")  # a run without labels, by its reference
        assert not seen.may_have_runs(other, "frank")  # outside the operator's namespaces
        everywhere = load_seen(kube, [])  # cluster-wide
        assert everywhere is not None and everywhere.may_have_runs(other, "frank")
    finally:
        sandbox.delete_namespace(other)


def test_load_seen_gives_up_quietly_when_it_cannot_list(
    kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_: Any, **__: Any) -> Any:
        raise Transient("GET /api/v1/pods: 503 ServiceUnavailable")

    monkeypatch.setattr(kube, "request", failing)
    assert load_seen(kube, ["anywhere"]) is None  # and so every reconcile reads everything
