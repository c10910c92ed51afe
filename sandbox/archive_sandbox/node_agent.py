"""The node agent: the sandbox's kubelet working for any API server through a kubeconfig.

    archive-sandbox node --kubeconfig node.yaml --node-name node-1 [--images rules.yaml]

It does what a kubelet does for the pods of this project (node_agent README part in
sandbox/README.md lists every difference from a real kubelet):

- registers its Node (Ready, capacity, addresses, the log server's port) and keeps it alive with a
  Lease in kube-node-lease renewed every 10 s, and a node status heartbeat;
- watches the pods the scheduler binds to it (`fieldSelector=spec.nodeName=<node>`, as the Node
  authorizer requires) and runs them with kubelet.py as local processes on the host network;
- reads the Secrets and ConfigMaps a pod names with GET (the Node authorizer allows exactly those);
- writes pod status with PUT on `pods/{name}/status`, retried on conflict; records Events;
- completes graceful deletion (DELETE with grace 0 and the pod's UID as precondition) once a
  deleted pod's processes are gone, as a kubelet does;
- serves `/containerLogs/{namespace}/{pod}/{container}` over HTTPS, which the API server calls
  for `kubectl logs`.

Its identity is the kubeconfig's: a real cluster's node uses CN=system:node:<node>, O=system:nodes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from archive_controlplane.pki import PKI

from .clock import Clock, Timers
from .kubelet import POD_IP, Kubelet
from .kubelet_api import REFERENCE_KINDS, PodListener, ReferenceListener
from .kubelet_logs import LogHandler
from .kubelet_spec import ImageRule
from .meta import rfc3339

# Back-off of a status write the API server did not take (seconds).
STATUS_RETRY_FIRST, STATUS_RETRY_MAX = 0.5, 10.0
log = logging.getLogger(__name__)

LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
STATUS_SECONDS = 20.0
RETRY_WAITING_SECONDS = 2.0  # pods waiting for a Secret/ConfigMap are retried this often
CAPACITY = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "50Gi"}


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body[:300]}")
        self.status = status


def _micro(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Kubeconfig:
    """The current context's server and credentials (client certificate or bearer token)."""

    def __init__(self, path: Path, scratch: Path) -> None:
        raw = yaml.safe_load(path.read_text())
        context_name = raw.get("current-context")
        context = next(c["context"] for c in raw["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in raw["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in raw["users"] if u["name"] == context["user"])
        self.server = str(cluster["server"]).rstrip("/")
        self.token: str | None = user.get("token")
        self.ssl = ssl.create_default_context(
            cafile=self._file(cluster, "certificate-authority", scratch)
        )
        if cluster.get("insecure-skip-tls-verify"):
            self.ssl.check_hostname = False
            self.ssl.verify_mode = ssl.CERT_NONE
        cert = self._file(user, "client-certificate", scratch)
        if cert:
            self.ssl.load_cert_chain(cert, self._file(user, "client-key", scratch))

    @staticmethod
    def _file(section: dict[str, Any], key: str, scratch: Path) -> str | None:
        if section.get(key):
            return str(section[key])
        data = section.get(f"{key}-data")
        if not data:
            return None
        path = scratch / key
        path.write_bytes(base64.b64decode(data))
        path.chmod(0o600)
        return str(path)


class RestNodeAPI:
    """The kubelet's view of a real API server: one node's pods, cached from a watch."""

    def __init__(self, config: Kubeconfig, node_name: str) -> None:
        self.config = config
        self.node_name = node_name
        self.session: aiohttp.ClientSession | None = None
        self._pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._references: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._on_pod: PodListener | None = None
        self._on_reference: ReferenceListener | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.synced = asyncio.Event()

    # --- HTTP -----------------------------------------------------------------------------

    async def open(self) -> None:
        headers = {"User-Agent": f"archive-node-agent/{self.node_name}"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        self.session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(ssl=self.config.ssl),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    async def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> Any:
        assert self.session is not None
        data = None if body is None else json.dumps(body)
        async with self.session.request(
            method,
            self.config.server + path,
            data=data,
            headers={"Content-Type": content_type},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as answer:
            text = await answer.text()
            if answer.status >= 400:
                raise ApiError(answer.status, text)
            return json.loads(text) if text else None

    # --- NodeAPI --------------------------------------------------------------------------

    def subscribe(self, on_pod: PodListener, on_reference: ReferenceListener) -> None:
        self._on_pod, self._on_reference = on_pod, on_reference
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch_pods(), name="node-agent-pods"))
        self._tasks.append(loop.create_task(self._retry_waiting(), name="node-agent-retry"))

    def unsubscribe(self) -> None:
        self._on_pod = self._on_reference = None

    def pods(self) -> Iterable[dict[str, Any]]:
        return list(self._pods.values())

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._pods.get((namespace, name))

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._references.get((kind, namespace, name))

    async def fetch_references(self, pod: dict[str, Any]) -> None:
        namespace = pod["metadata"]["namespace"]
        for kind, name in sorted(_references(pod)):
            path = f"/api/v1/namespaces/{namespace}/{REFERENCE_KINDS[kind]}/{name}"
            try:
                self._references[(kind, namespace, name)] = await self.request("GET", path)
            except ApiError as e:
                # 404: missing; 403: the Node authorizer has not linked the pod to it yet.
                if e.status not in (403, 404):
                    raise
                self._references.pop((kind, namespace, name), None)

    async def bind(self, pod: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("the scheduler binds pods; the node agent only runs bound ones")

    async def write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        """PUT the pod's status until it is written, the pod is gone or another pod holds its
        name. An API server that cannot be reached, or answers 429/5xx, is retried with a
        back-off up to STATUS_RETRY_MAX seconds, as a kubelet's status manager keeps syncing:
        a container that ended while the API server was down is still reported."""
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        current = self.pod(meta["namespace"], meta["name"]) or pod
        delay, conflicts = STATUS_RETRY_FIRST, 0
        while True:
            if current["metadata"]["uid"] != meta["uid"]:
                return
            try:
                written = await self.request("PUT", path, {**current, "status": status})
                self._remember(written)
                return
            except ApiError as e:
                if e.status == 404:
                    return
                if e.status == 409:
                    current = await self._read_again(path.removesuffix("/status"), current)
                    conflicts += 1
                    if conflicts <= 5:  # a newer pod: write onto it at once
                        continue
                if e.status != 429 and e.status < 500:
                    log.warning(
                        "writing the status of %s/%s: %s", meta["namespace"], meta["name"], e
                    )
                    return
                problem = f"HTTP {e.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                problem = f"{type(e).__name__}: {e}"
            log.warning(
                "writing the status of %s/%s failed (%s); again in %.1f s",
                meta["namespace"], meta["name"], problem, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, STATUS_RETRY_MAX)

    async def _read_again(self, path: str, current: dict[str, Any]) -> dict[str, Any]:
        """The pod as the API server has it now (after a 409); ``current`` if it cannot say."""
        with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError, OSError):
            fresh: dict[str, Any] = await self.request("GET", path)
            return fresh
        return current

    async def record(
        self, obj: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        now = rfc3339(datetime.now(UTC))
        event = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "kind": obj.get("kind", "Pod"),
                "apiVersion": obj.get("apiVersion", "v1"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": component, "host": self.node_name},
            "reportingComponent": component,
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with contextlib.suppress(ApiError, aiohttp.ClientError):
            await self.request("POST", f"/api/v1/namespaces/{namespace}/events", event)

    async def finish_deletion(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        with contextlib.suppress(ApiError):
            await self.request("DELETE", path, body)

    # --- the pod watch ----------------------------------------------------------------------

    def _remember(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self._pods[(meta["namespace"], meta["name"])] = pod

    def _emit(self, type_: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if type_ == "DELETED":
            known = self._pods.get(key)
            if known is not None and known["metadata"]["uid"] == meta["uid"]:
                del self._pods[key]
        else:
            self._remember(pod)
        if self._on_pod is not None:
            self._on_pod(type_, pod)

    async def _watch_pods(self) -> None:
        selector = f"spec.nodeName={self.node_name}"
        while True:
            try:
                listing = await self.request("GET", f"/api/v1/pods?fieldSelector={selector}")
                seen = {
                    (p["metadata"]["namespace"], p["metadata"]["name"]) for p in listing["items"]
                }
                for key in [k for k in self._pods if k not in seen]:
                    self._emit("DELETED", self._pods[key])
                for pod in listing["items"]:
                    self._emit("MODIFIED", {"kind": "Pod", "apiVersion": "v1", **pod})
                self.synced.set()
                await self._follow(selector, listing["metadata"]["resourceVersion"])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # relist after any failure, as an informer does
                log.warning("pod watch: %s; listing again", e)
                await asyncio.sleep(1.0)

    async def _follow(self, selector: str, version: str) -> None:
        assert self.session is not None
        url = (
            f"{self.config.server}/api/v1/pods?watch=true&allowWatchBookmarks=true"
            f"&fieldSelector={selector}&resourceVersion={version}&timeoutSeconds=300"
        )
        async with self.session.get(url) as stream:
            if stream.status >= 400:
                raise ApiError(stream.status, await stream.text())
            async for line in stream.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    raise ApiError(event["object"].get("code", 500), json.dumps(event["object"]))
                if event["type"] == "BOOKMARK":
                    continue
                self._emit(event["type"], event["object"])

    async def _retry_waiting(self) -> None:
        while True:
            await asyncio.sleep(RETRY_WAITING_SECONDS)
            if self._on_reference is not None:
                self._on_reference(None)


def _references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap and claim the pod's env and volumes name."""
    out: set[tuple[str, str]] = set()
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if name := (volume.get("secret") or {}).get("secretName"):
            out.add(("Secret", name))
        if name := (volume.get("configMap") or {}).get("name"):
            out.add(("ConfigMap", name))
        if name := (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            out.add(("PersistentVolumeClaim", name))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if name := (source.get("secret") or {}).get("name"):
                out.add(("Secret", name))
            if name := (source.get("configMap") or {}).get("name"):
                out.add(("ConfigMap", name))
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for container in containers:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if name := (source.get("secretKeyRef") or {}).get("name"):
                out.add(("Secret", name))
            if name := (source.get("configMapKeyRef") or {}).get("name"):
                out.add(("ConfigMap", name))
        for env_from in container.get("envFrom") or []:
            if name := (env_from.get("secretRef") or {}).get("name"):
                out.add(("Secret", name))
            if name := (env_from.get("configMapRef") or {}).get("name"):
                out.add(("ConfigMap", name))
    return out


class NodeAgent:
    """Registers the Node, keeps its Lease, runs its pods, serves their logs."""

    def __init__(
        self, kubeconfig: Path, node_name: str, images: list[ImageRule], state_dir: Path
    ) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="node-agent-", dir=state_dir))
        self.api = RestNodeAPI(Kubeconfig(kubeconfig, self.scratch), node_name)
        self.clock = Clock()
        self.timers = Timers(self.clock)
        self.kubelet = Kubelet(self.api, self.clock, self.timers, images, state_dir)
        self.logs = LogHandler(self.kubelet)
        self._runner: web.AppRunner | None = None
        self.log_port = 0
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.api.open()
        await self._serve_logs()
        await self._register()
        self.timers.start()
        self.kubelet.start()
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        await asyncio.wait_for(self.api.synced.wait(), 30)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self.kubelet.stop()
        await self.timers.stop()
        await self.api.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the log server ----------------------------------------------------------------------

    async def _serve_logs(self) -> None:
        async def container_logs(request: web.Request) -> web.StreamResponse:
            m = request.match_info
            return await self.logs.serve(request, m["namespace"], m["pod"], m["container"])

        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", container_logs)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # A throwaway CA's serving certificate: the API server does not verify the node's log
        # server (no --kubelet-certificate-authority), as with a kubelet's self-signed one.
        pair = PKI(self.scratch / "pki").serving("node-agent")
        serving.load_cert_chain(pair.cert, pair.key)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=serving)
        await site.start()
        self.log_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # --- the Node and its Lease --------------------------------------------------------------

    def _node_status(self) -> dict[str, Any]:
        now = rfc3339(datetime.now(UTC))

        def condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._started,
            }

        return {
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
                condition(
                    "Ready", "True", "KubeletReady", "archive node agent is posting ready status"
                ),
            ],
            "addresses": [
                {"type": "InternalIP", "address": POD_IP},
                {"type": "Hostname", "address": self.api.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.log_port}},
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": "",
                "osImage": "archive node agent (local processes)",
                "containerRuntimeVersion": "archive-node-agent://local-process",
                "kubeletVersion": "v0.0.0-archive-node-agent",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    async def _register(self) -> None:
        name = self.api.node_name
        self._started = rfc3339(datetime.now(UTC))
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
        }
        try:
            created = await self.api.request("POST", "/api/v1/nodes", node)
        except ApiError as e:
            if e.status != 409:
                raise
            created = await self.api.request("GET", f"/api/v1/nodes/{name}")
        self._node_uid = created["metadata"]["uid"]
        await self._write_node_status()
        await self._renew_lease()

    async def _write_node_status(self) -> None:
        path = f"/api/v1/nodes/{self.api.node_name}/status"
        await self.api.request(
            "PATCH",
            path,
            {"status": self._node_status()},
            content_type="application/strategic-merge-patch+json",
        )

    async def _renew_lease(self) -> None:
        name = self.api.node_name
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro(datetime.now(UTC)),
        }
        try:
            await self.api.request(
                "PATCH", path, {"spec": spec}, content_type="application/merge-patch+json"
            )
        except ApiError as e:
            if e.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": "kube-node-lease",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self._node_uid}
                    ],
                },
                "spec": spec,
            }
            await self.api.request("POST", path.rsplit("/", 1)[0], lease)

    async def _beat(self) -> None:
        since_status = 0.0
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self._renew_lease()
                since_status += RENEW_SECONDS
                if since_status >= STATUS_SECONDS:
                    await self._write_node_status()
                    since_status = 0.0
            except Exception as e:  # keep beating: a missed renewal is retried in 10 s
                log.warning("node heartbeat: %s", e)
