"""The core of the object store: indexes, reads, watches and low-level writes.

See `store.Store` (the public class) for the API; verbs that write live there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import errors as err
from .copies import deep_copy
from .managedfields import LAST_APPLIED
from .meta import (
    new_uid,
    rfc3339,
    utcnow,
)
from .resources import NAMESPACES_KEY, Registry, ResourceType, StorageKey
from .selectors import field_matcher, field_selector_name, indexed_requirements, label_matcher
from .watch import Event, History, Watch

if TYPE_CHECKING:
    from .crds import CustomResources
    from .gc import GarbageCollector

Admission = Callable[[str, dict[str, Any], dict[str, Any] | None], dict[str, Any]]
ObjectList = list[dict[str, Any]]  # aliases: Store.list shadows `list` in the class
Warnings = list[str]
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}


class StoreBase:
    # Set by `Store.__init__`: both call back into the store's write verbs.
    custom: CustomResources
    gc: GarbageCollector

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        history_size: int = 20000,
    ) -> None:
        self.registry = registry or Registry()
        self.now = now
        self._objects: dict[StorageKey, dict[str, dict[str, dict[str, Any]]]] = {}
        self._by_uid: dict[str, tuple[StorageKey, str, str]] = {}
        # storage key -> namespace -> (label, value) -> names: LISTs by label selector read
        # only the objects that carry the label, not the whole namespace.
        self._labels: dict[StorageKey, dict[str, dict[tuple[str, str], set[str]]]] = {}
        self._rv = 0
        self.history = History(history_size)
        self._watchers: dict[StorageKey, set[Watch]] = {}
        self._admission: dict[StorageKey, list[Admission]] = {}
        self.listeners: list[Callable[[Event], None]] = []

    # --- lifecycle and hooks ---------------------------------------------------------

    async def start(self) -> None:
        self.gc.start()

    async def stop(self) -> None:
        await self.gc.stop()
        for watchers in self._watchers.values():
            for w in watchers:
                w.closed = True
                w.put("CLOSED", {})

    def add_admission(self, key: StorageKey, fn: Admission) -> None:
        self._admission.setdefault(key, []).append(fn)

    def resource(self, group: str, plural: str, version: str | None = None) -> ResourceType:
        rt = (
            self.registry.get(group, version, plural)
            if version
            else self.registry.preferred(group, plural)
        )
        if rt is None:
            raise err.ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({plural}.{group})",
            )
        return rt

    @property
    def resource_version(self) -> int:
        return self._rv

    # --- reads ------------------------------------------------------------------------

    def _bucket(self, key: StorageKey) -> dict[str, dict[str, dict[str, Any]]]:
        return self._objects.setdefault(key, {})

    def peek(self, key: StorageKey, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def by_uid(self, uid: str) -> dict[str, Any] | None:
        where = self._by_uid.get(uid)
        return self.peek(*where) if where else None

    def iter_objects(self, key: StorageKey, namespace: str | None = None) -> ObjectList:
        bucket = self._objects.get(key, {})
        if namespace is not None:
            return [bucket[namespace][n] for n in sorted(bucket.get(namespace, {}))]
        return [bucket[ns][n] for ns in sorted(bucket) for n in sorted(bucket[ns])]

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.peek(rt.storage_key, self._ns(rt, namespace), name)
        if obj is None:
            raise err.not_found(rt.plural, rt.group, name)
        return self.view(rt, obj)

    def view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as served in `rt`'s version (the sandbox does not convert versions)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version}

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        items = self.select(rt, namespace, label_selector, field_selector)
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if continue_token:
            after = _decode_continue(continue_token)
            items = [o for o in items if _sort_key(o) > after]
        if limit and limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            meta["continue"] = _encode_continue(_sort_key(items[-1]), self._rv)
            meta["remainingItemCount"] = rest
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": [self.list_item(rt, o) for o in items],
        }

    def list_item(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Items of built-in lists carry no kind/apiVersion in JSON, as from a real server."""
        if rt.custom:
            return self.view(rt, obj)
        return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        labels = label_matcher(label_selector)
        fields = field_matcher(field_selector)
        ns = namespace if rt.namespaced and namespace else None
        name = field_selector_name(field_selector)
        if name is not None and ns is not None:
            found = self.peek(rt.storage_key, ns, name)
            candidates = [found] if found else []
        else:
            candidates = self._candidates(rt.storage_key, ns, label_selector)
        return [o for o in candidates if (not labels or labels(o)) and (not fields or fields(o))]

    def _candidates(
        self, key: StorageKey, namespace: str | None, label_selector: str | None
    ) -> ObjectList:
        """Objects the selector may match, in (namespace, name) order: through the label index
        when it requires a label value, else every object. The caller still matches them."""
        required = indexed_requirements(label_selector)
        if not required:
            return self.iter_objects(key, namespace)
        index = self._labels.get(key, {})
        bucket = self._objects.get(key, {})
        out: ObjectList = []
        for ns in [namespace] if namespace is not None else sorted(index):
            pairs = index.get(ns, {})
            # Every requirement must hold: intersect, smallest set first.
            sets = sorted(
                (
                    set().union(*(pairs.get((label, v), ()) for v in values))
                    for label, values in required
                ),
                key=len,
            )
            names = sets[0].intersection(*sets[1:])
            objects = bucket.get(ns, {})
            out.extend(objects[name] for name in sorted(names) if name in objects)
        return out

    def _index_labels(self, key: StorageKey, obj: dict[str, Any], add: bool) -> None:
        meta = obj["metadata"]
        labels = meta.get("labels")
        if not isinstance(labels, dict) or not labels:
            return
        pairs = self._labels.setdefault(key, {}).setdefault(meta.get("namespace", ""), {})
        for label, value in labels.items():
            pair = (str(label), str(value))
            if add:
                pairs.setdefault(pair, set()).add(meta["name"])
            elif pair in pairs:
                pairs[pair].discard(meta["name"])
                if not pairs[pair]:
                    del pairs[pair]

    # --- watch ------------------------------------------------------------------------

    async def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        send_initial_events: bool | None = None,
    ) -> Watch:
        """Subscribe. Without a resourceVersion (or "0") current objects come first as ADDED.

        Raises ApiError 410 when `resource_version` is older than the kept history.
        """
        ns = namespace if rt.namespaced and namespace else None
        w = Watch(rt.storage_key, ns, label_matcher(label_selector), field_matcher(field_selector))
        initial = (
            send_initial_events
            if send_initial_events is not None
            else resource_version in (None, "", "0")
        )
        if initial:
            for obj in self.select(rt, ns, label_selector, field_selector):
                w.put("ADDED", obj)
        if resource_version not in (None, "", "0"):
            try:
                since = int(str(resource_version))
            except ValueError:
                raise err.bad_request(f"invalid resource version: {resource_version}") from None
            if since < self.history.compacted_rv:
                raise err.gone(
                    f"too old resource version: {since} ({self.history.compacted_rv + 1})"
                )
            if not initial:
                for event in self.history.since(since, rt.storage_key):
                    w.offer(event)
        self._watchers.setdefault(rt.storage_key, set()).add(w)
        return w

    def unwatch(self, w: Watch) -> None:
        w.closed = True
        self._watchers.get(w.key, set()).discard(w)

    def _emit(
        self, key: StorageKey, kind: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        event = Event(self._rv, key, kind, obj, old)
        self.history.append(event)
        for w in list(self._watchers.get(key, ())):
            w.offer(event)
        for listener in list(self.listeners):
            listener(event)

    # --- low-level writes (no admission) ------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _put_new(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        meta["resourceVersion"] = self._next_rv()
        ns = meta.get("namespace", "")
        self._bucket(rt.storage_key).setdefault(ns, {})[meta["name"]] = obj
        self._by_uid[meta["uid"]] = (rt.storage_key, ns, meta["name"])
        self._index_labels(rt.storage_key, obj, add=True)
        self.gc.track(obj)
        self._emit(rt.storage_key, "ADDED", obj, None)
        return obj

    def _put_existing(
        self, key: StorageKey, old: dict[str, Any], obj: dict[str, Any]
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        meta["resourceVersion"] = self._next_rv()
        ns = meta.get("namespace", "")
        self._bucket(key)[ns][meta["name"]] = obj
        if old["metadata"].get("labels") != meta.get("labels"):
            self._index_labels(key, old, add=False)
            self._index_labels(key, obj, add=True)
        self.gc.retrack(old, obj)
        self._emit(key, "MODIFIED", obj, old)
        return obj

    def _remove(self, key: StorageKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Drop an object for good: DELETED event, then the collectors take note."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        bucket = self._bucket(key)
        bucket.get(ns, {}).pop(meta["name"], None)
        if ns in bucket and not bucket[ns]:
            del bucket[ns]
        self._by_uid.pop(meta["uid"], None)
        self._index_labels(key, obj, add=False)
        final = {**obj, "metadata": {**meta, "resourceVersion": self._next_rv()}}
        self._emit(key, "DELETED", final, None)
        self.gc.removed(key, final)
        return final

    def _namespace_object(self, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": new_uid(),
                "creationTimestamp": rfc3339(self.now()),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    # --- create -------------------------------------------------------------------------

    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        if not namespace:
            raise err.bad_request(
                "the server could not find the requested resource: namespace is required"
            )
        ns_obj = self.peek(NAMESPACES_KEY, "", namespace)
        if ns_obj is None:
            raise err.not_found("namespaces", "", namespace)
        if creating and ns_obj["metadata"].get("deletionTimestamp"):
            raise err.forbidden(
                rt.plural,
                rt.group,
                name,
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )

    def _check_body(self, rt: ResourceType, body: Any, *, shared: bool = False) -> dict[str, Any]:
        """The body as an object of ``rt`` that the write owns and may change at its top level
        and in its metadata.

        A caller's body is deep-copied: nothing the caller holds can reach the store. A
        ``shared`` body (a patch result: the stored object's values plus copies of the patch's)
        is only copied at those two levels, the rest stays shared with the stored object.
        """
        if not isinstance(body, dict):
            raise err.bad_request(f"the body of the request is not a {rt.kind} object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if kind and kind != rt.kind:
            raise err.bad_request(
                f"the server rejected our request due to an error in our request: kind {kind} "
                f"does not match the expected kind {rt.kind}"
            )
        if api_version and api_version != rt.api_version:
            raise err.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        obj = dict(body) if shared else deep_copy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.get("metadata")
        obj["metadata"] = dict(meta) if isinstance(meta, dict) else {}
        return obj

    def _admit(
        self,
        rt: ResourceType,
        operation: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        field_validation: str,
        warnings: Warnings | None,
    ) -> dict[str, Any]:
        if rt.custom:
            obj = self.custom.admit(rt, obj, old, field_validation, warnings)
        for fn in self._admission.get(rt.storage_key, ()):
            obj = fn(operation, obj, old)
        return obj

    def _blocked(self, rt: ResourceType, obj: dict[str, Any]) -> bool:
        """Namespaces also wait for their spec.finalizers (the namespace controller's)."""
        return rt.storage_key == NAMESPACES_KEY and bool((obj.get("spec") or {}).get("finalizers"))

    # --- helpers for collectors -----------------------------------------------------------

    def force_update(
        self, key: StorageKey, obj: dict[str, Any], mutate: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Controller-internal write without admission (GC, namespace/CRD finalization)."""
        new = deep_copy(obj)
        mutate(new)
        if _same_content(new, obj):
            return obj
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            new["metadata"].pop("finalizers", None)
            rt = self.registry.preferred(*key)
            if rt is None or not self._blocked(rt, new):
                return self._remove(key, new)
        return self._put_existing(key, obj, new)


def _last_applied(obj: dict[str, Any]) -> dict[str, Any] | None:
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a == {**b, "apiVersion": a.get("apiVersion")} or a == b


def _sort_key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _encode_continue(after: str, rv: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": after}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return str(json.loads(raw)["start"])
    except (ValueError, KeyError, TypeError):
        raise err.bad_request(f"invalid continue token: {token!r}") from None
