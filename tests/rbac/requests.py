"""The sandbox's request log → the authorizer's attributes, and the cluster's default RBAC.

Every cluster has bootstrap RBAC that the chart relies on without rendering it: discovery and
health paths are open to every authenticated user (ClusterRoles ``system:discovery`` and
``system:public-info-viewer``, Kubernetes' bootstrap policy). ``CLUSTER_DEFAULTS`` holds those
two, so discovery requests (kopf's ``GET /apis/...``) are judged like any other request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from .rbac import Request, UserInfo

DISCOVERY_URLS = [
    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz",
    "/openapi", "/openapi/*", "/version", "/version/",
]  # fmt: skip
PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def _cluster_role(name: str, urls: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"nonResourceURLs": urls, "verbs": ["get"]}],
    }


def _binding(name: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups
        ],
    }


CLUSTER_DEFAULTS: list[dict[str, Any]] = [
    _cluster_role("system:discovery", DISCOVERY_URLS),
    _binding("system:discovery", ["system:authenticated"]),
    _cluster_role("system:public-info-viewer", PUBLIC_INFO_URLS),
    _binding("system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
]


def service_account(namespace: str, name: str) -> UserInfo:
    """The identity a pod's service-account token authenticates as."""
    return UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


def _field_selector_name(query: str) -> str:
    """``metadata.name=X`` in a list/watch's fieldSelector names the object (RequestInfo)."""
    for selector in parse_qs(query).get("fieldSelector", []):
        for term in selector.split(","):
            key, sep, value = term.partition("=")
            if sep and key == "metadata.name" and not value.startswith("="):
                return value
    return ""


def attributes(record: Mapping[str, Any]) -> Request:
    """One request-log entry (``RequestRecord.to_dict()`` or ``/sandbox/requests`` item)."""
    if not record.get("is_resource", True):
        return Request(
            verb=str(record["method"]).lower(), path=str(record["path"]), is_resource=False
        )
    verb = str(record["verb"])
    name = str(record.get("name") or "")
    if verb in ("list", "watch") and not name:
        name = _field_selector_name(str(record.get("query") or ""))
    return Request(
        verb=verb,
        api_group=str(record.get("api_group") or ""),
        resource=str(record["resource"]),
        subresource=str(record.get("subresource") or ""),
        namespace=str(record.get("namespace") or ""),
        name=name,
    )


def requests_of(records: Iterable[Mapping[str, Any]], user: str) -> list[Request]:
    """The distinct requests ``user`` made, in first-seen order."""
    seen: dict[Request, None] = {}
    for record in records:
        if record.get("user") == user:
            seen.setdefault(attributes(record), None)
    return list(seen)
