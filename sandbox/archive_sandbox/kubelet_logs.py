"""`GET .../pods/{name}/log`: container logs as `kubectl logs` reads them.

Supports `container`, `follow`, `tailLines`, `previous`, `timestamps`, `limitBytes` and
`sinceSeconds`/`sinceTime`; errors are worded as the API server words them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from . import errors as err
from .meta import parse_rfc3339
from .resources import ResourceType

if TYPE_CHECKING:
    from .kubelet import Container, Kubelet


def _lines(path: Path) -> list[tuple[str, str]]:
    """(timestamp, text) per stored line; text keeps its newline."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines(keepends=True):
        stamp, _, text = line.partition(" ")
        out.append((stamp, text))
    return out


def _render(lines: list[tuple[str, str]], timestamps: bool) -> bytes:
    return "".join(f"{s} {t}" if timestamps else t for s, t in lines).encode()


class LogHandler:
    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    async def __call__(
        self, request: web.Request, rt: ResourceType, namespace: str, name: str
    ) -> web.StreamResponse:
        """`pods/log` on the sandbox's API."""
        if request.method != "GET":
            raise err.method_not_allowed()
        return await self.serve(request, namespace, name, request.query.get("container"))

    async def serve(
        self, request: web.Request, namespace: str, name: str, container_name: str | None
    ) -> web.StreamResponse:
        """One container's log; also the node agent's `/containerLogs/{ns}/{pod}/{container}`."""
        pod = self.kubelet.api.pod(namespace, name)
        if pod is None:
            raise err.not_found("pods", "", name)
        q = request.query
        container_name = container_name or self._default_container(pod)
        names = [
            c["name"]
            for c in (pod["spec"].get("initContainers") or []) + pod["spec"].get("containers", [])
        ]
        if container_name not in names:
            raise err.bad_request(f"container {container_name} is not valid for pod {name}")
        runtime = self.kubelet.runtimes.get(pod["metadata"]["uid"])
        container = runtime.container(container_name) if runtime else None
        if container is None or (
            not container.log_file().exists() and "waiting" in container.state
        ):
            reason = self._waiting_reason(pod, container_name)
            raise err.bad_request(
                f'container "{container_name}" in pod "{name}" is waiting to start: {reason}'
            )
        previous = q.get("previous", "").lower() == "true"
        if previous and container.restarts == 0:
            raise err.bad_request(
                f'previous terminated container "{container_name}" in pod "{name}" not found'
            )
        path = container.log_file(container.restarts - 1 if previous else None)
        timestamps = q.get("timestamps", "").lower() == "true"
        stored = _lines(path)
        lines = self._select(stored, q)
        body = _render(lines, timestamps)
        limit = int(q["limitBytes"]) if q.get("limitBytes", "").isdigit() else None
        if q.get("follow", "").lower() != "true" or previous:
            return web.Response(body=body[:limit] if limit else body, content_type="text/plain")
        uid = pod["metadata"]["uid"]
        return await self._follow(request, uid, container, path, len(stored), body, timestamps)

    @staticmethod
    def _default_container(pod: dict[str, object]) -> str:
        spec = pod["spec"]
        assert isinstance(spec, dict)
        containers = spec.get("containers") or []
        annotations = pod["metadata"].get("annotations") or {}  # type: ignore[union-attr]
        default = annotations.get("kubectl.kubernetes.io/default-container")
        if default:
            return str(default)
        if len(containers) != 1:
            names = " ".join(c["name"] for c in containers)
            meta = pod["metadata"]
            raise err.bad_request(
                f"a container name must be specified for pod {meta['name']}, choose one of: "
                f"[{names}]"
            )  # type: ignore[index]
        return str(containers[0]["name"])

    @staticmethod
    def _waiting_reason(pod: dict[str, object], container: str) -> str:
        status = pod.get("status") or {}
        assert isinstance(status, dict)
        for entry in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            if entry.get("name") == container and "waiting" in (entry.get("state") or {}):
                reason = entry["state"]["waiting"].get("reason", "ContainerCreating")
                return (
                    "trying and failing to pull image"
                    if reason in ("ErrImagePull", "ImagePullBackOff")
                    else str(reason)
                )
        return "ContainerCreating"

    def _select(
        self, lines: list[tuple[str, str]], query: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        since: datetime | None = None
        if query.get("sinceSeconds", "").isdigit():
            since = self.kubelet.clock.now() - timedelta(seconds=int(query["sinceSeconds"]))
        elif query.get("sinceTime"):
            since = parse_rfc3339(query["sinceTime"])
        if since is not None:
            lines = [(s, t) for s, t in lines if parse_rfc3339(s) >= since]
        tail = query.get("tailLines", "")
        if tail.isdigit():
            lines = lines[len(lines) - int(tail) :] if int(tail) else []
        return lines

    async def _follow(
        self,
        request: web.Request,
        uid: str,
        container: Container,
        path: Path,
        seen: int,
        first: bytes,
        timestamps: bool,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}
        )
        await response.prepare(request)
        await response.write(first)
        attempt = container.restarts
        try:
            while True:
                changed = container.log_changed
                lines = _lines(path)
                if len(lines) > seen:
                    await response.write(_render(lines[seen:], timestamps))
                    seen = len(lines)
                restarted = container.restarts != attempt
                if (
                    container.terminated is not None
                    or restarted
                    or uid not in self.kubelet.runtimes
                ):
                    break
                await changed.wait()
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        await response.write_eof()
        return response
