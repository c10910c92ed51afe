"""A real Kubernetes control plane for the benchmark, with the interface of `SandboxProcess`.

`RealClusterProcess` starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler
(`archive_controlplane.launcher.ControlPlane`, loopback only), applies the project's CRDs and
waits until they are served. Its request log is the API server's audit log (level Metadata, one
JSON line per stage of each request), read incrementally and turned into records shaped like
the sandbox's (`user`, `user_agent`, `verb`, `resource`, `subresource`, `namespace`, `code`,
`is_write`), one per request (a watch is counted when its response starts). So `mark()` and
`requests_since()` mean what they mean on the sandbox, and the same counting code serves both.

CPU is the API server's and etcd's (`server_pids()`); the controller manager's is reported
beside them (its CronJob and garbage-collector controllers watch what the benchmark creates).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from archive_controlplane.launcher import ControlPlane, binaries

from .harness import ROOT, ProcStats, wait_until

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Processes whose CPU counts as "the API server's" (the sandbox's equivalent), and those
# reported beside it.
SERVER_COMPONENTS = ("kube-apiserver", "etcd")
OTHER_COMPONENTS = ("kube-controller-manager",)


def audit_record(event: dict[str, Any]) -> dict[str, Any]:
    """An audit event as a sandbox request-log record (the fields the benchmark reads)."""
    ref = event.get("objectRef") or {}
    verb = str(event.get("verb", ""))
    return {
        "audit_id": event.get("auditID", ""),
        "time": event.get("stageTimestamp", ""),
        "user": (event.get("user") or {}).get("username", ""),
        "user_agent": event.get("userAgent", ""),
        "verb": verb,
        "path": event.get("requestURI", ""),
        "api_group": ref.get("apiGroup", ""),
        "resource": ref.get("resource", ""),
        "subresource": ref.get("subresource", ""),
        "namespace": ref.get("namespace", ""),
        "name": ref.get("name", ""),
        "code": (event.get("responseStatus") or {}).get("code", 0),
        "is_write": bool(ref) and verb in WRITE_VERBS,
    }


class AuditLog:
    """The audit log as a growing list of requests (each request once: a watch logs a
    ResponseStarted and, when it ends, a ResponseComplete event with the same auditID)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._offset = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def refresh(self) -> int:
        with self._lock:
            if not self.path.exists():
                return len(self.records)
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
            end = data.rfind(b"\n") + 1  # a line being written is read next time
            self._offset += end
            for line in data[:end].splitlines():
                if not line.strip():
                    continue
                event = json.loads(line)
                audit_id = event.get("auditID", "")
                if audit_id in self._seen:
                    continue
                self._seen.add(audit_id)
                self.records.append(audit_record(event))
            return len(self.records)


class RealClusterProcess:
    """A fresh control plane in ``workdir`` (stopped, etcd data removed, by `stop()`)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.plane: ControlPlane | None = None
        self.kubeconfig = Path()
        self.url = ""
        self._audit: AuditLog | None = None

    def start(self, timeout: float = 120.0) -> None:
        self.plane = ControlPlane(self.workdir / "controlplane", binaries())
        try:
            self.plane.start()
            self.kubeconfig = self.plane.admin_kubeconfig
            self.url = self.plane.server
            self._audit = AuditLog(self.plane.audit_log)
            self._apply_crds(timeout)
        except BaseException:
            self.stop()
            raise

    def _apply_crds(self, timeout: float) -> None:
        client = kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))
        api = kubernetes.client.ApiextensionsV1Api(client)
        names = []
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            for body in yaml.safe_load_all(path.read_text()):
                if body:
                    api.create_custom_resource_definition(body)
                    names.append(body["metadata"]["name"])

        def established() -> bool:
            for name in names:
                crd = api.read_custom_resource_definition(name)
                conditions = (crd.status and crd.status.conditions) or []
                if not any(c.type == "Established" and c.status == "True" for c in conditions):
                    return False
            return True

        wait_until(established, f"CRDs {names} established", timeout)
        client.close()

    def settle(self, seconds: float) -> float:
        """Wait ``seconds`` (the controllers' start-up listings are done by then); return the
        API server's and etcd's CPU seconds per second meanwhile (the background rate)."""
        before = self.server_cpu()
        time.sleep(seconds)
        return (self.server_cpu() - before) / seconds

    def server_cpu(self) -> float:
        return sum(ProcStats(pid).cpu_seconds() for pid in self.server_pids().values())

    def server_pids(self) -> dict[str, int]:
        assert self.plane is not None
        pids = self.plane.pids()
        return {name: pids[name] for name in SERVER_COMPONENTS}

    def other_pids(self) -> dict[str, int]:
        assert self.plane is not None
        pids = self.plane.pids()
        return {name: pids[name] for name in OTHER_COMPONENTS if name in pids}

    def stop(self) -> None:
        if self.plane is not None:
            self.plane.stop()
            self.plane = None

    # --- the request log (the audit log) --------------------------------------------------------

    def mark(self) -> int:
        assert self._audit is not None
        return self._audit.refresh()

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        assert self._audit is not None
        self._audit.refresh()
        return self._audit.records[mark:]
