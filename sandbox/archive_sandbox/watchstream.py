"""Watch responses: a stream of `{"type": ..., "object": ...}` JSON lines."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors as err
from . import tables
from .faults import WATCH_LAG_KEY
from .resources import ResourceType
from .responses import encode_json, truthy, wants_table
from .routing import RequestInfo

if TYPE_CHECKING:
    from .server import SandboxServer
    from .store_base import StoreBase


class EventLines:
    """Watch events encoded once for every stream that sends them.

    An event reaches each matching watcher as the same stored object (stored objects are never
    mutated), so the JSON line is kept per (object, type, apiVersion) for the last few events.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lines: dict[tuple[int, str, str], tuple[dict[str, Any], bytes]] = {}

    def line(self, kind: str, stored: dict[str, Any], rt: ResourceType, store: StoreBase) -> bytes:
        key = (id(stored), kind, rt.api_version)  # the entry holds `stored`: its id stays unique
        cached = self._lines.get(key)
        if cached is not None:
            return cached[1]
        line = encode_event(kind, store.view(rt, stored))
        if len(self._lines) >= self._size:
            del self._lines[next(iter(self._lines))]
        self._lines[key] = (stored, line)
        return line


def _timeout_seconds(raw: str | None) -> float | None:
    """A watch's timeoutSeconds: an integer, as the API server parses it (strconv.ParseInt:
    "300.0" is refused), before the watch starts."""
    if not raw:
        return None
    try:
        return float(int(raw))
    except ValueError:
        raise err.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def encode_event(kind: str, obj: dict[str, Any]) -> bytes:
    return encode_json({"type": kind, "object": obj}) + b"\n"


async def serve_watch(
    server: SandboxServer, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
) -> web.StreamResponse:
    """Stream watch events as JSON lines until the timeout, the client leaves or shutdown."""
    store = server.store
    q = request.query
    field_selector = q.get("fieldSelector")
    if info.name:  # legacy watch on a single object
        field_selector = ",".join(filter(None, [field_selector, f"metadata.name={info.name}"]))
    send_initial = q.get("sendInitialEvents")
    timeout = _timeout_seconds(q.get("timeoutSeconds"))
    try:
        watch = await store.watch(
            rt,
            ns or None,
            label_selector=q.get("labelSelector"),
            field_selector=field_selector,
            resource_version=q.get("resourceVersion"),
            send_initial_events=truthy(send_initial) if send_initial is not None else None,
        )
    except err.ApiError as e:
        if e.code != 410:
            raise
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(encode_event("ERROR", e.status()))
        await response.write_eof()
        return response
    bookmarks = truthy(q.get("allowWatchBookmarks"))
    as_table = wants_table(request)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    await response.prepare(request)
    server.record(request, info, 200)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout else None
    lag = request.get(WATCH_LAG_KEY, 0.0)  # the "lag" fault: every event this much late
    first_table = True

    async def send_stored(kind: str, stored: dict[str, Any]) -> None:
        if as_table:
            await send(kind, store.view(rt, stored))
        else:
            await response.write(server.event_lines.line(kind, stored, rt, store))

    async def send(kind: str, obj: dict[str, Any]) -> None:
        nonlocal first_table
        if as_table and kind != "BOOKMARK":
            obj = tables.table(
                rt,
                [obj],
                store.custom.version_spec(rt),
                store.now(),
                include_object=q.get("includeObject", "Metadata"),
                with_definitions=first_table,
            )
            first_table = False
        await response.write(encode_event(kind, obj))

    def bookmark() -> dict[str, Any]:
        return {
            "kind": rt.kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(store.resource_version)},
        }

    try:
        if send_initial is not None and truthy(send_initial):
            initial = watch.queue.qsize()
            for _ in range(initial):
                kind, obj = watch.queue.get_nowait()
                await send_stored(kind, obj)
            if bookmarks:
                mark = bookmark()
                mark["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
                await send("BOOKMARK", mark)
        while not server.stopping.is_set():
            wait = server.bookmark_interval if bookmarks else 1.0
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(wait, remaining)
            item = await watch.next(wait)
            if item is None:
                if bookmarks and (deadline is None or deadline - loop.time() > 0):
                    await send("BOOKMARK", bookmark())
                continue
            kind, obj = item
            if kind == "CLOSED":
                break
            if lag:
                await asyncio.sleep(lag)
            await send_stored(kind, obj)
    except ConnectionResetError:  # the client left
        pass
    finally:
        store.unwatch(watch)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response
