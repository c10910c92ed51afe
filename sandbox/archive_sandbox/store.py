"""The in-process object store: the API server's semantics without HTTP.

Everything the HTTP layer does goes through `Store`, and in-process controllers (the CronJob,
Job and kubelet controllers of the sandbox) use the same async methods, so they see exactly what
HTTP clients see: resourceVersions, generations, watch events, finalizers, garbage collection.

    store = Store()
    await store.start()                      # starts the garbage collector
    jobs = store.resource("batch", "jobs")   # a ResourceType (preferred version)
    job = await store.create(jobs, "default", {...})
    await store.patch(jobs, "default", job["metadata"]["name"], "merge", {"status": {...}},
                      subresource="status")
    watch = await store.watch(jobs, namespace=None)          # ADDED events for what exists,
    kind, obj = await watch.next(timeout=1.0) or ...         # then live events
    store.unwatch(watch)
    obj, deleted_now = await store.delete(jobs, "default", name, propagation_policy="Foreground")
    await store.gc.settle()                  # wait for garbage collection to finish

Errors are raised as `errors.ApiError` (code, reason, message: the Status Kubernetes sends).
Reads that must not await: `peek(storage_key, namespace, name)`, `iter_objects`, `select`.
Updates and patches that change nothing keep the resourceVersion and emit no event.

Stored objects are never mutated in place: every write stores a new dict, so objects handed
out (and queued for watchers) stay valid snapshots. Callers must not mutate them either. A new
version shares the values a write left alone with the previous one (copy on write: no deep
copy per write); what callers pass in is always copied, so it never reaches stored state.

Hooks for later work:
- `add_admission(storage_key, fn)`: fn(operation, obj, old) -> obj runs on create/update
  (mutating and validating; raise ApiError to reject). Built-in defaults use it.
- `listeners`: callables (event: Event) -> None run for every stored change (controllers).
- `force_update(storage_key, obj, mutate)`: a controller-internal write without admission.
- `delete_stored(rt, obj, policy)`: delete an object already looked up (used by the collector).
- `now`: the clock (injectable) for timestamps and table ages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import defaults
from . import errors as err
from .copies import deep_copy
from .crds import CustomResources
from .gc import GarbageCollector
from .managedfields import record_update, server_side_apply
from .meta import (
    SYSTEM_META_FIELDS,
    generate_name,
    name_errors,
    new_uid,
    rfc3339,
    spec_part,
    utcnow,
)
from .patch import json_patch, merge_patch, strategic_merge_patch
from .resources import CRD_STORAGE_KEY, NAMESPACES_KEY, Registry, ResourceType
from .store_base import (
    DEFAULT_NAMESPACES,
    PATCH_TYPES,
    StoreBase,
    Warnings,
    _last_applied,
    _same_content,
)

__all__ = ["PATCH_TYPES", "Store"]


class Store(StoreBase):
    """The API verbs: create, update, patch (incl. server-side apply), delete."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        history_size: int = 20000,
    ) -> None:
        super().__init__(registry, now=now, history_size=history_size)
        self.custom = CustomResources(self)
        self.gc = GarbageCollector(self)
        defaults.install(self)
        for name in DEFAULT_NAMESPACES:
            self._put_new(self.resource("", "namespaces"), self._namespace_object(name))

    async def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str = "Warn",
        operation: str = "Update",
        warnings: Warnings | None = None,
    ) -> dict[str, Any]:
        obj = self._check_body(rt, body)
        meta = obj["metadata"]
        ns = self._ns(rt, namespace)
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise err.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            ns = ns or meta.get("namespace", "")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        name = meta.get("name") or ""
        self._check_namespace(rt, ns, name, creating=True)
        if not name:
            raise err.invalid(
                rt.kind,
                rt.group,
                "",
                [
                    (
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )
                ],
            )
        if (why := name_errors(name)) and rt.kind != "CustomResourceDefinition":
            raise err.invalid(
                rt.kind,
                rt.group,
                name,
                [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {why}')],
            )
        if self.peek(rt.storage_key, ns, name) is not None:
            raise err.already_exists(rt.plural, rt.group, name)
        for f in SYSTEM_META_FIELDS:
            meta.pop(f, None)
        if "status" in rt.subresources and rt.kind != "Namespace":
            obj.pop("status", None)
        obj = self._admit(rt, "CREATE", obj, None, field_validation, warnings)
        meta = obj["metadata"]
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = rfc3339(self.now())
        if rt.has_generation:
            meta["generation"] = 1
        manager = field_manager or "unknown"
        meta["managedFields"] = record_update(
            [], manager, rt.api_version, None, obj, meta["creationTimestamp"], operation=operation
        )
        if not meta["managedFields"]:
            del meta["managedFields"]
        if dry_run:
            return obj
        stored = self._put_new(rt, obj)
        if rt.storage_key == CRD_STORAGE_KEY:
            self.custom.crd_stored(stored)
        return self.view(rt, self.peek(rt.storage_key, ns, name) or stored)

    # --- update and patch -------------------------------------------------------------

    async def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str = "Warn",
        warnings: Warnings | None = None,
    ) -> dict[str, Any]:
        ns = self._ns(rt, namespace)
        self._check_namespace(rt, ns, name, creating=False)
        old = self.peek(rt.storage_key, ns, name)
        if old is None:
            raise err.not_found(rt.plural, rt.group, name)
        obj = self._check_body(rt, body)
        body_name = obj["metadata"].get("name")
        if body_name and body_name != name:
            raise err.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        rv = obj["metadata"].get("resourceVersion")
        if not rv and rt.custom:
            raise err.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        return self._write(
            rt,
            old,
            obj,
            subresource,
            dry_run,
            field_manager or "unknown",
            field_validation,
            warnings,
        )

    async def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool = False,
        field_validation: str = "Warn",
        warnings: Warnings | None = None,
    ) -> dict[str, Any]:
        """patch_type: "merge", "json", "strategic" (built-ins only) or "apply" (server-side)."""
        ns = self._ns(rt, namespace)
        old = self.peek(rt.storage_key, ns, name)
        if patch_type == "apply":
            return await self._apply(
                rt,
                ns,
                name,
                old,
                body,
                subresource,
                dry_run,
                field_manager,
                force,
                field_validation,
                warnings,
            )
        self._check_namespace(rt, ns, name, creating=False)
        if old is None:
            raise err.not_found(rt.plural, rt.group, name)
        current = self.view(rt, old)
        if patch_type == "merge":
            if not isinstance(body, dict):
                raise err.bad_request("a merge patch must be a JSON object")
            patched = merge_patch(current, body)
        elif patch_type == "json":
            patched = json_patch(current, body)
        elif patch_type == "strategic":
            if rt.custom:
                raise err.unsupported_media_type(
                    "application/strategic-merge-patch+json",
                    [
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/apply-patch+yaml",
                    ],
                )
            patched = strategic_merge_patch(current, body)
        else:
            raise err.unsupported_media_type(patch_type, list(PATCH_TYPES))
        obj = self._check_body(rt, patched, shared=True)
        return self._write(
            rt,
            old,
            obj,
            subresource,
            dry_run,
            field_manager or "unknown",
            field_validation,
            warnings,
        )

    async def _apply(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        old: dict[str, Any] | None,
        body: Any,
        subresource: str | None,
        dry_run: bool,
        field_manager: str | None,
        force: bool,
        field_validation: str,
        warnings: Warnings | None,
    ) -> dict[str, Any]:
        if not field_manager:
            raise err.bad_request(
                "PATCH, application/apply-patch+yaml requests must specify a fieldManager"
            )
        config = self._check_body(rt, body)
        if config["metadata"].get("name") not in (None, name):
            raise err.bad_request(
                f"the name of the object ({config['metadata'].get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        config["metadata"]["name"] = name
        if old is None:
            if subresource:
                raise err.not_found(rt.plural, rt.group, name)
            created = await self.create(
                rt,
                ns,
                config,
                dry_run=dry_run,
                field_manager=field_manager,
                field_validation=field_validation,
                operation="Apply",
                warnings=warnings,
            )
            return created
        self._check_namespace(rt, ns, name, creating=False)
        rv = config["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise err.stale(rt.plural, rt.group, name)
        config_meta = {k: v for k, v in config["metadata"].items() if k not in SYSTEM_META_FIELDS}
        config = {**config, "metadata": config_meta}
        skip_status = "status" in rt.subresources and subresource != "status"
        last_applied = _last_applied(old)
        merged, managed = server_side_apply(
            self.view(rt, old),
            config,
            old["metadata"].get("managedFields") or [],
            field_manager,
            rt.api_version,
            rfc3339(self.now()),
            force=force,
            subresource=subresource,
            skip_status=skip_status,
            last_applied=last_applied,
        )
        merged["metadata"]["managedFields"] = managed
        return self._write(rt, old, merged, subresource, dry_run, None, field_validation, warnings)

    def _write(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        obj: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
        manager: str | None,
        field_validation: str,
        warnings: Warnings | None,
    ) -> dict[str, Any]:
        """Turn a proposed new state into the stored one: the shared tail of update and patch."""
        name = old["metadata"]["name"]
        old_meta = old["metadata"]
        rv = obj["metadata"].get("resourceVersion")
        if rv and rv != old_meta["resourceVersion"]:
            raise err.stale(rt.plural, rt.group, name)
        # Values taken from `old` are shared, not copied: stored objects are never mutated, and
        # what follows changes `new` only at its top level and in its (copied) metadata.
        if subresource == "status":
            new = {**old, "metadata": dict(old["metadata"])}
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            new["apiVersion"] = rt.api_version
        elif subresource:
            raise err.method_not_allowed(
                "the server does not allow this method on the requested resource "
                f"({rt.plural}/{subresource})"
            )
        else:
            new = obj
            if "status" in rt.subresources:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        meta = new["metadata"]
        for f in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta["name"] = name
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise err.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        (
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers {sorted(added)!r}",
                        )
                    ],
                )
        if subresource != "status":
            new = self._admit(rt, "UPDATE", new, old, field_validation, warnings)
        else:
            new = self.custom.admit_status(rt, new, old) if rt.custom else new
        meta = new["metadata"]
        if rt.has_generation:
            include_status = "status" not in rt.subresources
            if spec_part(new, include_status) != spec_part(old, include_status):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if manager is not None and meta.get("managedFields") == old_meta.get("managedFields"):
            managed = record_update(
                old_meta.get("managedFields") or [],
                manager,
                rt.api_version,
                old,
                new,
                rfc3339(self.now()),
                subresource,
            )
            if managed:
                meta["managedFields"] = managed
            else:
                meta.pop("managedFields", None)
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if _same_content(new, old):
            return self.view(rt, old)  # a no-op write: no new resourceVersion, no event
        if dry_run:
            return new
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not self._blocked(rt, new)
        ):
            return self.view(rt, self._remove(rt.storage_key, new))
        stored = self._put_existing(rt.storage_key, old, new)
        if rt.storage_key == CRD_STORAGE_KEY:
            self.custom.crd_stored(stored)
        return self.view(rt, self.peek(rt.storage_key, meta.get("namespace", ""), name) or stored)

    # --- delete -----------------------------------------------------------------------

    async def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Delete or mark for deletion. Returns (object, deleted_now)."""
        ns = self._ns(rt, namespace)
        self._check_namespace(rt, ns, name, creating=False)
        obj = self.peek(rt.storage_key, ns, name)
        if obj is None:
            raise err.not_found(rt.plural, rt.group, name)
        meta = obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise err.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {meta['uid']}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise err.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        if propagation_policy not in (None, "", "Background", "Foreground", "Orphan"):
            raise err.invalid(
                "DeleteOptions",
                "",
                "",
                [
                    (
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        f'Unsupported value: "{propagation_policy}": supported values: '
                        '"Foreground", "Background", "Orphan", "nil"',
                    )
                ],
            )
        if dry_run:
            return self.view(rt, obj), False
        policy = propagation_policy or (
            "Orphan" if rt.storage_key == ("batch", "jobs") else "Background"
        )
        return self.delete_stored(rt, obj, policy)

    def delete_stored(
        self, rt: ResourceType, obj: dict[str, Any], policy: str
    ) -> tuple[dict[str, Any], bool]:
        """Delete an object already looked up, with a propagation policy (also used by GC)."""
        meta = obj["metadata"]
        if policy == "Orphan":
            self.gc.orphan_dependents(meta["uid"])
        finalizers = list(meta.get("finalizers") or [])
        if (
            policy == "Foreground"
            and self.gc.has_dependents(meta["uid"])
            and "foregroundDeletion" not in finalizers
        ):
            finalizers.append("foregroundDeletion")
        if finalizers or self._blocked(rt, obj):
            if meta.get("deletionTimestamp") and finalizers == (meta.get("finalizers") or []):
                return self.view(rt, obj), False
            new = deep_copy(obj)
            new_meta = new["metadata"]
            new_meta["finalizers"] = finalizers
            if not new_meta.get("finalizers"):
                new_meta.pop("finalizers")
            if not new_meta.get("deletionTimestamp"):
                new_meta["deletionTimestamp"] = rfc3339(self.now())
                new_meta["deletionGracePeriodSeconds"] = 0
                if rt.has_generation:
                    new_meta["generation"] = int(new_meta.get("generation", 1)) + 1
            if rt.storage_key == NAMESPACES_KEY:
                new["status"] = {"phase": "Terminating"}
            stored = self._put_existing(rt.storage_key, obj, new)
            self.gc.deletion_started(rt, stored, policy)
            return self.view(rt, stored), False
        return self.view(rt, self._remove(rt.storage_key, obj)), True

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        items = self.select(rt, namespace, label_selector, field_selector)
        out = []
        for obj in items:
            if dry_run:
                out.append(obj)
                continue
            policy = propagation_policy or "Background"
            current = self.peek(
                rt.storage_key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
            )
            if current is not None:
                out.append(self.delete_stored(rt, current, policy)[0])
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self._rv)},
            "items": [self.list_item(rt, o) for o in out],
        }
