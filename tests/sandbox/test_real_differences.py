"""The sandbox's side of what tests/real/test_bad_inputs_real.py compares with a real API server,
pure and fast (no Go needed): the wording fixed to match the real server, and the sandbox's
answer for each difference sandbox/README.md lists (pinned there against the real server too).

Expected lines were seen from kube-apiserver v1.37.2 (`kubectl apply --dry-run=server`) or,
where marked, read from kube-openapi's validate/type.go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from archive_sandbox.schema import CRDSchema

ROOT = Path(__file__).resolve().parents[2]
RUN_CRD = yaml.safe_load((ROOT / "crds" / "archive.auriora.io_archiveruns.yaml").read_text())
NOT_CHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation"
)


def run_errors(start: Any, end: Any = "2024-01-01") -> list[str]:
    schema = CRDSchema.from_crd(RUN_CRD, "v1alpha1")
    run = {
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveRun",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"scheduleRef": {"name": "alice"}, "start": start, "end": end},
    }
    return sorted(error.message() for error in schema.validate(schema.apply_defaults(run)))


@pytest.mark.parametrize(
    ("start", "inferred"),
    [
        pytest.param(20240101, "int64", id="integer"),  # seen
        pytest.param(2024.5, "float64", id="number"),  # seen
        pytest.param(True, "", id="boolean"),  # read: bool has no format
        pytest.param({}, "", id="object"),  # read: nor has an object
    ],
)
def test_a_non_string_for_a_date_names_the_format_and_the_values_format(
    start: Any, inferred: str
) -> None:
    detail = f'spec.start in body must be of type date: "{inferred}"'
    assert run_errors(start) == [NOT_CHECKED, f'spec.start: Invalid value: "{inferred}": {detail}']


def _errors(spec_schema: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    root = {"type": "object", "properties": {"spec": spec_schema}}
    schema = CRDSchema(root)
    return [e.message() for e in schema.validate({"metadata": {"name": "w"}, "spec": spec})]


def test_an_integer_format_is_named_for_a_fraction() -> None:  # read from type.go
    schema = {"type": "object", "properties": {"n": {"type": "integer", "format": "int32"}}}
    assert _errors(schema, {"n": 1.5}) == [
        'spec.n: Invalid value: "float64": spec.n in body must be of type int32: "float64"'
    ]
    assert _errors(schema, {"n": 7}) == []  # JSON integers are int64; int32 still takes them
    assert _errors(schema, {"n": 2.0}) == []  # a whole float is an integer


def test_a_format_the_api_server_strips_leaves_the_plain_type_error() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "format": "no-such"}}}
    assert _errors(schema, {"x": 5}) == [
        'spec.x: Invalid value: "integer": spec.x in body must be of type string: "integer"'
    ]


def test_listed_difference_array_for_a_formatted_string_sandbox_side() -> None:
    """sandbox/README.md (pinned: array-for-a-formatted-string). The real server passes the
    OpenAPI checks and fails the CEL rules on `spec` instead; fixing this fails this pin."""
    assert run_errors(["2024-01-01"]) == [
        NOT_CHECKED,
        'spec.start: Invalid value: "array": spec.start in body must be of type string: "array"',
    ]


def test_a_crd_whose_default_fails_its_own_cel_rule_is_refused() -> None:
    """Seen from kube-apiserver v1.37.2 when a rule `self.offsetDays + self.days - 1 <= 0` sat on
    a field whose default is `{}`: the default is checked as it is, its fields' own defaults not
    applied first. (The real path begins spec.validation.openAPIV3Schema for a single-version
    CRD; the sandbox names the version's schema, as listed in sandbox/README.md.)"""
    from archive_sandbox.schema_crd import validate_crd

    message = "window must end by the run's day"
    window = {
        "type": "object",
        "default": {},
        "properties": {
            "offsetDays": {"type": "integer", "default": 0},
            "days": {"type": "integer", "default": 1},
        },
        "x-kubernetes-validations": [
            {"rule": "self.offsetDays + self.days - 1 <= 0", "message": message}
        ],
    }
    crd = {
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"window": window}}
                            },
                        }
                    },
                }
            ]
        }
    }
    errors = [e.message() for e in validate_crd(crd)]
    assert errors == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[window].default: "
        f'Invalid value: "object": no such key: offsetDays evaluating rule: {message}'
    ]
    guarded = (
        "(has(self.offsetDays) ? self.offsetDays : 0) + (has(self.days) ? self.days : 1) - 1 <= 0"
    )
    window["x-kubernetes-validations"] = [{"rule": guarded, "message": message}]
    assert validate_crd(crd) == []
