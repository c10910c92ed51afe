"""Conformance: discovery, CRUD, errors, selectors, pagination and concurrency via the real
`kubernetes` client."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
import requests

from tests.fixtures.sandbox import SandboxHandle

from .conftest import GROUP, PLURAL, VERSION, widget

ApiException = kubernetes.client.ApiException


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)  # type: ignore[no-any-return]


def _get(sandbox: SandboxHandle, path: str, **headers: str) -> requests.Response:
    return requests.get(
        sandbox.url + path,
        headers={"Authorization": "Bearer sandbox-admin-token", **headers},
        timeout=5,
    )


def test_health_and_version(sandbox: SandboxHandle, api: Any) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        assert _get(sandbox, path).text == "ok"
    version = kubernetes.client.VersionApi(api).get_code()
    assert version.major == "1" and version.git_version.startswith("v1.")


def test_discovery_lists_builtins_and_crd_resources(sandbox: SandboxHandle, api: Any) -> None:
    assert _get(sandbox, "/api").json()["versions"] == ["v1"]
    groups = {g["name"]: g for g in _get(sandbox, "/apis").json()["groups"]}
    for group in (
        "apps",
        "batch",
        "coordination.k8s.io",
        "events.k8s.io",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        GROUP,
    ):
        assert group in groups
    core = {r["name"]: r for r in _get(sandbox, "/api/v1").json()["resources"]}
    assert core["namespaces"]["namespaced"] is False and core["pods"]["namespaced"] is True
    assert "pods/status" in core and "pods/log" in core
    batch = {r["name"]: r for r in _get(sandbox, "/apis/batch/v1").json()["resources"]}
    assert batch["cronjobs"]["shortNames"] == ["cj"] and "cronjobs/status" in batch
    custom = {r["name"]: r for r in _get(sandbox, f"/apis/{GROUP}/{VERSION}").json()["resources"]}
    assert custom["widgets"]["kind"] == "Widget"
    assert custom["widgets"]["shortNames"] == ["wd"]
    assert custom["widgets"]["categories"] == ["sandboxtest"]
    assert custom["widgets"]["singularName"] == "widget"
    assert "widgets/status" in custom
    assert custom["gizmos"]["namespaced"] is False


def test_default_namespaces_exist(core: kubernetes.client.CoreV1Api) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= names
    assert core.read_namespace("default").status.phase == "Active"


def test_create_get_update_delete_configmap(
    core: kubernetes.client.CoreV1Api, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    created = core.create_namespaced_config_map(
        ns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}}
    )
    meta = created.metadata
    assert meta.uid and meta.resource_version and meta.creation_timestamp
    assert meta.generation is None  # ConfigMaps have no generation in Kubernetes
    created.data["a"] = "2"
    updated = core.replace_namespaced_config_map("cfg", ns, created)
    assert int(updated.metadata.resource_version) > int(meta.resource_version)
    assert core.read_namespaced_config_map("cfg", ns).data == {"a": "2"}
    core.delete_namespaced_config_map("cfg", ns)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("cfg", ns)
    assert exc.value.status == 404
    status = _status(exc.value)
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "cfg" not found',
        "reason": "NotFound",
        "details": {"name": "cfg", "kind": "configmaps"},
        "code": 404,
    }


def test_already_exists_and_stale_update_conflict(
    core: kubernetes.client.CoreV1Api, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    first = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"x": "1"}})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    assert exc.value.status == 409 and _status(exc.value)["reason"] == "AlreadyExists"
    core.patch_namespaced_config_map("c", ns, {"data": {"x": "2"}})
    first.data["x"] = "3"
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("c", ns, first)  # carries the old resourceVersion
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "Conflict"
    assert "the object has been modified" in _status(exc.value)["message"]
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "c",
            ns,
            {"metadata": {"resourceVersion": first.metadata.resource_version}, "data": {"x": "4"}},
        )
    assert exc.value.status == 409


def test_missing_namespace_is_not_found(core: kubernetes.client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "c"}})
    assert exc.value.status == 404
    assert _status(exc.value)["message"] == 'namespaces "no-such-ns" not found'


def test_generate_name_and_invalid_name(
    core: kubernetes.client.CoreV1Api, sandbox_namespace: str
) -> None:
    made = core.create_namespaced_secret(
        sandbox_namespace, {"metadata": {"generateName": "tok-"}, "stringData": {"k": "v"}}
    )
    assert made.metadata.name.startswith("tok-") and len(made.metadata.name) == 9
    assert made.data == {"k": "dg=="} and made.type == "Opaque"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "Bad_Name"}})
    assert exc.value.status == 422
    body = _status(exc.value)
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_label_selectors(core: kubernetes.client.CoreV1Api, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    for name, labels in {"a": {"app": "web", "tier": "front"}, "b": {"app": "db"}, "c": {}}.items():
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})

    def names(selector: str) -> list[str]:
        return [
            c.metadata.name
            for c in core.list_namespaced_config_map(ns, label_selector=selector).items
        ]

    assert names("app=web") == ["a"]
    assert names("app==db") == ["b"]
    assert names("app!=web") == ["b", "c"]
    assert names("app in (web, db)") == ["a", "b"]
    assert names("app notin (web)") == ["b", "c"]
    assert names("tier") == ["a"]
    assert names("!tier") == ["b", "c"]
    assert names("app,!tier") == ["b"]
    with pytest.raises(ApiException) as exc:
        names("app in web")
    assert exc.value.status == 400


def test_field_selectors(core: kubernetes.client.CoreV1Api, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    for name in ("one", "two"):
        core.create_namespaced_event(
            ns,
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": "Widget", "name": f"w-{name}", "namespace": ns},
                "reason": "R",
                "type": "Normal",
            },
        )
    found = core.list_namespaced_event(
        ns, field_selector="involvedObject.name=w-two,involvedObject.kind=Widget"
    ).items
    assert [e.metadata.name for e in found] == ["two"]
    assert [
        e.metadata.name
        for e in core.list_namespaced_event(ns, field_selector="metadata.name!=one").items
    ] == ["two"]
    all_ns = core.list_event_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
    assert len(all_ns) == 2


def test_pagination_with_limit_and_continue(
    core: kubernetes.client.CoreV1Api, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    for i in range(5):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}"}})
    page = core.list_namespaced_config_map(ns, limit=2)
    seen = [c.metadata.name for c in page.items]
    assert page.metadata.remaining_item_count == 3
    while page.metadata._continue:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
        seen += [c.metadata.name for c in page.items]
    assert seen == [f"c{i}" for i in range(5)]
    assert int(page.metadata.resource_version) > 0


def test_dry_run_does_not_store(core: kubernetes.client.CoreV1Api, sandbox_namespace: str) -> None:
    made = core.create_namespaced_config_map(
        sandbox_namespace, {"metadata": {"name": "dry"}}, dry_run="All"
    )
    assert made.metadata.name == "dry"
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", sandbox_namespace)
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "real"}})
    core.delete_namespaced_config_map("real", sandbox_namespace, dry_run="All")
    assert core.read_namespaced_config_map("real", sandbox_namespace).metadata.name == "real"


def test_delete_preconditions(core: kubernetes.client.CoreV1Api, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    core.create_namespaced_config_map(ns, {"metadata": {"name": "p"}})
    body = kubernetes.client.V1DeleteOptions(
        preconditions=kubernetes.client.V1Preconditions(uid="not-the-uid")
    )
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map("p", ns, body=body)
    assert exc.value.status == 409 and "Precondition failed" in _status(exc.value)["message"]


def test_delete_collection_by_label(
    core: kubernetes.client.CoreV1Api, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x1", "labels": {"drop": "yes"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x2", "labels": {"drop": "yes"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "keep"}})
    core.delete_collection_namespaced_config_map(ns, label_selector="drop=yes")
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["keep"]


def test_unknown_resource_and_method(sandbox: SandboxHandle, api: Any) -> None:
    response = _get(sandbox, "/apis/nope.example.com/v1/things")
    assert response.status_code == 404 and response.json()["kind"] == "Status"
    response = requests.put(
        sandbox.url + "/api/v1/namespaces/default/configmaps",
        headers={"Authorization": "Bearer sandbox-admin-token"},
        json={},
        timeout=5,
    )
    assert response.status_code == 405 and response.json()["reason"] == "MethodNotAllowed"


def test_bad_token_is_unauthorized(sandbox: SandboxHandle) -> None:
    response = requests.get(
        sandbox.url + "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"}, timeout=5
    )
    assert response.status_code == 401 and response.json()["reason"] == "Unauthorized"


def test_crd_scoped_resources(
    custom: kubernetes.client.CustomObjectsApi, sandbox_namespace: str
) -> None:
    gizmo = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gizmo",
        "metadata": {"name": f"g-{sandbox_namespace}"},
        "anything": {"goes": 1},
    }
    made = custom.create_cluster_custom_object(GROUP, VERSION, "gizmos", gizmo)
    assert "namespace" not in made["metadata"] and made["anything"] == {"goes": 1}
    custom.delete_cluster_custom_object(GROUP, VERSION, "gizmos", gizmo["metadata"]["name"])
    made = custom.create_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, widget("w")
    )
    assert made["metadata"]["namespace"] == sandbox_namespace
    assert made["metadata"]["generation"] == 1
    listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert listed["kind"] == "WidgetList"
    assert any(i["metadata"]["name"] == "w" and i["kind"] == "Widget" for i in listed["items"])
