"""The CRDs, the good examples and the bad cases, loaded once for the CRD tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
EXAMPLES_DIR = ROOT / "examples"
BAD_DIR = Path(__file__).parent / "bad"
GROUP = "archive.auriora.io"


def load_crds() -> dict[str, dict[str, Any]]:
    """Kind → CRD document, for every CRD in crds/."""
    crds = (yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml")))
    return {crd["spec"]["names"]["kind"]: crd for crd in crds}


def good_examples() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every custom resource in examples/."""
    found = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["apiVersion"].startswith(GROUP + "/"):
                found.append((path.name, doc))
    return found


@dataclass(frozen=True)
class BadCase:
    name: str
    path: Path
    layer: str  # "schema": OpenAPI alone rejects it; "cel": only the x-kubernetes-validations do
    field: str
    message: str
    doc: dict[str, Any]


def bad_cases() -> list[BadCase]:
    cases = []
    for path in sorted(BAD_DIR.glob("*.yaml")):
        text = path.read_text()
        header = dict(
            line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# ")
        )
        cases.append(
            BadCase(
                name=path.stem,
                path=path,
                layer=header["layer"],
                field=header["field"],
                message=header["message"],
                doc=yaml.safe_load(text),
            )
        )
    return cases


def json_schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    """The CRD's openAPIV3Schema as plain JSON Schema (check-jsonschema cannot run CEL)."""

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
            if node.get("nullable"):
                out.pop("nullable")
                out["type"] = [node["type"], "null"]
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    schema = convert(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return dict(schema)
