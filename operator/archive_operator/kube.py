"""The only module that talks to the Kubernetes API.

It speaks plain JSON dicts through the official client's transport (authentication, TLS and
kubeconfig handling come from the ``kubernetes`` package) and maps failures to the operator's
own error types (errors.py). Calls are synchronous: kopf runs sync handlers in a thread pool.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import kubernetes
import urllib3

from . import constants as c
from .cluster_clock import ClusterClock
from .errors import Conflict, KubeError, NotFound, Rejected, Transient

log = logging.getLogger(__name__)

Manifest = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
TIMEOUT_SECONDS = 30


def load_api_client() -> kubernetes.client.ApiClient:
    """In a pod: the service account. Elsewhere: $KUBECONFIG or ~/.kube/config."""
    config: Any = kubernetes.config  # untyped package
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return kubernetes.client.ApiClient()


def _error(method: str, path: str, status: int, data: bytes) -> KubeError:
    try:
        payload = json.loads(data)
        message = str(payload.get("message") or data[:300].decode(errors="replace"))
        reason = str(payload.get("reason") or "")
    except (ValueError, AttributeError):
        message, reason = data[:300].decode(errors="replace"), ""
    text = f"{method} {path}: {status} {reason}: {message}"
    if status == 404:
        return NotFound(text, status=status, reason=reason)
    if status == 409:
        return Conflict(text, status=status, reason=reason)
    if status == 429 or status >= 500:
        return Transient(text, status=status, reason=reason)
    return Rejected(text, status=status, reason=reason)


def _cronjobs(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{quote(namespace)}/cronjobs"


def _jobs(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs"


def _runs(namespace: str) -> str:
    return f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{quote(namespace)}/{c.RUN_PLURAL}"


# API group/version prefix of the kinds ``Kube.iter_objects`` lists, by plural.
_PREFIXES = {
    "cronjobs": "/apis/batch/v1",
    "jobs": "/apis/batch/v1",
    "pods": "/api/v1",
    c.RUN_PLURAL: f"/apis/{c.GROUP}/{c.VERSION}",
    c.SCHEDULE_PLURAL: f"/apis/{c.GROUP}/{c.VERSION}",
}
PAGE_SIZE = 500


def _schedules(namespace: str | None) -> str:
    if namespace is None:
        return f"/apis/{c.GROUP}/{c.VERSION}/{c.SCHEDULE_PLURAL}"
    return f"/apis/{c.GROUP}/{c.VERSION}/namespaces/{quote(namespace)}/{c.SCHEDULE_PLURAL}"


class Kube:
    """Typed operations on the objects the operator reads and writes.

    With ``clock``, every answer's ``Date`` header (errors' too) is reported to it as the answer
    arrives: the operator's "now" is the API server's (cluster_clock.py).
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        clock: ClusterClock | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._api = api_client
        self.clock = clock
        self.timeout = timeout  # each request's, unless it asks for less (leader election)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Sequence[tuple[str, str]] = (),
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> Manifest:
        """One request; ``timeout`` (default: the client's) bounds the connect and each read
        (seconds)."""
        timeout = self.timeout if timeout is None else min(timeout, self.timeout)
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            _, url, headers, body, _ = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query) or None,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=timeout
            )
            if self.clock is not None:  # the headers have arrived (the body is read below)
                self.clock.observe(response.headers.get("Date"))
            data: bytes = response.read()  # type: ignore[no-untyped-call]
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise Transient(f"{method} {path}: {exc}") from exc
        if not 200 <= response.status < 300:
            raise _error(method, path, response.status, data)
        return dict(json.loads(data)) if data else {}

    # --- ArchiveSchedules ---------------------------------------------------------------------

    def get_schedule(self, namespace: str, name: str) -> Manifest:
        return self.request("GET", f"{_schedules(namespace)}/{quote(name)}")

    def list_namespace_names(self) -> list[str]:
        items = self.request("GET", "/api/v1/namespaces").get("items") or []
        return [str(item["metadata"]["name"]) for item in items]

    def schedule_names(self, namespace: str | None) -> list[tuple[str, str]]:
        """(namespace, name) of every ArchiveSchedule in ``namespace`` (None: in all); read a page
        at a time and kept as names only, so a resync never holds every body at once."""
        return [
            (str(item["metadata"]["namespace"]), str(item["metadata"]["name"]))
            for item in self.iter_objects(c.SCHEDULE_PLURAL, namespace)
        ]

    def patch_schedule_status(
        self, namespace: str, name: str, patch: Manifest, resource_version: str | None = None
    ) -> None:
        """Merge ``patch`` into the status; with ``resource_version``, only if the object is
        still at that version (Conflict otherwise)."""
        body: Manifest = {"status": patch}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        self.request(
            "PATCH",
            f"{_schedules(namespace)}/{quote(name)}/status",
            body=body,
            content_type=MERGE_PATCH,
        )

    # --- CronJobs -----------------------------------------------------------------------------

    def list_cronjobs(self, namespace: str, selector: str) -> list[Manifest]:
        response = self.request("GET", _cronjobs(namespace), query=[("labelSelector", selector)])
        return [dict(item) for item in response.get("items") or []]

    def get_cronjob(self, namespace: str, name: str) -> Manifest:
        return self.request("GET", f"{_cronjobs(namespace)}/{quote(name)}")

    def create_cronjob(self, manifest: Manifest) -> Manifest:
        namespace = manifest["metadata"]["namespace"]
        return self.request(
            "POST", _cronjobs(namespace), body=manifest, query=[("fieldManager", c.FIELD_MANAGER)]
        )

    def replace_cronjob(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        return self.request(
            "PUT",
            f"{_cronjobs(meta['namespace'])}/{quote(meta['name'])}",
            body=manifest,
            query=[("fieldManager", c.FIELD_MANAGER)],
        )

    def delete_cronjob(self, namespace: str, name: str, uid: str) -> None:
        """Delete, only if it is still the object we decided to delete (uid precondition)."""
        with contextlib.suppress(NotFound):
            self.request(
                "DELETE",
                f"{_cronjobs(namespace)}/{quote(name)}",
                body={
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "preconditions": {"uid": uid},
                    "propagationPolicy": "Background",
                },
            )

    # --- ArchiveRuns -------------------------------------------------------------------------

    def list_runs(self, namespace: str) -> list[Manifest]:
        """Every ArchiveRun in the namespace (runs made by hand may carry no labels)."""
        return [dict(i) for i in self.request("GET", _runs(namespace)).get("items") or []]

    def get_run(self, namespace: str, name: str) -> Manifest:
        return self.request("GET", f"{_runs(namespace)}/{quote(name)}")

    def create_run(self, manifest: Manifest) -> Manifest:
        namespace = manifest["metadata"]["namespace"]
        return self.request(
            "POST", _runs(namespace), body=manifest, query=[("fieldManager", c.FIELD_MANAGER)]
        )

    def patch_run_status(self, namespace: str, name: str, patch: Manifest) -> None:
        self.request(
            "PATCH",
            f"{_runs(namespace)}/{quote(name)}/status",
            body={"status": patch},
            content_type=MERGE_PATCH,
        )

    def patch_run_metadata(self, namespace: str, name: str, metadata: Manifest) -> None:
        """A merge patch of metadata (ownerReferences, labels); include resourceVersion to guard."""
        self.request(
            "PATCH",
            f"{_runs(namespace)}/{quote(name)}",
            body={"metadata": metadata},
            content_type=MERGE_PATCH,
            query=[("fieldManager", c.FIELD_MANAGER)],
        )

    def delete_run(self, namespace: str, name: str, uid: str) -> None:
        self._delete(f"{_runs(namespace)}/{quote(name)}", uid)

    # --- Jobs and pods ------------------------------------------------------------------------

    def list_jobs(self, namespace: str, selector: str) -> list[Manifest]:
        response = self.request("GET", _jobs(namespace), query=[("labelSelector", selector)])
        return [dict(item) for item in response.get("items") or []]

    def create_job(self, manifest: Manifest) -> Manifest:
        namespace = manifest["metadata"]["namespace"]
        return self.request(
            "POST", _jobs(namespace), body=manifest, query=[("fieldManager", c.FIELD_MANAGER)]
        )

    def get_job(self, namespace: str, name: str) -> Manifest:
        return self.request("GET", f"{_jobs(namespace)}/{quote(name)}")

    def set_job_suspended(self, namespace: str, name: str, suspend: bool) -> None:
        self.request(
            "PATCH",
            f"{_jobs(namespace)}/{quote(name)}",
            body={"spec": {"suspend": suspend}},
            content_type=MERGE_PATCH,
            query=[("fieldManager", c.FIELD_MANAGER)],
        )

    def delete_job(self, namespace: str, name: str, uid: str) -> None:
        self._delete(f"{_jobs(namespace)}/{quote(name)}", uid)

    def list_pods(self, namespace: str, selector: str) -> list[Manifest]:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        response = self.request("GET", path, query=[("labelSelector", selector)])
        return [dict(item) for item in response.get("items") or []]

    def _delete(self, path: str, uid: str) -> None:
        with contextlib.suppress(NotFound, Conflict):  # gone, or already another object
            self.request(
                "DELETE",
                path,
                body={
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "preconditions": {"uid": uid},
                    "propagationPolicy": "Background",
                },
            )

    def iter_objects(
        self, plural: str, namespace: str | None, selector: str | None = None
    ) -> Iterator[Manifest]:
        """Every object of a kind (``_PREFIXES``) in ``namespace`` (None: in all), read a page at
        a time so that a large listing is never held in memory at once."""
        prefix = _PREFIXES[plural]
        if namespace is None:
            path = f"{prefix}/{plural}"
        else:
            path = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
        token = ""
        while True:
            query = [("limit", str(PAGE_SIZE))]
            if selector:
                query.append(("labelSelector", selector))
            if token:
                query.append(("continue", token))
            page = self.request("GET", path, query=query)
            yield from page.get("items") or []
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return

    # --- Secrets ------------------------------------------------------------------------------

    def secret_metadata(self, namespace: str, name: str) -> Manifest | None:
        """A Secret's metadata (None if it does not exist), for the ownership check.

        Asked for as PartialObjectMetadata, so the API server sends no data; a server that
        does not offer that form sends the whole Secret, whose data is dropped here at once.
        """
        try:
            body = self.request(
                "GET",
                f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}",
                accept=PARTIAL_METADATA,
            )
        except NotFound:
            return None
        return dict(body.get("metadata") or {})

    def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret (GET only, never a list). The value is never logged.

        Raises NotFound if the Secret or the key does not exist.
        """
        body = self.request("GET", f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
        data = body.get("data") or {}
        if key not in data:
            raise NotFound(f"Secret {namespace}/{name} has no key {key!r}", status=404)
        try:
            return base64.b64decode(str(data[key])).decode()
        except (ValueError, UnicodeDecodeError):
            raise Rejected(f"Secret {namespace}/{name} key {key!r} is not UTF-8 text") from None

    # --- Events -------------------------------------------------------------------------------

    def create_event(
        self, involved: Manifest, *, type_: str, reason: str, message: str, now: datetime
    ) -> None:
        """Record a core/v1 Event about ``involved`` (shown by kubectl describe)."""
        meta = involved["metadata"]
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", c.API_VERSION),
                "kind": involved.get("kind", c.SCHEDULE_KIND),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": c.OPERATOR_NAME},
            "reportingComponent": c.OPERATOR_NAME,
            "reportingInstance": c.OPERATOR_NAME,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        path = f"/api/v1/namespaces/{quote(meta['namespace'])}/events"
        try:
            self.request("POST", path, body=event)
        except KubeError as exc:  # an Event is best effort: never fail a reconcile for it
            log.warning("could not record event %s: %s", reason, exc)
