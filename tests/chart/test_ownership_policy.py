"""The ownership ValidatingAdmissionPolicies, rendered by helm, decide request fixtures right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.admission import Verdict, admission_request, evaluate
from tests.chart.helm import CHART, OPERATOR_USERNAME, Helm, Manifest, named, of_kind

FIXTURES = yaml.safe_load((Path(__file__).parent / "admission-requests.yaml").read_text())
CASES: list[dict[str, Any]] = FIXTURES["cases"]
FULL_VALUES = CHART / "ci" / "full-values.yaml"
POLICY_NAMES = ("archive-operator-schedule-owner", "archive-operator-run-owner")


@pytest.fixture(scope="module")
def policy_sets(helm: Helm, rendered: dict[str, list[Manifest]]) -> dict[str, list[Manifest]]:
    return {
        "default": rendered["default"],
        "oidc": helm.render([FULL_VALUES], set_values=["ownership.validationActions={Deny}"]),
        "warn": rendered["full"],
    }


def decide(manifests: list[Manifest], case: dict[str, Any]) -> Verdict:
    """Run the request past every ownership policy, as the API server would."""
    request = admission_request(
        operation=case["operation"],
        resource=case["resource"],
        username=case["user"],
        groups=case.get("groups"),
        namespace=case.get("namespace", "team-a"),
        obj=case.get("object"),
        old=case.get("oldObject"),
        sub_resource=case.get("subResource", ""),
    )
    params = case.get("params", FIXTURES["schedules"])
    messages: list[str] = []
    warnings: list[str] = []
    for name in POLICY_NAMES:
        policy = named(manifests, "ValidatingAdmissionPolicy", name)
        binding = named(manifests, "ValidatingAdmissionPolicyBinding", name)
        verdict = evaluate(policy, binding, request, params)
        messages += verdict.messages
        warnings += verdict.warnings
    return Verdict(allowed=not messages, messages=messages, warnings=warnings)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_ownership_policy_decides_the_request(
    policy_sets: dict[str, list[Manifest]], case: dict[str, Any]
) -> None:
    verdict = decide(policy_sets[case["policies"]], case)
    expect = case["expect"]
    if expect == "allowed":
        assert verdict.allowed and not verdict.warnings, verdict
    elif expect == "denied":
        assert not verdict.allowed, verdict
        assert any(case["message"] in m for m in verdict.messages), verdict.messages
    else:
        assert expect == "warned"
        assert verdict.allowed, verdict
        assert any(case["message"] in w for w in verdict.warnings), verdict.warnings


def test_fixtures_cover_both_kinds_and_every_outcome() -> None:
    seen = {(c["resource"], c["expect"]) for c in CASES}
    for resource in ("archiveschedules", "archiveruns"):
        assert {(resource, "allowed"), (resource, "denied")} <= seen
    assert ("archiveschedules", "warned") in seen


def test_the_operator_is_exempt_by_its_real_service_account(
    rendered: dict[str, list[Manifest]],
) -> None:
    (account,) = of_kind(rendered["default"], "ServiceAccount")
    username = (
        f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    )
    assert username == OPERATOR_USERNAME
    for name in POLICY_NAMES:
        policy = named(rendered["default"], "ValidatingAdmissionPolicy", name)
        conditions = {c["name"]: c["expression"] for c in policy["spec"]["matchConditions"]}
        assert f'"{username}"' in conditions["requester-not-exempt"]


def test_values_reach_cel_only_as_escaped_literals(helm: Helm) -> None:
    """A quote in a value cannot change the expression: it stays inside a string literal."""
    hostile = 'x"] || true || ["'
    manifests = helm.render(set_values=[f"ownership.adminGroups[0]={hostile}"])
    case = next(c for c in CASES if c["name"] == "a user creates a schedule for someone else")
    assert not decide(manifests, case).allowed


def test_policies_are_absent_when_disabled(rendered: dict[str, list[Manifest]]) -> None:
    assert not of_kind(rendered["minimal"], "ValidatingAdmissionPolicy")
    assert not of_kind(rendered["minimal"], "ValidatingAdmissionPolicyBinding")
