"""What the kubelet needs of an API server, and its in-process implementation for the sandbox.

The kubelet (kubelet.py) runs pods; it reads and writes the cluster only through a `NodeAPI`:

- `StoreNodeAPI` (here): the sandbox's own store, in process. The node takes every pod and binds
  it itself (the sandbox has no scheduler); a deleted pod is gone at once (no graceful deletion).
- `RestNodeAPI` (node_agent.py): any API server through a kubeconfig, as a real kubelet does:
  pods bound to this node by the real scheduler, a watch, graceful deletion finished by the node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .controllers.base import EventRecorder
from .store import Store
from .watch import Event

PODS = ("", "pods")
REFERENCE_KINDS = {
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}

# (event type, pod) for every change of a pod this node may run.
PodListener = Callable[[str, dict[str, Any]], None]
# A Secret, ConfigMap or claim in this namespace (None: any) may have appeared.
ReferenceListener = Callable[[str | None], None]


class NodeAPI(Protocol):
    node_name: str

    def subscribe(self, on_pod: PodListener, on_reference: ReferenceListener) -> None: ...

    def unsubscribe(self) -> None: ...

    def pods(self) -> Iterable[dict[str, Any]]:
        """The pods known now (to queue at start-up)."""
        ...

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The latest known state of a pod (from a cache: no request)."""
        ...

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret, ConfigMap or PersistentVolumeClaim read by `fetch_references` (no request)."""
        ...

    async def fetch_references(self, pod: dict[str, Any]) -> None:
        """Read what the pod's env and volumes name, so that `lookup` can answer."""
        ...

    async def bind(self, pod: dict[str, Any]) -> dict[str, Any]:
        """Bind an unscheduled pod to this node (only where no scheduler does it)."""
        ...

    async def write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None: ...

    async def record(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None: ...

    async def finish_deletion(self, pod: dict[str, Any]) -> None:
        """The pod's processes are gone: complete its graceful deletion (a no-op where none)."""
        ...


class StoreNodeAPI:
    """The sandbox's node: every pod of the store, read and written in process."""

    node_name = "sandbox-node"

    def __init__(self, store: Store, events: EventRecorder) -> None:
        self.store = store
        self.events = events
        self.pods_rt = store.resource(*PODS)
        self._listener: Callable[[Event], None] | None = None

    def subscribe(self, on_pod: PodListener, on_reference: ReferenceListener) -> None:
        references = {("", plural) for plural in REFERENCE_KINDS.values()}

        def listener(event: Event) -> None:
            if event.key == PODS:
                on_pod(event.type, event.obj)
            elif event.key in references:
                on_reference(event.obj["metadata"].get("namespace"))

        self._listener = listener
        self.store.listeners.append(listener)

    def unsubscribe(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(ValueError):
                self.store.listeners.remove(self._listener)
            self._listener = None

    def pods(self) -> Iterable[dict[str, Any]]:
        return list(self.store.iter_objects(PODS))

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.peek(PODS, namespace, name)

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.peek(("", REFERENCE_KINDS[kind]), namespace, name)

    async def fetch_references(self, pod: dict[str, Any]) -> None:
        return None  # the store is in process: lookups read it directly

    async def bind(self, pod: dict[str, Any]) -> dict[str, Any]:
        def bind(obj: dict[str, Any]) -> None:
            obj["spec"]["nodeName"] = self.node_name

        bound = self.store.force_update(PODS, pod, bind)
        meta = bound["metadata"]
        await self.events.record(
            bound,
            "Normal",
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {self.node_name}",
            "default-scheduler",
        )
        return bound

    async def write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        current = self.pod(pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
            return
        with contextlib.suppress(Exception):
            await self.store.update(
                self.pods_rt,
                current["metadata"]["namespace"],
                current["metadata"]["name"],
                {**current, "status": status},
                subresource="status",
                field_manager="kubelet",
            )

    async def record(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        await self.events.record(obj, type_, reason, message, component)

    async def finish_deletion(self, pod: dict[str, Any]) -> None:
        return None  # the sandbox deletes pods at once
