"""What the sandbox's controllers share: a de-duplicating work queue and an event recorder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..meta import rfc3339
from ..store import Store

log = logging.getLogger(__name__)


class WorkQueue:
    """Keys to reconcile, one at a time; a key queued twice before it runs is handled once."""

    def __init__(self, name: str, handler: Callable[[Any], Awaitable[None]]) -> None:
        self.name = name
        self._handler = handler
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, key: Hashable) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"sandbox-{self.name}"
        )

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def join(self) -> None:
        await self._queue.join()

    @property
    def idle(self) -> bool:
        return not self._queued and self._queue.empty()

    async def _run(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self._handler(key)
            except Exception:  # a controller bug must not stop the controller
                log.exception("sandbox %s: reconciling %s failed", self.name, key)
            finally:
                self._queue.task_done()


class EventRecorder:
    """core/v1 Events about objects, as controllers and the kubelet record them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events = store.resource("", "events")

    async def record(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        now = rfc3339(self.store.now())
        event = {
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {
                "kind": obj.get("kind"),
                "apiVersion": obj.get("apiVersion"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "archive-sandbox",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        ns = self.store.peek(("", "namespaces"), "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return  # no events into a namespace that is going away
        with contextlib.suppress(Exception):
            await self.store.create(self.events, namespace, event, field_manager=component)
