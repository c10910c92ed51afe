"""Unit tests of the sandbox's pure pieces: selectors, patches, JSONPath, durations, ownership."""

from __future__ import annotations

import json
from typing import Any

import pytest
from archive_sandbox import jsonpath
from archive_sandbox.errors import ApiError, invalid
from archive_sandbox.managedfields import (
    from_fields_v1,
    leaf_values,
    record_update,
    server_side_apply,
    to_fields_v1,
)
from archive_sandbox.meta import human_duration
from archive_sandbox.patch import json_patch, merge_patch, strategic_merge_patch
from archive_sandbox.protobuf import decode
from archive_sandbox.selectors import field_matcher, label_matcher


def _obj(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a in (x, y)", {"a": "y"}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("a,!b", {"a": "1"}, True),
        ("a,!b", {"a": "1", "b": "2"}, False),
        (
            "app.kubernetes.io/name=web,tier in (front)",
            {"app.kubernetes.io/name": "web", "tier": "front"},
            True,
        ),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    match = label_matcher(selector)
    assert match is not None and match(_obj(labels)) is expected


@pytest.mark.parametrize("bad", ["a in", "a in (x", "a b", "!"])
def test_label_selector_errors_are_bad_requests(bad: str) -> None:
    with pytest.raises(ApiError) as exc:
        label_matcher(bad)
    assert exc.value.code == 400


def test_field_selector_on_nested_paths_and_booleans() -> None:
    obj = {
        "metadata": {"name": "x"},
        "spec": {"suspend": True},
        "involvedObject": {"kind": "Widget"},
    }
    assert field_matcher("involvedObject.kind=Widget,spec.suspend=true")(obj)  # type: ignore[misc]
    assert not field_matcher("metadata.name!=x")(obj)  # type: ignore[misc]
    assert field_matcher("status.phase=")(obj)  # type: ignore[misc]  # missing is empty


def test_merge_patch() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]}) == {
        "a": {"c": 2, "e": 3},
        "d": [2],
    }


def test_json_patch_operations() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/1", "value": 9},
            {"op": "move", "from": "/b/c", "path": "/x"},
            {"op": "copy", "from": "/x", "path": "/y"},
            {"op": "test", "path": "/y", "value": 1},
        ],
    )
    assert out == {"a": [1, 9, 2], "b": {}, "x": 1, "y": 1}
    assert doc == {"a": [1, 2], "b": {"c": 1}}  # the input is untouched
    with pytest.raises(ApiError) as exc:
        json_patch(doc, [{"op": "test", "path": "/a/0", "value": 5}])
    assert exc.value.code == 422


def test_strategic_merge_patch_merges_keyed_lists_and_directives() -> None:
    live = {
        "spec": {
            "containers": [
                {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "2"},
            ]
        },
        "metadata": {"finalizers": ["f1"]},
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "env": [{"name": "Y", "value": "2"}]},
                {"name": "b", "$patch": "delete"},
            ],
            "$setElementOrder/containers": [{"name": "a"}],
        },
        "metadata": {"finalizers": ["f2"], "$deleteFromPrimitiveList/finalizers": ["f1"]},
    }
    out = strategic_merge_patch(live, patch)
    assert out["spec"]["containers"] == [
        {
            "name": "a",
            "image": "1",
            "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
        }
    ]
    assert out["metadata"]["finalizers"] == ["f2"]
    replaced = strategic_merge_patch(
        {"spec": {"a": 1, "b": 2}}, {"spec": {"$patch": "replace", "c": 3}}
    )
    assert replaced == {"spec": {"c": 3}}
    retained = strategic_merge_patch(
        {"s": {"type": "A", "a": 1}}, {"s": {"$retainKeys": ["type"], "type": "B"}}
    )
    assert retained == {"s": {"type": "B"}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.size", [3]),
        ("{.spec.tags[1]}", ["b"]),
        (".spec.tags[*]", ["a", "b"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type!='Ready')].type", ["Synced"]),
        (".metadata.annotations['x.io/y']", ["z"]),
        (".status.missing", []),
    ],
)
def test_jsonpath(path: str, expected: list[Any]) -> None:
    obj = {
        "metadata": {"annotations": {"x.io/y": "z"}},
        "spec": {"size": 3, "tags": ["a", "b"]},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Synced", "status": "False"},
            ]
        },
    }
    assert jsonpath.find(obj, path) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (9 * 3600, "9h"),
        (50 * 3600, "2d2h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration_matches_kubernetes(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_invalid_message_formats() -> None:
    one = invalid(
        "Widget", "example.com", "w", [("FieldValueInvalid", "spec.a", "Invalid value: 1: bad")]
    )
    assert one.message == 'Widget.example.com "w" is invalid: spec.a: Invalid value: 1: bad'
    two = invalid(
        "Widget",
        "example.com",
        "w",
        [
            ("FieldValueRequired", "spec.a", "Required value"),
            ("FieldValueInvalid", "spec.b", "Invalid value: 2"),
        ],
    )
    assert (
        two.message
        == 'Widget.example.com "w" is invalid: [spec.a: Required value, spec.b: Invalid value: 2]'
    )
    assert two.status()["details"]["causes"][1] == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 2",
        "field": "spec.b",
    }


