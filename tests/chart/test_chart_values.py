"""values.schema.json: every bad values file fails with its expected message; good ones pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART, Helm

BAD_VALUES = sorted((Path(__file__).parent / "bad-values").glob("*.yaml"))
EXPECT_PREFIX = "# expect: "


def expected_message(path: Path) -> str:
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith(EXPECT_PREFIX), f"{path.name}: first line must be '# expect: ...'"
    return first_line.removeprefix(EXPECT_PREFIX)


@pytest.mark.parametrize("bad_values", BAD_VALUES, ids=lambda p: p.stem)
def test_bad_values_file_fails_the_schema_with_its_message(helm: Helm, bad_values: Path) -> None:
    done = helm.template([bad_values])
    assert done.returncode != 0, f"{bad_values.name} rendered, but the schema must reject it"
    assert "values don't meet the specifications of the schema" in done.stderr
    assert expected_message(bad_values) in done.stderr, done.stderr


def _objects_without_closed_properties(schema: Any, path: str = "#") -> list[str]:
    """Paths of chart-defined objects (those listing properties) that accept unknown keys."""
    found: list[str] = []
    if isinstance(schema, dict):
        closed = schema.get("additionalProperties") is False
        if schema.get("type") == "object" and "properties" in schema and not closed:
            found.append(path)
        for key, value in schema.items():
            found += _objects_without_closed_properties(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _objects_without_closed_properties(value, f"{path}/{index}")
    return found


def test_schema_closes_every_object_it_describes() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = _objects_without_closed_properties(schema)
    # extraEnv items are Kubernetes EnvVars (name plus value or valueFrom), checked by the API.
    assert open_objects == ["#/properties/operator/properties/extraEnv/items"]


def _documented_leaves(values_yaml: str) -> tuple[set[str], set[str]]:
    """(all leaf keys, leaf keys covered by a '# --' comment with an 'Example:'), as dotted paths.

    A leaf is covered by the comment block right above it or above any enclosing key, so
    `resources:` documented once covers resources.requests.cpu.
    """
    stack: list[tuple[int, str, bool]] = []  # (indent, key, documented) of enclosing keys
    comments: list[str] = []
    leaves: set[str] = set()
    documented: set[str] = set()
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        if stripped.startswith("- ") and stack:  # an item of a list value: the list is a leaf
            path = ".".join(k for _, k, _ in stack)
            leaves.add(path)
            if any(doc for _, _, doc in stack):
                documented.add(path)
        if not stripped or stripped.startswith("-"):
            comments = []
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key, _, rest = stripped.partition(":")
        text = "\n".join(comments)
        own = "# --" in text and "Example:" in text
        covered = own or any(doc for _, _, doc in stack)
        path = ".".join([k for _, k, _ in stack] + [key])
        if rest.strip():
            leaves.add(path)
            if covered:
                documented.add(path)
        else:
            stack.append((indent, key, own))
        comments = []
    return leaves, documented


def test_every_default_value_is_documented_with_an_example() -> None:
    text = (CHART / "values.yaml").read_text()
    leaves, documented = _documented_leaves(text)
    assert not sorted(leaves - documented), "values without '# --' and 'Example:' above them"

    def leaf_count(node: Any) -> int:
        if isinstance(node, dict) and node:
            return sum(leaf_count(v) for v in node.values())
        return 1

    assert len(leaves) == leaf_count(yaml.safe_load(text)), "the line walk missed some values"
