"""The CRDs enforced the way the API server enforces them (the sandbox's schema module):
every good example is accepted, every bad case rejected with the message a user must see."""

from __future__ import annotations

import copy

import pytest
from archive_sandbox.schema import CRDSchema, validate_crd

from tests.crds.cases import BadCase, bad_cases, good_examples, load_crds

CRDS = load_crds()
SCHEMAS = {kind: CRDSchema.from_crd(crd, "v1alpha1") for kind, crd in CRDS.items()}


def admit(doc: dict, old: dict | None = None) -> list[str]:
    """Default, prune and validate like a create (or an update when old is given)."""
    schema = SCHEMAS[doc["kind"]]
    obj, _ = schema.prune(schema.apply_defaults(doc))
    return [e.message() for e in schema.validate(obj, old)]


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_is_a_valid_structural_schema_with_compiling_rules(kind: str) -> None:
    assert validate_crd(CRDS[kind]) == []


@pytest.mark.parametrize(("source", "doc"), good_examples(), ids=lambda v: str(v)[:40])
def test_good_example_is_admitted(source: str, doc: dict) -> None:
    assert admit(doc) == []


CASES = bad_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_case_is_rejected_with_its_message(case: BadCase) -> None:
    errors = admit(case.doc)
    assert errors, f"{case.name} was admitted"
    assert any(e.startswith(case.field + ":") and case.message in e for e in errors), errors


def test_defaults_fill_what_users_leave_out() -> None:
    _, doc = next(d for d in good_examples() if d[0] == "alice-daily.yaml")
    spec = SCHEMAS["ArchiveSchedule"].apply_defaults(doc)["spec"]
    assert spec["suspend"] is False
    assert spec["window"] == {"offsetDays": 0, "days": 1}
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["recurrence"] == "occurrences"
    assert spec["onChange"] == "keep"
    assert spec["history"] == {"successfulRuns": 10, "failedRuns": 10}
    assert spec["schedules"][0]["jitterMinutes"] == 0


def test_user_is_immutable() -> None:
    _, doc = next(d for d in good_examples() if d[0] == "alice-daily.yaml")
    changed = copy.deepcopy(doc)
    changed["spec"]["user"] = "mallory"
    errors = admit(changed, old=SCHEMAS["ArchiveSchedule"].apply_defaults(doc))
    assert any(e.startswith("spec.user:") and "user is immutable" in e for e in errors), errors


def test_run_spec_is_immutable() -> None:
    _, doc = next(d for d in good_examples() if d[0] == "manual-run.yaml")
    changed = copy.deepcopy(doc)
    changed["spec"]["end"] = "2026-11-21"
    errors = admit(changed, old=SCHEMAS["ArchiveRun"].apply_defaults(doc))
    assert any("spec is immutable" in e for e in errors), errors


def test_unknown_fields_are_pruned() -> None:
    _, doc = next(d for d in good_examples() if d[0] == "alice-daily.yaml")
    typo = copy.deepcopy(doc)
    typo["spec"]["suspended"] = True
    _, removed = SCHEMAS["ArchiveSchedule"].prune(typo)
    assert removed == ["spec.suspended"]
