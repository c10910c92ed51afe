"""The CRDs' OpenAPI schemas, checked with the real check-jsonschema against the examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.crds.cases import bad_cases, good_examples, json_schema_of, load_crds

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def check(schema: dict, doc: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    schema_file = tmp_path / "schema.json"
    doc_file = tmp_path / "doc.yaml"
    schema_file.write_text(json.dumps(schema))
    doc_file.write_text(yaml.safe_dump(doc))
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema_file), str(doc_file)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_crd_has_descriptions_on_every_field() -> None:
    missing = []

    def walk(node: dict, path: str) -> None:
        for name, prop in node.get("properties", {}).items():
            here = f"{path}.{name}"
            if name not in ("metadata",) and not prop.get("description"):
                missing.append(here)
            walk(prop, here)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")

    for kind, crd in load_crds().items():
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], kind)
    assert missing == []


@pytest.mark.parametrize(("source", "doc"), good_examples(), ids=lambda v: str(v)[:40])
def test_good_example_passes_check_jsonschema(source: str, doc: dict, tmp_path: Path) -> None:
    schema = json_schema_of(load_crds()[doc["kind"]])
    result = check(schema, doc, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


SCHEMA_LAYER = [c for c in bad_cases() if c.layer == "schema"]


@pytest.mark.parametrize("case", SCHEMA_LAYER, ids=[c.name for c in SCHEMA_LAYER])
def test_schema_layer_bad_case_fails_check_jsonschema(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    schema = json_schema_of(load_crds()[case.doc["kind"]])
    result = check(schema, case.doc, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # check-jsonschema names the failing location as a JSON path, e.g. $.spec.recurrence
    leaf = case.field.split(".")[-1].split("[")[0]
    assert leaf in result.stdout


def test_there_are_good_examples_and_bad_cases_of_both_layers() -> None:
    kinds = {doc["kind"] for _, doc in good_examples()}
    assert kinds == {"ArchiveSchedule", "ArchiveRun"}
    assert {c.layer for c in bad_cases()} == {"schema", "cel"}
