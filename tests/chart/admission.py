"""Evaluate a rendered ValidatingAdmissionPolicy and its binding the way the API server does.

The CEL comes verbatim from `helm template`; the `cel` library (common-expression-language)
evaluates it. Steps, as in Kubernetes: match constraints (group, resource, operation, no
subresource) → params selected by the binding (per namespace, selector {} = all) → match
conditions → variables (in order, visible as `variables.<name>`) → validations, each evaluated
once per param; the request is denied if any evaluation fails and the binding's actions include
Deny, else a failure is a warning. An evaluation error is raised (failurePolicy: Fail would deny
the request, and in a test it means an unguarded field).

Differences from a real API server: objects are plain maps (no schema typing), and params are
given by the test instead of read from an informer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cel

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    messages: list[str] = field(default_factory=list)  # denials
    warnings: list[str] = field(default_factory=list)


def _matches(rule: Manifest, request: Manifest) -> bool:
    resource = request["resource"]
    return (
        not request.get("subResource")
        and resource["group"] in rule["apiGroups"]
        and ("*" in rule["apiVersions"] or resource["version"] in rule["apiVersions"])
        and request["operation"] in rule["operations"]
        and resource["resource"] in rule["resources"]
    )


def _evaluate(expression: str, activation: Manifest) -> Any:
    try:
        return cel.evaluate(expression, activation)
    except Exception as error:  # the library raises KeyError, TypeError, RuntimeError...
        raise AssertionError(f"CEL error in {expression!r}: {error!r}") from error


def _select_params(
    policy: Manifest, binding: Manifest, request: Manifest, params: Iterable[Manifest]
) -> list[Manifest | None]:
    if "paramKind" not in policy["spec"]:
        return [None]
    kind = policy["spec"]["paramKind"]
    ref = binding["spec"]["paramRef"]
    assert ref.get("selector") == {}, "only selector {} (all params) is modelled"
    namespace = ref.get("namespace", request["namespace"])
    return [
        p
        for p in params
        if p["apiVersion"] == kind["apiVersion"]
        and p["kind"] == kind["kind"]
        and p["metadata"]["namespace"] == namespace
    ]


def evaluate(
    policy: Manifest, binding: Manifest, request: Manifest, params: Iterable[Manifest] = ()
) -> Verdict:
    """The verdict of one policy + binding on an AdmissionRequest (with object/oldObject)."""
    spec = policy["spec"]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    if not any(_matches(r, request) for r in spec["matchConstraints"]["resourceRules"]):
        return Verdict(allowed=True)
    selected = _select_params(policy, binding, request, params)
    if not selected:
        action = binding["spec"]["paramRef"].get("parameterNotFoundAction", "Deny")
        return Verdict(
            allowed=action == "Allow", messages=[] if action == "Allow" else ["no params"]
        )
    failures: list[str] = []
    for param in selected:
        activation: Manifest = {
            "request": request,
            "object": request.get("object"),
            "oldObject": request.get("oldObject"),
            "params": param,
        }
        if not all(_evaluate(c["expression"], activation) for c in spec.get("matchConditions", [])):
            continue
        variables: Manifest = {}
        for variable in spec.get("variables", []):
            variables[variable["name"]] = _evaluate(
                variable["expression"], {**activation, "variables": variables}
            )
        activation["variables"] = variables
        for validation in spec["validations"]:
            if _evaluate(validation["expression"], activation) is True:
                continue
            if "messageExpression" in validation:
                failures.append(_evaluate(validation["messageExpression"], activation))
            else:
                failures.append(validation.get("message", f"failed: {validation['expression']}"))
    actions = binding["spec"]["validationActions"]
    if failures and "Deny" in actions:
        return Verdict(allowed=False, messages=failures)
    return Verdict(allowed=True, warnings=failures if "Warn" in actions else [])


def admission_request(
    operation: str,
    resource: str,
    username: str,
    groups: list[str] | None,
    namespace: str,
    obj: Manifest | None,
    old: Manifest | None = None,
    sub_resource: str = "",
) -> Manifest:
    """An admission.k8s.io/v1 AdmissionRequest as the API server hands it to policies."""
    kind = {"archiveschedules": "ArchiveSchedule", "archiveruns": "ArchiveRun"}[resource]
    user_info: Manifest = {"username": username, "uid": f"uid-{username}"}
    if groups is not None:
        user_info["groups"] = groups
    named = obj or old or {}
    request: Manifest = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "archive.auriora.io", "version": "v1alpha1", "kind": kind},
        "resource": {"group": "archive.auriora.io", "version": "v1alpha1", "resource": resource},
        "requestKind": {"group": "archive.auriora.io", "version": "v1alpha1", "kind": kind},
        "name": named.get("metadata", {}).get("name", ""),
        "namespace": namespace,
        "operation": operation,
        "userInfo": user_info,
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return request