def test_fields_v1_round_trip_and_update_ownership() -> None:
    obj = {
        "metadata": {"labels": {"a": "1"}, "name": "x"},
        "spec": {"containers": [{"name": "c", "image": "i"}], "n": 1},
    }
    paths = set(leaf_values(obj, skip_status=False))
    assert from_fields_v1(to_fields_v1(paths)) == paths
    assert to_fields_v1(paths)["f:spec"]["f:containers"]['k:{"name":"c"}'] == {
        ".": {},
        "f:image": {},
        "f:name": {},
    }
    managed = record_update([], "one", "v1", None, obj, "t")
    changed = {**obj, "spec": {**obj["spec"], "n": 2}}
    managed = record_update(managed, "two", "v1", obj, changed, "t")
    owners = {m["manager"]: m["fieldsV1"] for m in managed}
    assert "f:n" in owners["two"]["f:spec"] and "f:n" not in owners["one"]["f:spec"]


def test_server_side_apply_shares_equal_values_without_conflict() -> None:
    live, managed = server_side_apply(
        {"spec": {"a": 1}}, {"spec": {"a": 1}}, [], "one", "v1", "t", force=False
    )
    live, managed = server_side_apply(
        live, {"spec": {"a": 1, "b": 2}}, managed, "two", "v1", "t", force=False
    )
    assert live == {"spec": {"a": 1, "b": 2}}
    live, managed = server_side_apply(
        live, {"spec": {"b": 2}}, managed, "one", "v1", "t", force=False
    )
    assert live == {"spec": {"a": 1, "b": 2}}  # "two" still owns a


def test_a_manager_entry_keeps_its_time_while_its_fields_are_unchanged() -> None:
    """Kubernetes moves an entry's time only when its field set changes, so a write that
    changes nothing a second later is still a no-op (no new resourceVersion)."""
    config = {"spec": {"a": 1}}
    live, first = server_side_apply({}, config, [], "op", "v1", "10:00:00", force=False)
    live, again = server_side_apply(live, config, first, "op", "v1", "10:00:01", force=False)
    assert again == first
    _, grown = server_side_apply(
        live, {"spec": {"a": 1, "b": 2}}, again, "op", "v1", "10:00:02", force=False
    )
    assert grown[0]["time"] == "10:00:02"  # the field set changed
    obj = {"spec": {"n": 1}}
    managed = record_update([], "ctl", "v1", None, obj, "10:00:00")
    assert record_update(managed, "ctl", "v1", obj, obj, "10:00:05") == managed
    bumped = {"spec": {"n": 1, "m": 2}}
    assert record_update(managed, "ctl", "v1", obj, bumped, "10:00:05")[0]["time"] == "10:00:05"


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def _entry(key: str, value: bytes) -> bytes:
    return _field(1, key.encode()) + _field(2, value)


def test_protobuf_secret_decodes() -> None:
    meta = _field(1, b"s") + _field(3, b"") + _field(11, _entry("app", b"x"))
    secret = _field(1, meta) + _field(2, _entry("pw", b"hunter2")) + _field(3, b"Opaque")
    envelope = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, secret)
    assert decode(envelope) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "labels": {"app": "x"}},
        "data": {"pw": "aHVudGVyMg=="},
        "type": "Opaque",
    }
    job = b"k8s\x00" + _field(1, _field(1, b"batch/v1") + _field(2, b"Job")) + _field(2, b"")
    with pytest.raises(ApiError) as exc:
        decode(job)
    assert exc.value.code == 415
    with pytest.raises(ApiError):
        decode(b"not protobuf")


def test_protobuf_delete_options_decode() -> None:
    """helm deletes its release Secrets with protobuf DeleteOptions."""
    options = _field(2, _field(1, b"uid-1")) + _field(4, b"Background")
    envelope = (
        b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"DeleteOptions")) + _field(2, options)
    )
    decoded = decode(envelope)
    assert decoded["propagationPolicy"] == "Background"
    assert decoded["preconditions"] == {"uid": "uid-1"}


def test_json_answers_are_compact_utf8_and_take_any_integer() -> None:
    from archive_sandbox.responses import encode_json

    assert encode_json({"b": 1, "a": [True, None, "é"]}) == '{"b":1,"a":[true,null,"é"]}'.encode()
    huge = {"n": 2**70}  # beyond orjson's 64 bits: the json module takes over
    assert json.loads(encode_json(huge)) == huge
