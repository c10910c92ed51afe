"""Bad input refused at the earliest layer: the API server (schema, CEL, strict fields, names)
through the real kubectl, and the plugin before it sends any request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import KUBECTL, SandboxHandle

from .corpus import PLUGIN_CASES, FileCase, PluginCase, all_cases_by_layer, api_cases

API_CASES = api_cases()
BIN = str(Path(sys.executable).parent)


def test_the_corpus_has_at_least_fifty_inputs() -> None:
    counts = all_cases_by_layer()
    print("BAD INPUTS", counts)
    assert sum(counts.values()) >= 50
    assert all(counts.values())


@pytest.mark.parametrize("case", API_CASES, ids=[c.name for c in API_CASES])
def test_api_rejects_with_a_message_naming_the_field(
    case: FileCase, bad_handle: SandboxHandle, bad_namespace: str
) -> None:
    mark = bad_handle.requests.mark()
    result = bad_handle.kubectl("apply", "-f", str(case.path), namespace=bad_namespace, check=False)
    assert result.returncode != 0
    stderr = result.stderr
    assert case.header["field"] in stderr and case.header["message"] in stderr, stderr
    stored = [r for r in bad_handle.requests.since(mark) if r.is_write and 200 <= r.code < 300]
    assert stored == []  # nothing half-written


def test_a_namespace_in_a_reference_is_pruned_when_not_validated_strictly(
    bad_handle: SandboxHandle, bad_namespace: str
) -> None:
    """No reference can leave the namespace: without strict validation the key is dropped."""
    case = next(c for c in API_CASES if c.name == "run-schedule-ref-other-namespace")
    bad_handle.kubectl("apply", "--validate=false", "-f", str(case.path), namespace=bad_namespace)
    rt = bad_handle.store.resource("archive.auriora.io", "archiveruns")
    stored = bad_handle.call(bad_handle.store.get(rt, bad_namespace, "bad"))
    assert stored["spec"]["scheduleRef"] == {"name": "alice"}
    bad_handle.kubectl("delete", "-f", str(case.path), namespace=bad_namespace)


@pytest.mark.parametrize("case", PLUGIN_CASES, ids=[c.name for c in PLUGIN_CASES])
def test_plugin_rejects_before_any_request(
    case: PluginCase, bad_handle: SandboxHandle, bad_namespace: str
) -> None:
    mark = bad_handle.requests.mark()
    # kubectl refuses its own flags before a plugin's name, so no --cache-dir here.
    result = subprocess.run(
        [KUBECTL, "archive", *case.args, "-n", bad_namespace],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(bad_handle.home),
            "KUBECONFIG": str(bad_handle.kubeconfig),
        },
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert case.message in result.stderr, result.stderr
    assert bad_handle.requests.since(mark) == []  # not even a read
