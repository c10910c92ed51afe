"""Copy-avoidance on the write path never lets a caller reach stored state, nor the reverse."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
import yaml
from archive_sandbox.copies import deep_copy
from archive_sandbox.errors import ApiError
from archive_sandbox.patch import merge_patch
from archive_sandbox.schema import CRDSchema
from archive_sandbox.store import Store
from archive_sandbox.watchstream import EventLines

from .conftest import CRD_FILE


def test_deep_copy_shares_nothing() -> None:
    original = {"a": [1, {"b": "c"}], "d": {"e": None, "f": 1.5}, "t": (1, 2)}
    copied = deep_copy(original)
    assert copied == original
    copied["a"][1]["b"] = "changed"
    copied["d"]["e"] = 1
    assert original == {"a": [1, {"b": "c"}], "d": {"e": None, "f": 1.5}, "t": (1, 2)}
    assert isinstance(copied["t"], tuple)


def test_deep_copy_falls_back_for_values_pickle_refuses() -> None:
    def fn() -> int:
        return 1

    original = {"hook": fn, "items": [{"x": 1}]}
    copied = deep_copy(original)
    assert copied["hook"] is fn
    copied["items"][0]["x"] = 2
    assert original["items"][0]["x"] == 1


def test_merge_patch_copies_on_write() -> None:
    target = {"spec": {"a": {"deep": [1]}, "b": 1}, "status": {"x": {"y": 1}}}
    before = copy.deepcopy(target)
    patch = {"spec": {"b": 2, "c": {"new": [1]}}}
    result = merge_patch(target, patch)
    assert result == {
        "spec": {"a": {"deep": [1]}, "b": 2, "c": {"new": [1]}},
        "status": target["status"],
    }
    assert target == before
    assert result["status"] is target["status"], "untouched values are shared, not copied"
    patch["spec"]["c"]["new"].append(2)
    assert result["spec"]["c"] == {"new": [1]}, "the patch's values are copied"


def test_prune_and_defaults_share_what_they_do_not_change() -> None:
    schema = CRDSchema.from_crd(next(yaml.safe_load_all(CRD_FILE.read_text())), "v1")
    clean = {
        "apiVersion": "v",
        "kind": "Widget",
        "metadata": {},
        "spec": {"size": 1, "color": "red"},
    }
    assert schema.prune(clean) == (clean, [])
    assert schema.prune(clean)[0] is clean
    assert schema.apply_defaults(clean) is clean
    partial = {**clean, "spec": {"size": 1, "tags": ["a"]}, "bogus": 1}
    pruned, removed = schema.prune(partial)
    defaulted = schema.apply_defaults(pruned)
    assert removed == ["bogus"] and defaulted["spec"]["color"] == "blue"
    assert partial["bogus"] == 1 and "color" not in partial["spec"], "inputs stay untouched"
    assert defaulted["spec"]["tags"] is partial["spec"]["tags"]


def _widget_store() -> tuple[Store, Any]:
    store = Store()
    crds = store.resource("apiextensions.k8s.io", "customresourcedefinitions")
    for doc in yaml.safe_load_all(CRD_FILE.read_text()):
        asyncio.run(store.create(crds, None, doc))
    return store, store.resource("sandbox.example.com", "widgets")


def test_writes_never_let_callers_or_later_writes_change_stored_state() -> None:
    store, widgets = _widget_store()
    body = {"metadata": {"name": "w"}, "spec": {"size": 1, "tags": ["a"]}}
    created = asyncio.run(store.create(widgets, "default", body))
    body["spec"]["tags"].append("caller-mutated")
    assert created["spec"]["tags"] == ["a"]
    first = copy.deepcopy(created)

    status_patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    after_status = asyncio.run(
        store.patch(widgets, "default", "w", "merge", status_patch, subresource="status")
    )
    status_patch["status"]["conditions"][0]["status"] = "caller-mutated"
    assert after_status["status"]["conditions"][0]["status"] == "True"
    assert created == first, "the previous version (as handed out, as in watch events) is intact"
    second = copy.deepcopy(after_status)

    annotations = {"metadata": {"annotations": {"k": "v"}}, "spec": {"tags": ["b"]}}
    latest = asyncio.run(store.patch(widgets, "default", "w", "merge", annotations))
    annotations["metadata"]["annotations"]["k"] = "caller-mutated"
    annotations["spec"]["tags"].append("caller-mutated")
    assert latest["metadata"]["annotations"] == {"k": "v"} and latest["spec"]["tags"] == ["b"]
    assert created == first and after_status == second
    assert latest["status"] == second["status"]
    assert store.peek(widgets.storage_key, "default", "w") is latest


def test_watch_event_lines_are_encoded_once_and_bounded() -> None:
    store, widgets = _widget_store()
    created = asyncio.run(
        store.create(widgets, "default", {"metadata": {"name": "w"}, "spec": {"size": 1}})
    )
    lines = EventLines(size=2)
    first = lines.line("ADDED", created, widgets, store)
    assert lines.line("ADDED", created, widgets, store) is first
    assert json.loads(first) == {"type": "ADDED", "object": created}
    modified = lines.line("MODIFIED", created, widgets, store)
    assert json.loads(modified)["type"] == "MODIFIED"
    other = {**created, "metadata": {**created["metadata"], "name": "x"}}
    lines.line("ADDED", other, widgets, store)
    assert lines.line("ADDED", created, widgets, store) is not first, "the oldest line was dropped"


def test_values_admitted_before_skip_the_walks_but_only_under_the_same_schema() -> None:
    store, widgets = _widget_store()
    asyncio.run(store.create(widgets, "default", {"metadata": {"name": "w"}, "spec": {"size": 5}}))
    stored = store.peek(widgets.storage_key, "default", "w")
    assert stored is not None
    schema = store.custom._schema(widgets)
    assert schema is not None
    assert schema.clean_keys(stored) == {"spec"}, "as stored: pruned, defaulted (color), valid"
    status = {"status": {"phase": "x"}}
    patched = asyncio.run(
        store.patch(widgets, "default", "w", "merge", status, subresource="status")
    )
    assert patched["spec"] is stored["spec"]
    assert schema.clean_keys(patched) == {"spec", "status"}
    assert schema.clean_keys({**patched, "spec": {**patched["spec"]}}) == {"status"}

    # A new schema (size now at most 3) knows nothing of what the old one admitted: the
    # unchanged spec is validated again and rejected, as before the shortcut.
    crds = store.resource("apiextensions.k8s.io", "customresourcedefinitions")
    crd = copy.deepcopy(store.peek(crds.storage_key, "", "widgets.sandbox.example.com"))
    assert crd is not None
    size = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    size["properties"]["size"]["maximum"] = 3
    asyncio.run(store.update(crds, None, crd["metadata"]["name"], crd))
    with pytest.raises(ApiError) as rejected:
        asyncio.run(
            store.patch(widgets, "default", "w", "merge", {"metadata": {"labels": {"a": "b"}}})
        )
    assert rejected.value.code == 422
    assert "spec.size" in rejected.value.status()["message"]
