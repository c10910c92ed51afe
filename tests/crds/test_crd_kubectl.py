"""The CRDs installed in the API sandbox, driven with the real kubectl: what a user sees."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from subprocess import CompletedProcess

import pytest

from tests.crds.cases import CRD_DIR, EXAMPLES_DIR, BadCase, bad_cases

Kubectl = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module", autouse=True)
def crds(sandbox):  # type: ignore[no-untyped-def]
    sandbox.apply_crds(*sorted(CRD_DIR.glob("*.yaml")))


def test_examples_apply_and_read_back_with_defaults(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES_DIR))
    alice = json.loads(kubectl("get", "archiveschedule", "alice", "-o", "json").stdout)
    assert alice["spec"]["concurrencyPolicy"] == "Forbid"
    assert alice["spec"]["window"] == {"offsetDays": 0, "days": 1}
    dana = json.loads(kubectl("get", "archiveschedule", "dana", "-o", "json").stdout)
    cloud = {"endpoint": "https://graph.microsoft.com",
             "authorityHost": "https://login.microsoftonline.com"}  # fmt: skip
    assert cloud.items() <= dana["spec"]["source"]["graph"].items()
    assert cloud.items() <= dana["spec"]["destination"]["graph"].items()
    names = kubectl("get", "archive", "-o", "name").stdout.split()
    assert sorted(names) == [
        "archiverun.archive.auriora.io/alice-manual-2026-11-20",
        "archiveschedule.archive.auriora.io/alice",
        "archiveschedule.archive.auriora.io/bob",
        "archiveschedule.archive.auriora.io/carol",
        "archiveschedule.archive.auriora.io/dana",
    ]


def columns(table: str) -> list[str]:
    return re.split(r"\s{2,}", table.splitlines()[0].strip())


def test_printer_columns(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(EXAMPLES_DIR / "alice-daily.yaml"))
    assert columns(kubectl("get", "archiveschedules").stdout) == [
        "NAME", "USER", "SCHEDULES", "SUSPENDED", "READY", "LAST RUN", "NEXT RUN", "AGE"
    ]  # fmt: skip
    wide = columns(kubectl("get", "archiveschedules", "-o", "wide").stdout)
    assert {"HEALTHY", "ARCHIVED THROUGH", "MISSING DAYS"} <= set(wide)
    kubectl("apply", "-f", str(EXAMPLES_DIR / "manual-run.yaml"))
    assert columns(kubectl("get", "archiveruns").stdout) == [
        "NAME", "SCHEDULE", "TRIGGER", "START", "END", "PHASE", "ARCHIVED", "AGE"
    ]  # fmt: skip


CASES = bad_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_case_is_rejected_by_the_api_with_its_message(case: BadCase, kubectl: Kubectl) -> None:
    result = kubectl("apply", "-f", str(case.path), check=False)
    assert result.returncode != 0
    assert f"{case.field}: " in result.stderr and case.message in result.stderr, result.stderr
    kind = case.doc["kind"].lower()
    assert kubectl("get", kind, "-o", "name").stdout == ""  # nothing half-written
