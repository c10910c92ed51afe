"""Conformance: custom resources — validation, defaults, pruning, status subresource,
generation, patch types and server-side apply."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
import requests

from tests.fixtures.sandbox import SandboxHandle

from .conftest import GROUP, PLURAL, VERSION, widget

ApiException = kubernetes.client.ApiException
BASE = f"/apis/{GROUP}/{VERSION}/namespaces/{{ns}}/{PLURAL}"
AUTH = {"Authorization": "Bearer sandbox-admin-token"}


def _patch(
    sandbox: SandboxHandle, ns: str, name: str, body: Any, ctype: str, sub: str = "", **query: str
) -> requests.Response:
    url = sandbox.url + BASE.format(ns=ns) + f"/{name}" + (f"/{sub}" if sub else "")
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.patch(
        url, data=data, params=query, headers={**AUTH, "Content-Type": ctype}, timeout=5
    )


def test_defaults_applied_and_invalid_rejected_with_kubernetes_message(
    custom: Any, sandbox_namespace: str
) -> None:
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, widget("d", size=5)
    )
    assert made["spec"]["color"] == "blue"  # schema default
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, sandbox_namespace, PLURAL, widget("bad", size=500)
        )
    assert exc.value.status == 422
    body = json.loads(exc.value.body)
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'Widget.sandbox.example.com "bad" is invalid: spec.size: Invalid value: 500'
    )
    assert body["details"]["group"] == GROUP and body["details"]["kind"] == "Widget"
    assert body["details"]["causes"][0]["field"] == "spec.size"
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, sandbox_namespace, PLURAL, widget("bad2", size=500, color="pink")
        )
    message = json.loads(exc.value.body)["message"]
    assert message.startswith(
        'Widget.sandbox.example.com "bad2" is invalid: ['
    )  # several errors: brackets


def test_field_validation_strict_warn_ignore(
    sandbox: SandboxHandle, custom: Any, sandbox_namespace: str
) -> None:
    url = sandbox.url + BASE.format(ns=sandbox_namespace)
    obj = widget("u1", size=1, bogus=True)
    strict = requests.post(
        url, json=obj, params={"fieldValidation": "Strict"}, headers=AUTH, timeout=5
    )
    assert strict.status_code == 400
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.json()["message"]
    warn = requests.post(url, json=obj, params={"fieldValidation": "Warn"}, headers=AUTH, timeout=5)
    assert warn.status_code == 201
    assert (
        'unknown field \\"spec.bogus\\"' in warn.headers["Warning"]
        or 'unknown field "spec.bogus"' in warn.headers["Warning"]
    )
    assert "bogus" not in warn.json()["spec"]  # pruned
    obj["metadata"]["name"] = "u2"
    ignore = requests.post(
        url, json=obj, params={"fieldValidation": "Ignore"}, headers=AUTH, timeout=5
    )
    assert (
        ignore.status_code == 201
        and "Warning" not in ignore.headers
        and "bogus" not in ignore.json()["spec"]
    )


def test_status_subresource_is_separate_from_spec(custom: Any, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, {**widget("s"), "status": {"phase": "ignored"}}
    )
    assert "status" not in made  # status is dropped on create when the subresource is enabled
    after_status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "s", {"status": {"phase": "Ready"}, "spec": {"size": 9}}
    )
    assert after_status["status"] == {"phase": "Ready"} and after_status["spec"]["size"] == 1
    assert after_status["metadata"]["generation"] == 1  # status changes do not bump generation
    after_main = custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "s", {"status": {"phase": "Nope"}, "spec": {"size": 2}}
    )
    assert after_main["status"] == {"phase": "Ready"} and after_main["spec"]["size"] == 2
    assert after_main["metadata"]["generation"] == 2
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "s", {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled["metadata"]["generation"] == 2  # metadata changes do not bump generation


def test_noop_update_keeps_resource_version(custom: Any, sandbox_namespace: str) -> None:
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, widget("n", size=3)
    )
    same = custom.patch_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, "n", {"spec": {"size": 3}}
    )
    assert same["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_update_requires_resource_version_for_custom_resources(
    custom: Any, sandbox_namespace: str
) -> None:
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, widget("rv")
    )
    del made["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as exc:
        custom.replace_namespaced_custom_object(
            GROUP, VERSION, sandbox_namespace, PLURAL, "rv", made
        )
    assert (
        exc.value.status == 422
        and "must be specified for an update" in json.loads(exc.value.body)["message"]
    )


def test_json_patch_and_test_operation(
    sandbox: SandboxHandle, custom: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, widget("j", tags=["a"])
    )
    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": made["metadata"]["resourceVersion"],
        },
        {"op": "add", "path": "/spec/tags/-", "value": "b"},
        {"op": "replace", "path": "/spec/size", "value": 4},
    ]
    response = _patch(sandbox, ns, "j", ops, "application/json-patch+json")
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["tags"] == ["a", "b"] and response.json()["spec"]["size"] == 4
    stale = _patch(sandbox, ns, "j", ops[:1], "application/json-patch+json")
    assert stale.status_code == 422 and stale.json()["kind"] == "Status"
    missing = _patch(
        sandbox, ns, "j", [{"op": "remove", "path": "/spec/nothing"}], "application/json-patch+json"
    )
    assert missing.status_code == 422


def test_strategic_merge_patch_unsupported_for_custom_resources(
    sandbox: SandboxHandle, custom: Any, sandbox_namespace: str
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, sandbox_namespace, PLURAL, widget("smp"))
    response = _patch(
        sandbox,
        sandbox_namespace,
        "smp",
        {"spec": {"size": 2}},
        "application/strategic-merge-patch+json",
    )
    assert response.status_code == 415 and response.json()["reason"] == "UnsupportedMediaType"


def test_server_side_apply_owns_and_removes_fields(
    sandbox: SandboxHandle, custom: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    first = {**widget("ssa", size=1, note="n"), "metadata": {"name": "ssa", "labels": {"a": "1"}}}
    created = _patch(
        sandbox, ns, "ssa", first, "application/apply-patch+yaml", fieldManager="alice"
    )
    assert created.status_code == 201, created.text
    managers = {m["manager"]: m for m in created.json()["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert "f:note" in managers["alice"]["fieldsV1"]["f:spec"]
    second = {**widget("ssa", size=2), "metadata": {"name": "ssa"}}  # note and label dropped
    applied = _patch(
        sandbox, ns, "ssa", second, "application/apply-patch+yaml", fieldManager="alice"
    ).json()
    assert applied["spec"] == {"size": 2, "color": "blue"}
    assert "labels" not in applied["metadata"]
    conflict = _patch(
        sandbox,
        ns,
        "ssa",
        widget("ssa", size=7),
        "application/apply-patch+yaml",
        fieldManager="bob",
    )
    assert conflict.status_code == 409
    assert conflict.json()["message"].startswith(
        'Apply failed with 1 conflict: conflict with "alice"'
    )
    forced = _patch(
        sandbox,
        ns,
        "ssa",
        widget("ssa", size=7),
        "application/apply-patch+yaml",
        fieldManager="bob",
        force="true",
    )
    assert forced.status_code == 200 and forced.json()["spec"]["size"] == 7
    no_manager = _patch(sandbox, ns, "ssa", widget("ssa"), "application/apply-patch+yaml")
    assert no_manager.status_code == 400


def test_server_side_apply_on_builtin_keyed_lists(
    sandbox: SandboxHandle, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    url = f"{sandbox.url}/apis/batch/v1/namespaces/{ns}/cronjobs/cj"

    def cronjob(env: list[dict[str, str]]) -> dict[str, Any]:
        container = {"name": "main", "image": "runner:1", "env": env}
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "cj"},
            "spec": {
                "schedule": "0 1 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {"spec": {"containers": [container], "restartPolicy": "Never"}}
                    }
                },
            },
        }

    def apply(body: dict[str, Any]) -> requests.Response:
        return requests.patch(
            url,
            data=json.dumps(body),
            params={"fieldManager": "op"},
            headers={**AUTH, "Content-Type": "application/apply-patch+yaml"},
            timeout=5,
        )

    made = apply(cronjob([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
    assert made.status_code == 201, made.text
    container = made.json()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"  # server defaults
    after = apply(cronjob([{"name": "A", "value": "1"}])).json()
    env = after["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}]
    again = apply(cronjob([{"name": "A", "value": "1"}])).json()
    assert again["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]  # no-op


def test_crd_status_conditions(api: Any) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(api)
    crd = ext.read_custom_resource_definition("widgets.sandbox.example.com")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "Widget" and crd.status.stored_versions == ["v1"]
    assert "customresourcecleanup.apiextensions.k8s.io" in crd.metadata.finalizers


def test_invalid_crd_rejected(api: Any) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(api)
    bad = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    with pytest.raises(ApiException) as exc:
        ext.create_custom_resource_definition(bad)
    assert exc.value.status == 422 and "metadata.name" in json.loads(exc.value.body)["message"]
