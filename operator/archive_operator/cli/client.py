"""The only module of the plugin that talks to the Kubernetes API (plain HTTP, JSON).

No client library: the standard library's ``http.client`` keeps start-up fast and every call
visible. One keep-alive connection serves a command's calls; a watch gets its own. Errors
become :class:`~.errors.ApiError` (the server's Status) or :class:`~.errors.Unreachable`.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .errors import ApiError, Unreachable
from .kubeconfig import Target

if TYPE_CHECKING:
    from ..cluster_clock import ClusterClock

USER_AGENT = "kubectl-archive/0.1.0"
REQUEST_TIMEOUT = 30.0

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str

    def path(self, namespace: str | None, name: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        base = f"{prefix}/namespaces/{namespace}" if namespace else prefix
        return f"{base}/{self.plural}/{name}" if name else f"{base}/{self.plural}"

    @property
    def qualified(self) -> str:
        """``archiveruns.archive.auriora.io``: how kubectl names it in messages and -o name."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _archive(plural: str, kind: str) -> Resource:
    from archive_operator import constants as c

    return Resource(c.GROUP, c.VERSION, plural, kind)


SCHEDULES = _archive("archiveschedules", "ArchiveSchedule")
RUNS = _archive("archiveruns", "ArchiveRun")
PODS = Resource("", "v1", "pods", "Pod")


def _ssl_context(target: Target) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=target.ca_file)
    if target.ca_data:
        context.load_verify_locations(cadata=target.ca_data.decode())
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if target.cert_data and target.key_data:
        # load_cert_chain reads files only: write them privately and remove them at once.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            for path, data in ((cert, target.cert_data), (key, target.key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            context.load_cert_chain(cert, key)
    return context


class Client:
    """Typed-enough REST calls: get, list, create, merge-patch, delete, watch, pod logs.

    With ``clock``, every answer's ``Date`` header is reported to it as the answer arrives, so
    the plugin's "now" is the API server's (cluster_clock.py): ages agree with the cluster.
    """

    def __init__(
        self, target: Target, timeout: float = REQUEST_TIMEOUT, clock: ClusterClock | None = None
    ) -> None:
        self.target = target
        self.clock = clock
        self.namespace = target.namespace
        self.user_name = target.user_name
        self._url = urlsplit(target.server)
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    # --- plumbing -------------------------------------------------------------------------

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        host, port = self._url.hostname or "localhost", self._url.port
        if self._url.scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_ssl_context(self.target)
            )
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.target.headers}
        if self.target.token:
            headers["Authorization"] = f"Bearer {self.target.token}"
        elif self.target.basic:
            raw = ":".join(self.target.basic).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _unreachable(self, exc: BaseException) -> Unreachable:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return Unreachable(
            f"cannot reach the cluster at {self.target.server}: {reason}"
            " (check --context/--kubeconfig and that the API server is up)"
        )

    def _send(
        self, method: str, path: str, body: Any, content_type: str | None, stream: bool
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            conn = self._connect(None) if stream else (self._conn or self._connect(self._timeout))
            try:
                conn.request(
                    method, self._url.path + path, body=data, headers=self._headers(content_type)
                )
                response = conn.getresponse()
                if self.clock is not None:  # the headers have just arrived
                    self.clock.observe(response.getheader("Date"))
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                self._conn = None
                if attempt == 2 or stream:
                    raise self._unreachable(exc) from exc
                continue  # a kept-alive connection the server closed: one fresh try
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                raise self._unreachable(exc) from exc
            if not stream:
                self._conn = conn
            return response, conn
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str | None = None,
        what: tuple[str, str, str | None, str | None] = ("get", "", None, None),
    ) -> Obj:
        response, _ = self._send(method, path, body, content_type, stream=False)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._conn = None
            raise self._unreachable(exc) from exc
        if response.status >= 400:
            raise self._api_error(response.status, data, what)
        return json.loads(data) if data else {}

    @staticmethod
    def _api_error(
        code: int, data: bytes, what: tuple[str, str, str | None, str | None]
    ) -> ApiError:
        try:
            status = json.loads(data)
            status = status if isinstance(status, dict) else {}
        except ValueError:
            status = {"message": data[:200].decode(errors="replace").strip()}
        verb, resource, namespace, name = what
        return ApiError(code, status, verb=verb, resource=resource, namespace=namespace, name=name)

    # --- verbs ----------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        what = ("get", resource.qualified, namespace, name)
        return self.request("GET", resource.path(namespace, name), what=what)

    def list(
        self, resource: Resource, namespace: str | None, label_selector: str | None = None
    ) -> Obj:
        query = f"?{urlencode({'labelSelector': label_selector})}" if label_selector else ""
        what = ("list", resource.qualified, namespace, None)
        return self.request("GET", resource.path(namespace) + query, what=what)

    def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        name = (body.get("metadata") or {}).get("name")
        what = ("create", resource.qualified, namespace, name)
        return self.request(
            "POST", resource.path(namespace), body=body, content_type="application/json", what=what
        )

    def patch(self, resource: Resource, namespace: str, name: str, patch: Obj) -> Obj:
        what = ("patch", resource.qualified, namespace, name)
        return self.request(
            "PATCH",
            resource.path(namespace, name),
            body=patch,
            content_type="application/merge-patch+json",
            what=what,
        )

    def delete(self, resource: Resource, namespace: str, name: str, uid: str | None = None) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        what = ("delete", resource.qualified, namespace, name)
        return self.request(
            "DELETE",
            resource.path(namespace, name),
            body=body,
            content_type="application/json",
            what=what,
        )

    def watch(
        self,
        resource: Resource,
        namespace: str,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[Obj]:
        """Watch events (``{"type", "object"}``) from ``resource_version`` until the server ends."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        query = urlencode(params)
        path = f"{resource.path(namespace)}?{query}"
        response, conn = self._send("GET", path, None, None, stream=True)
        try:
            if response.status >= 400:
                raise self._api_error(
                    response.status, response.read(), ("watch", resource.qualified, namespace, None)
                )
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise self._unreachable(exc) from exc
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def pod_log(
        self, namespace: str, pod: str, container: str | None, follow: bool
    ) -> Iterator[bytes]:
        params = {"follow": "true"} if follow else {}
        if container:
            params["container"] = container
        query = f"?{urlencode(params)}" if params else ""
        path = PODS.path(namespace, pod) + "/log" + query
        response, conn = self._send("GET", path, None, None, stream=True)
        try:
            if response.status >= 400:
                raise self._api_error(
                    response.status, response.read(), ("get", "pods/log", namespace, pod)
                )
            while chunk := response.read1(65536):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        finally:
            conn.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
