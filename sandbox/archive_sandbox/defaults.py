"""Defaults the API server applies to built-in kinds (a subset; see sandbox/README.md).

Built-in objects are otherwise stored as sent: there is no schema validation for them.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import TYPE_CHECKING, Any

from .copies import deep_copy

if TYPE_CHECKING:
    from .store import Store

_cluster_ips = itertools.count(10)


def _namespace(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    obj = deep_copy(obj)
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    if op == "CREATE":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif old is not None:
        obj["spec"] = deep_copy(old.get("spec", {}))
    return obj


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_pod_spec(spec: dict[str, Any], restart_policy: str = "Always") -> None:
    """The pod-spec defaults a real API server adds (so drift checks see what a cluster shows)."""
    spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image", "")))
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")


def _pod(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    if op != "CREATE":
        return obj
    obj = deep_copy(obj)
    default_pod_spec(obj.setdefault("spec", {}))
    obj.setdefault("spec", {}).setdefault("enableServiceLinks", True)
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    return obj


def _job_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    default_pod_spec(template.setdefault("spec", {}), restart_policy="Never")


def _job(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    obj = deep_copy(obj)
    _job_spec(obj.setdefault("spec", {}))
    if op == "CREATE" and not obj["spec"].get("manualSelector"):
        # The uid is assigned later; the job controller relies on the job-name label.
        name = obj["metadata"].get("name", "")
        labels = obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
        labels.setdefault("batch.kubernetes.io/job-name", name)
        labels.setdefault("job-name", name)
        obj["spec"].setdefault("selector", {"matchLabels": {"batch.kubernetes.io/job-name": name}})
    return obj


def _cronjob(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    obj = deep_copy(obj)
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    job_spec.setdefault("backoffLimit", 6)
    job_spec.setdefault("completionMode", "NonIndexed")
    job_spec.setdefault("suspend", False)
    job_spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    default_pod_spec(
        job_spec.setdefault("template", {}).setdefault("spec", {}), restart_policy="Never"
    )
    return obj


def _deployment(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    obj = deep_copy(obj)
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
    return obj


def _service(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    obj = deep_copy(obj)
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if old is not None and "clusterIP" in (old.get("spec") or {}):
        spec["clusterIP"] = old["spec"]["clusterIP"]
        spec["clusterIPs"] = old["spec"].get("clusterIPs", [spec["clusterIP"]])
    elif spec.get("clusterIP") != "None" and not spec.get("clusterIP"):
        ip = str(ipaddress.ip_address("10.96.0.0") + next(_cluster_ips))
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    return obj


def _secret(op: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """stringData is write-only: merged into data (base64) as Kubernetes does."""
    if "stringData" not in obj and "type" in obj:
        return obj
    import base64

    obj = deep_copy(obj)
    obj.setdefault("type", "Opaque")
    for key, value in (obj.pop("stringData", None) or {}).items():
        obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
    return obj


def install(store: Store) -> None:
    store.add_admission(("", "namespaces"), _namespace)
    store.add_admission(("", "pods"), _pod)
    store.add_admission(("batch", "jobs"), _job)
    store.add_admission(("batch", "cronjobs"), _cronjob)
    store.add_admission(("apps", "deployments"), _deployment)
    store.add_admission(("", "services"), _service)
    store.add_admission(("", "secrets"), _secret)
