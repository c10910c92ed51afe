"""The OpenAPI v3 documents kubectl reads (`/openapi/v3` and one per group-version).

kubectl uses them to learn that the server supports `fieldValidation` (so `kubectl apply`
validates server-side) and, for custom resources, their schemas. Built-in kinds get a bare
`type: object` schema, and their PATCH operations do not advertise strategic merge patch, so
kubectl computes client-side apply patches from its compiled-in types as it does when OpenAPI
lacks a kind. `/openapi/v2` (protobuf only in Kubernetes) is not served: kubectl falls back.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import TYPE_CHECKING, Any

from .resources import ResourceType

if TYPE_CHECKING:
    from .store import Store

WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
PATCH_CONTENT_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _schema_name(rt: ResourceType) -> str:
    reverse = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{reverse}.{rt.version}.{rt.kind}"


def _ref(rt: ResourceType) -> dict[str, Any]:
    return {
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{_schema_name(rt)}"}}
        }
    }


def _op(
    rt: ResourceType, action: str, params: tuple[str, ...] = (), body: tuple[str, ...] = ()
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
        "parameters": [_param(p) for p in params],
        "responses": {"200": {"description": "OK", **_ref(rt)}},
    }
    if body:
        op["requestBody"] = {"content": {ct: {"schema": {"type": "object"}} for ct in body}}
    return op


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = rt.base_path("{namespace}" if rt.namespaced else None)
    item = f"{base}/{{name}}"
    paths = {
        base: {
            "get": _op(
                rt, "list", ("labelSelector", "fieldSelector", "limit", "continue", "watch")
            ),
            "post": _op(rt, "post", WRITE_PARAMS, ("application/json",)),
        },
        item: {
            "get": _op(rt, "get"),
            "put": _op(rt, "put", WRITE_PARAMS, ("application/json",)),
            "patch": _op(rt, "patch", (*WRITE_PARAMS, "force"), PATCH_CONTENT_TYPES),
            "delete": _op(rt, "delete", ("dryRun", "propagationPolicy")),
        },
    }
    if "status" in rt.subresources:
        paths[f"{item}/status"] = {
            "get": _op(rt, "get"),
            "put": _op(rt, "put", WRITE_PARAMS, ("application/json",)),
        }
    return paths


def _component(store: Store, rt: ResourceType) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if rt.custom:
        version = store.custom.version_spec(rt)
        found = (version.get("schema") or {}).get("openAPIV3Schema")
        if found:
            schema = copy.deepcopy(found)
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def group_version_document(store: Store, group: str, version: str) -> dict[str, Any] | None:
    types = store.registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in sorted(types, key=lambda t: t.plural):
        paths.update(_paths(rt))
        schemas[_schema_name(rt)] = _component(store, rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def document(store: Store, parts: list[str], _hash_param: str | None) -> dict[str, Any] | None:
    if parts == ["v3"]:
        paths = {}
        for group, versions in store.registry.groups().items():
            for version in versions:
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                doc = group_version_document(store, group, version)
                if doc is not None:
                    paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(doc)}"}
        return {"paths": paths}
    if parts[:1] == ["v3"] and len(parts) >= 3:
        if parts[1] == "api":
            return group_version_document(store, "", parts[2])
        if parts[1] == "apis" and len(parts) >= 4:
            return group_version_document(store, parts[2], parts[3])
    return None
