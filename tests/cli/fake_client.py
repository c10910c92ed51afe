"""An in-memory stand-in for archive_operator.cli.client.Client, recording every call."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from archive_operator.cli.client import Resource
from archive_operator.cli.errors import ApiError

Obj = dict[str, Any]
WRITES = {"create", "patch", "delete"}


def status(code: int, reason: str, message: str, **details: Any) -> Obj:
    return {
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": details,
    }


class FakeClient:
    def __init__(self, objects: list[Obj] | None = None, namespace: str = "default") -> None:
        self.namespace = namespace
        self.user_name = "alice-admin"
        self.calls: list[tuple[str, str, str | None, str | None]] = []
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.rv = 100
        self.watch_events: list[Obj] = []
        self.logs: dict[str, bytes] = {}
        self.fail: dict[str, ApiError] = {}  # verb -> error to raise
        self._suffix = 0
        for obj in objects or []:
            self._store(obj)

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def plural(obj: Obj) -> str:
        return {"ArchiveSchedule": "archiveschedules", "ArchiveRun": "archiveruns", "Pod": "pods"}[
            obj["kind"]
        ]

    def _store(self, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", self.namespace)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{meta['name']}")
        self.objects[(self.plural(obj), meta["namespace"], meta["name"])] = obj
        return copy.deepcopy(obj)

    def writes(self) -> list[tuple[str, str, str | None, str | None]]:
        return [c for c in self.calls if c[0] in WRITES]

    def _record(
        self, verb: str, resource: Resource, namespace: str | None, name: str | None
    ) -> None:
        self.calls.append((verb, resource.plural, namespace, name))
        if verb in self.fail:
            raise self.fail[verb]

    def _missing(self, verb: str, resource: Resource, namespace: str, name: str) -> ApiError:
        return ApiError(
            404,
            status(404, "NotFound", f'{resource.plural} "{name}" not found', name=name),
            verb=verb,
            resource=resource.qualified,
            namespace=namespace,
            name=name,
        )

    # --- the Client interface -------------------------------------------------------------

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        self._record("get", resource, namespace, name)
        obj = self.objects.get((resource.plural, namespace, name))
        if obj is None:
            raise self._missing("get", resource, namespace, name)
        return copy.deepcopy(obj)

    def list(
        self, resource: Resource, namespace: str | None, label_selector: str | None = None
    ) -> Obj:
        self._record("list", resource, namespace, None)
        items = [
            copy.deepcopy(o)
            for (plural, ns, _), o in sorted(self.objects.items())
            if plural == resource.plural and (namespace is None or ns == namespace)
        ]
        if label_selector:
            pairs = dict(p.split("=", 1) for p in label_selector.split(","))
            items = [
                i
                for i in items
                if all((i["metadata"].get("labels") or {}).get(k) == v for k, v in pairs.items())
            ]
        return {"kind": "List", "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        self._record("create", resource, namespace, body["metadata"].get("name"))
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        if "generateName" in meta:
            self._suffix += 1
            meta["name"] = f"{meta.pop('generateName')}{self._suffix:05d}"
        meta["namespace"] = namespace
        meta.setdefault("creationTimestamp", "2024-12-19T10:00:00Z")
        if (resource.plural, namespace, meta["name"]) in self.objects:
            raise ApiError(
                409,
                status(409, "AlreadyExists", "exists"),
                verb="create",
                resource=resource.qualified,
                namespace=namespace,
                name=meta["name"],
            )
        return self._store(obj)

    def patch(self, resource: Resource, namespace: str, name: str, patch: Obj) -> Obj:
        self._record("patch", resource, namespace, name)
        obj = self.objects.get((resource.plural, namespace, name))
        if obj is None:
            raise self._missing("patch", resource, namespace, name)
        merged = copy.deepcopy(obj)
        for key, value in (patch.get("spec") or {}).items():
            merged["spec"][key] = value
        self.last_patch = patch
        return self._store(merged)

    def delete(self, resource: Resource, namespace: str, name: str, uid: str | None = None) -> Obj:
        self._record("delete", resource, namespace, name)
        key = (resource.plural, namespace, name)
        if key not in self.objects:
            raise self._missing("delete", resource, namespace, name)
        del self.objects[key]
        return {"kind": "Status", "status": "Success"}

    def watch(
        self,
        resource: Resource,
        namespace: str,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[Obj]:
        self._record("watch", resource, namespace, None)
        events, self.watch_events = self.watch_events, []
        yield from events

    def pod_log(
        self, namespace: str, pod: str, container: str | None, follow: bool
    ) -> Iterator[bytes]:
        self.calls.append(("log", "pods", namespace, pod))
        yield self.logs.get(pod, b"")

    def close(self) -> None:
        pass
