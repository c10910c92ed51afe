"""Table-driven tests of CRD schema enforcement (schema_cases/*.yaml), pure and fast."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from archive_sandbox.schema import CRDSchema, FieldError, SchemaNotFound, validate_crd

CASES = Path(__file__).parent / "schema_cases"


def _load(name: str) -> Any:
    return yaml.safe_load((CASES / name).read_text())


def make_crd(spec_schema: dict[str, Any], root_rules: list[dict[str, Any]] | None = None) -> dict:
    root: dict[str, Any] = {"type": "object", "properties": {"spec": spec_schema}}
    if root_rules:
        root["x-kubernetes-validations"] = root_rules
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": root}}
            ],
        },
    }


def make_object(spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": spec,
    }


def _messages(errors: list[FieldError]) -> list[str]:
    return [error.message() for error in errors]


def _validation_cases(name: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in _load(name)]


@pytest.mark.parametrize("case", _validation_cases("openapi.yaml") + _validation_cases("cel.yaml"))
def test_validation(case: dict[str, Any]) -> None:
    schema = CRDSchema.from_crd(make_crd(case["schema"], case.get("root_rules")), "v1")
    old = make_object(case["old"]) if "old" in case else None
    errors = schema.validate(make_object(case["spec"]), old=old)
    assert _messages(errors) == case["errors"]
    if "types" in case:
        assert [error.type for error in errors] == case["types"]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["name"]) for c in _load("mutate.yaml")["prune"]]
)
def test_prune(case: dict[str, Any]) -> None:
    schema = CRDSchema.from_crd(make_crd(case["schema"]), "v1")
    original = make_object(case["spec"])
    before = copy.deepcopy(original)
    pruned, removed = schema.prune(original)
    assert pruned["spec"] == case["expected"]
    assert sorted(removed) == sorted(case["removed"])
    assert original == before, "prune must not modify its input"


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["name"]) for c in _load("mutate.yaml")["defaults"]]
)
def test_defaults(case: dict[str, Any]) -> None:
    schema = CRDSchema.from_crd(make_crd(case["schema"]), "v1")
    original = make_object(case["spec"])
    before = copy.deepcopy(original)
    assert schema.apply_defaults(original)["spec"] == case["expected"]
    assert original == before, "apply_defaults must not modify its input"


def test_metadata_is_never_pruned_or_defaulted() -> None:
    schema = CRDSchema.from_crd(make_crd({"type": "object"}), "v1")
    obj = make_object({})
    obj["metadata"]["labels"] = {"team": "a"}
    obj["status"] = {"x": 1}
    pruned, removed = schema.prune(obj)
    assert pruned["metadata"] == obj["metadata"]
    assert removed == ["status"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in _load("crd.yaml")])
def test_validate_crd(case: dict[str, Any]) -> None:
    messages = _messages(validate_crd(make_crd(case["schema"])))
    if "contains" in case:
        assert len(messages) == 1, messages
        for fragment in case["contains"]:
            assert fragment in messages[0]
    else:
        assert messages == case["errors"]


def test_from_crd_unknown_version() -> None:
    with pytest.raises(SchemaNotFound, match="no version 'v9'"):
        CRDSchema.from_crd(make_crd({"type": "object"}), "v9")


def test_old_object_is_defaulted_before_transition_rules() -> None:
    """A stored object written before a default existed compares against its default."""
    spec_schema = {
        "type": "object",
        "properties": {
            "mode": {
                "type": "string",
                "default": "auto",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
            }
        },
    }
    schema = CRDSchema.from_crd(make_crd(spec_schema), "v1")
    new = schema.apply_defaults(make_object({}))
    assert schema.validate(new, old=make_object({})) == []
    changed = make_object({"mode": "manual"})
    assert _messages(schema.validate(changed, old=make_object({}))) == [
        'spec.mode: Invalid value: "manual": immutable'
    ]


def test_full_write_path_on_a_realistic_resource() -> None:
    """prune → default → validate, the order the server applies them."""
    spec_schema = {
        "type": "object",
        "required": ["user"],
        "properties": {
            "user": {"type": "string"},
            "suspend": {"type": "boolean", "default": False},
        },
    }
    schema = CRDSchema.from_crd(make_crd(spec_schema), "v1")
    pruned, removed = schema.prune(make_object({"user": "alice", "typo": 1}))
    defaulted = schema.apply_defaults(pruned)
    assert removed == ["spec.typo"]
    assert defaulted["spec"] == {"user": "alice", "suspend": False}
    assert schema.validate(defaulted) == []
