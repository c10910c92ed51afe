"""Answers outside the resource API: health, version, discovery, OpenAPI, /sandbox/*."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import errors as err
from . import openapi, resources
from .requestlog import RequestLog
from .responses import GIT_VERSION, error_response, json_response, truthy
from .routing import RequestInfo

if TYPE_CHECKING:
    from .store import Store


async def answer(
    store: Store, request: web.Request, path: str, info: RequestInfo
) -> web.StreamResponse:
    """Health, version, discovery and OpenAPI documents."""
    if request.method not in ("GET", "HEAD"):
        raise err.method_not_allowed()
    registry = store.registry
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok", content_type="text/plain")
    if path == "/version":
        return json_response(
            {
                "major": "1",
                "minor": "37",
                "gitVersion": GIT_VERSION,
                "gitCommit": "sandbox",
                "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.24",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        )
    if path == "/api":
        return json_response(resources.api_versions_doc(request.host))
    if path == "/apis":
        return json_response(resources.api_group_list_doc(registry))
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["apis"] and len(segments) == 2:
        doc = resources.api_group_doc(registry, segments[1])
        if doc is not None:
            return json_response(doc)
    if segments[:1] in (["api"], ["apis"]) and info.version:
        doc = resources.api_resource_list_doc(registry, info.group, info.version)
        if doc is not None:
            return json_response(doc)
    if segments[:1] == ["openapi"]:
        doc = openapi.document(store, segments[1:], request.query.get("hash"))
        if doc is not None:
            return json_response(doc)
    raise err.ApiError(404, "NotFound", "the server could not find the requested resource")


async def sandbox_endpoint(
    store: Store, requests: RequestLog, request: web.Request
) -> web.StreamResponse:
    """The sandbox-only endpoints: the request log and waiting for garbage collection."""
    path = request.path.rstrip("/")
    if path == "/sandbox/requests" and request.method == "GET":
        since = int(request.query.get("since", "0") or 0)
        records = requests.since(since)
        if truthy(request.query.get("writes")):
            records = [r for r in records if r.is_write]
        return json_response({"mark": requests.mark(), "items": [r.to_dict() for r in records]})
    if path == "/sandbox/requests/mark" and request.method in ("POST", "GET"):
        return json_response({"mark": requests.mark()})
    if path == "/sandbox/requests" and request.method == "DELETE":
        requests.clear()
        return json_response({"mark": requests.mark()})
    if path == "/sandbox/settle" and request.method == "POST":
        await store.gc.settle()
        return json_response({"resourceVersion": str(store.resource_version)})
    return error_response(
        err.ApiError(404, "NotFound", f"no sandbox endpoint {request.method} {path}")
    )
