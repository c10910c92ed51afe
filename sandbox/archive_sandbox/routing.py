"""Parse a request path into what Kubernetes calls RequestInfo (verb, group, resource, ...)."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class RequestInfo:
    is_resource: bool
    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()  # path segments after /api/<v> or /apis/<g>/<v>


def parse_request(method: str, path: str, watch_param: bool) -> RequestInfo:
    segments = [s for s in path.split("/") if s]
    method = method.upper()
    if segments[:1] == ["api"] and len(segments) >= 2:
        group, version, rest = "", segments[1], segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return RequestInfo(False, method.lower(), parts=tuple(segments))
    watch = watch_param
    if rest[:1] == ["watch"]:
        watch, rest = True, rest[1:]
    if not rest:
        return RequestInfo(False, method.lower(), group, version, parts=())
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = "/".join(rest[2:])
    if resource == "namespaces" and name and not namespace:
        namespace = name
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = method.lower()
    return RequestInfo(
        True, verb, group, version, resource, subresource, namespace, name, tuple(rest)
    )
