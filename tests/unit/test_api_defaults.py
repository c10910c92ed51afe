"""The models' defaults are the CRD's defaults (crds/ is the one source of truth)."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from archive_operator.api import ArchiveRunSpec, ArchiveScheduleSpec
from archive_operator.api.schedule import ArchiveSchedule

CRDS = Path(__file__).resolve().parents[2] / "crds"


def spec_schema(plural: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / f"archive.auriora.io_{plural}.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(schema["properties"]["spec"])


def model_in(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The model class inside Optional[...] / list[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = model_in(arg)
            if found is not None:
                return found
    if typing.get_origin(annotation) is list:
        return model_in(typing.get_args(annotation)[0])
    return None


def compare(model: type[pydantic.BaseModel], schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    node = schema.get("items", schema) if schema.get("type") == "array" else schema
    for key, prop in (node.get("properties") or {}).items():
        if key not in fields:
            problems.append(f"{path}.{key}: in the CRD, not in {model.__name__}")
            continue
        field = fields[key]
        if "default" in prop:
            value = field.get_default(call_default_factory=True)
            if isinstance(value, pydantic.BaseModel):
                # An object default ({}) only makes the nested defaults apply; those are
                # compared one by one by the recursion below.
                if prop["default"] != {}:
                    problems.append(f"{path}.{key}: CRD object default is not {{}}")
            elif value != prop["default"]:
                problems.append(
                    f"{path}.{key}: model default {value!r}, CRD default {prop['default']!r}"
                )
        elif field.is_required() is False and field.get_default() not in (None, [], {}):
            problems.append(f"{path}.{key}: model default {field.get_default()!r}, CRD has none")
        nested = model_in(field.annotation)
        if nested is not None:
            problems += compare(nested, prop, f"{path}.{key}")
    return problems


@pytest.mark.parametrize(
    ("model", "plural"),
    [(ArchiveScheduleSpec, "archiveschedules"), (ArchiveRunSpec, "archiveruns")],
)
def test_model_fields_and_defaults_match_the_crd(
    model: type[pydantic.BaseModel], plural: str
) -> None:
    assert compare(model, spec_schema(plural), "spec") == []


def test_the_comparison_catches_a_difference() -> None:
    schema = spec_schema("archiveschedules")
    schema["properties"]["concurrencyPolicy"]["default"] = "Allow"
    schema["properties"]["history"]["properties"]["failedRuns"]["default"] = 3
    problems = compare(ArchiveScheduleSpec, schema, "spec")
    assert any("concurrencyPolicy" in p for p in problems)
    assert any("history" in p for p in problems)


def test_examples_parse() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    parsed = 0
    for path in sorted(examples.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ArchiveSchedule":
                ArchiveSchedule.from_body(doc)
                parsed += 1
    assert parsed >= 3


@pytest.mark.parametrize(
    "ics",
    [
        {"url": "https://feeds.example.org/alice.ics"},
        {"urlSecretKey": "feed-url"},
        {"url": "https://feeds.example.org/alice.ics", "urlSecretKey": "feed-url"},
        {},
    ],
    ids=["url", "secret-key", "both", "neither"],
)
def test_the_model_and_the_crd_agree_on_an_ics_source(ics: dict[str, str]) -> None:
    """spec.source.ics: exactly one of url and urlSecretKey, in the model as in the CRD."""
    from archive_sandbox.schema import CRDSchema

    crd = yaml.safe_load((CRDS / "archive.auriora.io_archiveschedules.yaml").read_text())
    schema = CRDSchema.from_crd(crd, "v1alpha1")
    doc = {
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveSchedule",
        "metadata": {"name": "alice"},
        "spec": {
            "user": "alice",
            "source": {"ics": ics},
            "destination": {"caldav": {"url": "https://cal.example.org/alice/archive/"}},
            "credentialsSecretRef": {"name": "alice-calendar"},
        },
    }
    obj, _ = schema.prune(schema.apply_defaults(doc))
    crd_accepts = not schema.validate(obj, None)
    try:
        ArchiveSchedule.from_body(doc)
        model_accepts = True
    except pydantic.ValidationError as exc:
        assert "ics needs exactly one of url or urlSecretKey" in str(exc)
        model_accepts = False
    assert model_accepts == crd_accepts == (len(ics) == 1)
