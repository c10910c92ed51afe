"""CEL validation ratcheting (Kubernetes 1.30+, GA in 1.33): on update, a rule that does not
use ``oldSelf`` is not enforced where the value equals its correlated old value; transition
rules (with ``oldSelf``) always run. Pure and fast."""

from __future__ import annotations

from typing import Any

from archive_sandbox.schema import CRDSchema

from .test_schema import make_crd, make_object

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self.size() <= 3", "message": "too long"}],
        },
        "count": {"type": "integer"},
        "frozen": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self != oldSelf", "message": "must change"}],
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "size": {
                        "type": "integer",
                        "x-kubernetes-validations": [{"rule": "self < 10", "message": "big"}],
                    },
                },
            },
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["key"],
        },
    },
}


def _errors(spec: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    schema = CRDSchema.from_crd(make_crd(SCHEMA), "v1")
    old_object = make_object(old) if old is not None else None
    return [e.message() for e in schema.validate(make_object(spec), old=old_object)]


def test_create_enforces_every_rule() -> None:
    assert _errors({"name": "toolong"}, None) == ['spec.name: Invalid value: "toolong": too long']


def test_an_unchanged_invalid_value_is_ratcheted() -> None:
    assert _errors({"name": "toolong", "count": 2}, {"name": "toolong", "count": 1}) == []


def test_a_changed_value_is_enforced() -> None:
    errors = _errors({"name": "toolong2"}, {"name": "toolong"})
    assert errors == ['spec.name: Invalid value: "toolong2": too long']


def test_transition_rules_run_on_unchanged_values() -> None:
    errors = _errors({"frozen": "a", "count": 2}, {"frozen": "a", "count": 1})
    assert errors == ['spec.frozen: Invalid value: "a": must change']


def test_list_map_items_are_correlated_by_key() -> None:
    old = {"items": [{"key": "a", "size": 20}, {"key": "b", "size": 1}]}
    reordered = {"items": [{"key": "b", "size": 1}, {"key": "a", "size": 20}]}
    assert _errors(reordered, old) == []
    grown = {"items": [{"key": "a", "size": 21}, {"key": "b", "size": 1}]}
    assert _errors(grown, old) == ["spec.items[0].size: Invalid value: 21: big"]
