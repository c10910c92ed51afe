"""Garbage collection by ownerReferences, and the namespace and CRD finalizers.

Like Kubernetes these run asynchronously after the request that triggered them: a deleted
owner's dependents disappear shortly after, not within the DELETE call. `await gc.settle()`
waits until all pending work is done (useful in tests and controllers).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from .meta import owner_uids
from .resources import CRD_STORAGE_KEY, NAMESPACES_KEY, ResourceType, StorageKey

if TYPE_CHECKING:
    from .store import Store

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class GarbageCollector:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids
        self._queue: asyncio.Queue[tuple[str, str]] | None = None
        self._pending: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None

    # --- index maintenance (called by the store on every write) ---------------------------

    def track(self, obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        owners = owner_uids(obj)
        for owner in owners:
            self._dependents.setdefault(owner, set()).add(uid)
        if owners and not any(self.store.by_uid(o) for o in owners):
            self._enqueue("dangling", uid)

    def retrack(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        uid = new["metadata"]["uid"]
        before, after = set(owner_uids(old)), set(owner_uids(new))
        for owner in before - after:
            self._dependents.get(owner, set()).discard(uid)
        for owner in after - before:
            self._dependents.setdefault(owner, set()).add(uid)

    def removed(self, key: StorageKey, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        uid = meta["uid"]
        for owner in owner_uids(obj):
            self._dependents.get(owner, set()).discard(uid)
            self._enqueue("foreground-check", owner)
        if uid in self._dependents:
            self._enqueue("owner-gone", uid)
        if meta.get("namespace"):
            ns = self.store.peek(NAMESPACES_KEY, "", meta["namespace"])
            if ns and ns["metadata"].get("deletionTimestamp"):
                self._enqueue("namespace-check", meta["namespace"])
        if key == CRD_STORAGE_KEY:
            self.store.custom.crd_removed(obj)
        else:
            crd_name = f"{key[1]}.{key[0]}"
            crd = self.store.peek(CRD_STORAGE_KEY, "", crd_name)
            if crd and crd["metadata"].get("deletionTimestamp"):
                self._enqueue("crd-check", crd_name)

    def has_dependents(self, uid: str) -> bool:
        return bool(self._dependents.get(uid))

    def deletion_started(self, rt: ResourceType, obj: dict[str, Any], policy: str) -> None:
        uid = obj["metadata"]["uid"]
        if policy == "Foreground":
            self._enqueue("foreground", uid)
        if rt.storage_key == NAMESPACES_KEY:
            self._enqueue("namespace-cleanup", obj["metadata"]["name"])
        if rt.storage_key == CRD_STORAGE_KEY:
            self._enqueue("crd-cleanup", obj["metadata"]["name"])

    def orphan_dependents(self, uid: str) -> None:
        for dep_uid in sorted(self._dependents.pop(uid, set())):
            self._drop_owner_refs(dep_uid, {uid})

    # --- the worker -------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = asyncio.Queue()
        for job in self._pending:
            self._queue.put_nowait(job)
        self._pending.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-gc")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def settle(self) -> None:
        """Wait until every queued collection step has run."""
        if self._queue is not None:
            await self._queue.join()

    def _enqueue(self, kind: str, arg: str) -> None:
        if self._queue is None:
            self._pending.append((kind, arg))
        else:
            self._queue.put_nowait((kind, arg))

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            kind, arg = await self._queue.get()
            try:
                self._step(kind, arg)
            except Exception:  # a collector bug must not stop collection
                import logging

                logging.getLogger(__name__).exception(
                    "garbage collection step %s %s failed", kind, arg
                )
            finally:
                self._queue.task_done()

    def _step(self, kind: str, arg: str) -> None:
        handler = {
            "owner-gone": self._owner_gone,
            "dangling": self._dangling,
            "foreground": self._foreground,
            "foreground-check": self._foreground_check,
            "namespace-cleanup": self._namespace_cleanup,
            "namespace-check": self._namespace_check,
            "crd-cleanup": self._crd_cleanup,
            "crd-check": self._crd_check,
        }[kind]
        handler(arg)

    # --- steps ------------------------------------------------------------------------------

    def _locate(self, uid: str) -> tuple[ResourceType, dict[str, Any]] | None:
        where = self.store._by_uid.get(uid)
        if where is None:
            return None
        obj = self.store.peek(*where)
        rt = self.store.registry.preferred(*where[0])
        return (rt, obj) if rt and obj else None

    def _owner_gone(self, owner_uid: str) -> None:
        for dep_uid in sorted(self._dependents.pop(owner_uid, set())):
            found = self._locate(dep_uid)
            if found is None:
                continue
            rt, dep = found
            alive = [u for u in owner_uids(dep) if self.store.by_uid(u) is not None]
            if alive:
                dead = set(owner_uids(dep)) - set(alive)
                self._drop_owner_refs(dep_uid, dead)
            elif not dep["metadata"].get("deletionTimestamp"):
                self.store.delete_stored(rt, dep, "Background")

    def _dangling(self, uid: str) -> None:
        found = self._locate(uid)
        if found is None:
            return
        rt, obj = found
        owners = owner_uids(obj)
        orphaned = owners and not any(self.store.by_uid(o) for o in owners)
        if orphaned and not obj["metadata"].get("deletionTimestamp"):
            self.store.delete_stored(rt, obj, "Background")

    def _foreground(self, owner_uid: str) -> None:
        for dep_uid in sorted(self._dependents.get(owner_uid, set())):
            found = self._locate(dep_uid)
            if found and not found[1]["metadata"].get("deletionTimestamp"):
                self.store.delete_stored(found[0], found[1], "Foreground")
        self._foreground_check(owner_uid)

    def _foreground_check(self, owner_uid: str) -> None:
        found = self._locate(owner_uid)
        if found is None:
            return
        rt, owner = found
        finalizers = owner["metadata"].get("finalizers") or []
        if "foregroundDeletion" in finalizers and not self.has_dependents(owner_uid):

            def drop(obj: dict[str, Any]) -> None:
                obj["metadata"]["finalizers"] = [f for f in finalizers if f != "foregroundDeletion"]

            self.store.force_update(rt.storage_key, owner, drop)

    def _drop_owner_refs(self, dep_uid: str, owners: set[str]) -> None:
        found = self._locate(dep_uid)
        if found is None:
            return
        rt, dep = found

        def drop(obj: dict[str, Any]) -> None:
            refs = [
                r for r in obj["metadata"].get("ownerReferences", []) if r.get("uid") not in owners
            ]
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences", None)

        self.store.force_update(rt.storage_key, dep, drop)

    def _namespace_cleanup(self, namespace: str) -> None:
        for key in list(self.store._objects):
            rt = self.store.registry.preferred(*key)
            if rt is None or not rt.namespaced:
                continue
            for obj in self.store.iter_objects(key, namespace):
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.delete_stored(rt, obj, "Background")
        self._namespace_check(namespace)

    def _namespace_check(self, namespace: str) -> None:
        ns = self.store.peek(NAMESPACES_KEY, "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if any(self.store._objects[key].get(namespace) for key in self.store._objects):
            return

        def finish(obj: dict[str, Any]) -> None:
            obj["spec"]["finalizers"] = []

        self.store.force_update(NAMESPACES_KEY, ns, finish)

    def _crd_cleanup(self, crd_name: str) -> None:
        plural, _, group = crd_name.partition(".")
        rt = self.store.registry.preferred(group, plural)
        if rt is not None:
            for obj in self.store.iter_objects(rt.storage_key):
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.delete_stored(rt, obj, "Background")
        self._crd_check(crd_name)

    def _crd_check(self, crd_name: str) -> None:
        crd = self.store.peek(CRD_STORAGE_KEY, "", crd_name)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        plural, _, group = crd_name.partition(".")
        if self.store.iter_objects((group, plural)):
            return

        def finish(obj: dict[str, Any]) -> None:
            fins = obj["metadata"].get("finalizers") or []
            obj["metadata"]["finalizers"] = [f for f in fins if f != CRD_CLEANUP_FINALIZER]

        self.store.force_update(CRD_STORAGE_KEY, crd, finish)
