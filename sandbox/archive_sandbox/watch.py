"""Watch subscriptions and the bounded event history they replay from."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .resources import StorageKey
from .selectors import Matcher


@dataclass(frozen=True)
class Event:
    rv: int
    key: StorageKey
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    old: (
        dict[str, Any] | None
    )  # the previous state, to turn MODIFIED into ADDED/DELETED for selectors


class Watch:
    """One watcher: filters events for one resource (and namespace, selectors) into a queue.

    Objects in the queue are the store's own (immutable by convention) dicts: never mutate them.
    """

    def __init__(
        self,
        key: StorageKey,
        namespace: str | None,
        label_match: Matcher | None,
        field_match: Matcher | None,
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.label_match = label_match
        self.field_match = field_match
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.closed = False

    def matches(self, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if self.label_match and not self.label_match(obj):
            return False
        return not (self.field_match and not self.field_match(obj))

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        now_match = self.matches(event.obj)
        if event.type == "MODIFIED" and event.old is not None:
            was_match = self.matches(event.old)
            if now_match and was_match:
                self.queue.put_nowait(("MODIFIED", event.obj))
            elif now_match:
                self.queue.put_nowait(("ADDED", event.obj))
            elif was_match:
                self.queue.put_nowait(("DELETED", event.obj))
        elif now_match:
            self.queue.put_nowait((event.type, event.obj))

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        self.queue.put_nowait((kind, obj))

    async def next(self, timeout: float | None) -> tuple[str, dict[str, Any]] | None:
        """The next event, or None when `timeout` seconds pass without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class History:
    """The last `size` events, for watches that resume from a resourceVersion."""

    def __init__(self, size: int) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self.compacted_rv = 0  # events at or below this rv are gone

    def append(self, event: Event) -> None:
        if self._events.maxlen and len(self._events) == self._events.maxlen:
            self.compacted_rv = self._events[0].rv
        self._events.append(event)

    def since(self, rv: int, key: StorageKey) -> Iterable[Event]:
        return [e for e in self._events if e.rv > rv and e.key == key]
