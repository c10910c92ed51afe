"""Server-side `meta.k8s.io/v1` Tables, which `kubectl get` prints.

Custom resources use their CRD's additionalPrinterColumns (default: Age). Built-ins get the
columns kubectl shows for them against a real cluster (a subset of what Kubernetes computes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import jsonpath
from .meta import human_duration, parse_rfc3339
from .resources import ResourceType

Cell = Callable[[dict[str, Any], datetime], Any]
NONE = "<none>"


def _age(ts: str | None, now: datetime) -> str:
    if not ts:
        return "<unknown>"
    try:
        return human_duration((now - parse_rfc3339(ts)).total_seconds())
    except ValueError:
        return "<invalid>"


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _age_cell(obj: dict[str, Any], now: datetime) -> str:
    return _age(_get(obj, "metadata", "creationTimestamp"), now)


def _containers(pod_spec: Any) -> list[dict[str, Any]]:
    return list((pod_spec or {}).get("containers") or [])


def _pod_status(pod: dict[str, Any], _now: datetime) -> str:
    if _get(pod, "metadata", "deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}"
    return str(reason)


def _pod_ready(pod: dict[str, Any], _now: datetime) -> str:
    statuses = _get(pod, "status", "containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    return f"{ready}/{len(_containers(pod.get('spec')))}"


def _job_status(job: dict[str, Any], _now: datetime) -> str:
    if _get(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    conds = {c.get("type"): c.get("status") for c in _get(job, "status", "conditions") or []}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conds.get(kind) == "True":
            return kind
    return "Running"


def _job_duration(job: dict[str, Any], now: datetime) -> str:
    start = _get(job, "status", "startTime")
    if not start:
        return ""
    end = _get(job, "status", "completionTime")
    end_time = parse_rfc3339(end) if end else now
    return human_duration((end_time - parse_rfc3339(start)).total_seconds())


def _template_spec(obj: dict[str, Any]) -> Any:
    if obj.get("kind") == "CronJob":
        return _get(obj, "spec", "jobTemplate", "spec", "template", "spec")
    return _get(obj, "spec", "template", "spec")


def _names(obj: dict[str, Any], _now: datetime) -> str:
    return ",".join(c.get("name", "") for c in _containers(_template_spec(obj))) or NONE


def _images(obj: dict[str, Any], _now: datetime) -> str:
    return ",".join(c.get("image", "") for c in _containers(_template_spec(obj))) or NONE


def _selector(obj: dict[str, Any], _now: datetime) -> str:
    sel = _get(obj, "spec", "selector", "matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sel.items()) or NONE


def _event_last_seen(ev: dict[str, Any], now: datetime) -> str:
    last = (
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or _get(ev, "metadata", "creationTimestamp")
    )
    count = ev.get("count") or 1
    if count > 1 and ev.get("firstTimestamp"):
        return f"{_age(last, now)} (x{count} over {_age(ev['firstTimestamp'], now)})"
    return _age(last, now)


def _event_object(ev: dict[str, Any], _now: datetime) -> str:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def _col(
    name: str, fn: Cell, kind: str = "string", priority: int = 0
) -> tuple[dict[str, Any], Cell]:
    return (
        {"name": name, "type": kind, "format": "", "description": name, "priority": priority},
        fn,
    )


def _path(*path: str, default: Any = NONE) -> Cell:
    def cell(obj: dict[str, Any], _now: datetime) -> Any:
        value = _get(obj, *path)
        return default if value is None else value

    return cell


AGE = _col("Age", _age_cell)
NO_LEADING_NAME = frozenset({("", "events")})  # kubectl shows events' names only with -o wide
BUILTIN_COLUMNS: dict[tuple[str, str], list[tuple[dict[str, Any], Cell]]] = {
    ("", "pods"): [
        _col("Ready", _pod_ready),
        _col("Status", _pod_status),
        _col(
            "Restarts",
            lambda o, _n: sum(
                cs.get("restartCount", 0) for cs in _get(o, "status", "containerStatuses") or []
            ),
            "integer",
        ),
        AGE,
        _col("IP", _path("status", "podIP"), priority=1),
        _col("Node", _path("spec", "nodeName"), priority=1),
    ],
    ("batch", "jobs"): [
        _col("Status", _job_status),
        _col(
            "Completions",
            lambda o, _n: (
                f"{_get(o, 'status', 'succeeded') or 0}/{_get(o, 'spec', 'completions') or 1}"
            ),
        ),
        _col("Duration", _job_duration),
        AGE,
        _col("Containers", _names, priority=1),
        _col("Images", _images, priority=1),
        _col("Selector", _selector, priority=1),
    ],
    ("batch", "cronjobs"): [
        _col("Schedule", _path("spec", "schedule")),
        _col("Timezone", _path("spec", "timeZone")),
        _col("Suspend", lambda o, _n: "True" if _get(o, "spec", "suspend") else "False"),
        _col("Active", lambda o, _n: len(_get(o, "status", "active") or []), "integer"),
        _col(
            "Last Schedule",
            lambda o, n: (
                _age(_get(o, "status", "lastScheduleTime"), n)
                if _get(o, "status", "lastScheduleTime")
                else NONE
            ),
        ),
        AGE,
        _col("Containers", _names, priority=1),
        _col("Images", _images, priority=1),
        _col("Selector", _selector, priority=1),
    ],
    ("", "events"): [
        _col("Last Seen", _event_last_seen),
        _col("Type", _path("type", default="")),
        _col("Reason", _path("reason", default="")),
        _col("Object", _event_object),
        _col("Message", _path("message", default="")),
        _col(
            "Source",
            lambda o, _n: _get(o, "source", "component") or o.get("reportingComponent") or "",
            priority=1,
        ),
        _col("First Seen", lambda o, n: _age(o.get("firstTimestamp"), n), priority=1),
        _col("Count", lambda o, _n: o.get("count") or 1, "integer", priority=1),
        _col("Name", _path("metadata", "name"), priority=1),
    ],
    ("", "namespaces"): [_col("Status", _path("status", "phase", default="")), AGE],
    ("", "configmaps"): [
        _col(
            "Data",
            lambda o, _n: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            "integer",
        ),
        AGE,
    ],
    ("", "secrets"): [
        _col("Type", _path("type", default="Opaque")),
        _col("Data", lambda o, _n: len(o.get("data") or {}), "integer"),
        AGE,
    ],
    ("apps", "deployments"): [
        _col(
            "Ready",
            lambda o, _n: (
                f"{_get(o, 'status', 'readyReplicas') or 0}/{_get(o, 'spec', 'replicas') or 0}"
            ),
        ),
        _col("Up-to-date", lambda o, _n: _get(o, "status", "updatedReplicas") or 0, "integer"),
        _col("Available", lambda o, _n: _get(o, "status", "availableReplicas") or 0, "integer"),
        AGE,
    ],
    ("", "services"): [
        _col("Type", _path("spec", "type", default="ClusterIP")),
        _col("Cluster-IP", _path("spec", "clusterIP")),
        _col("External-IP", lambda o, _n: ",".join(_get(o, "spec", "externalIPs") or []) or NONE),
        _col(
            "Port(s)",
            lambda o, _n: (
                ",".join(
                    f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                    for p in _get(o, "spec", "ports") or []
                )
                or NONE
            ),
        ),
        AGE,
    ],
    ("coordination.k8s.io", "leases"): [
        _col("Holder", _path("spec", "holderIdentity", default="")),
        AGE,
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        _col("Created At", _path("metadata", "creationTimestamp", default=""), "date"),
    ],
}


def _crd_columns(version_spec: dict[str, Any]) -> list[tuple[dict[str, Any], Cell]]:
    columns = version_spec.get("additionalPrinterColumns")
    if not columns:
        return [AGE]
    out = []
    for column in columns:
        kind = column.get("type", "string")
        definition = {
            "name": column["name"],
            "type": kind,
            "format": column.get("format", ""),
            "description": column.get("description", ""),
            "priority": column.get("priority", 0),
        }
        out.append((definition, _jsonpath_cell(column.get("jsonPath", ""), kind)))
    return out


def _jsonpath_cell(path: str, kind: str) -> Cell:
    def cell(obj: dict[str, Any], now: datetime) -> Any:
        try:
            found = jsonpath.find(obj, path)
        except ValueError:
            return None
        if not found or found[0] is None:
            return None
        value = found[0]  # Kubernetes prints the first result only
        if kind == "date":
            return _age(value, now) if isinstance(value, str) else None
        if kind == "integer":
            return value if isinstance(value, int) else None
        if kind == "number":
            return value if isinstance(value, int | float) else None
        if kind == "boolean":
            return value if isinstance(value, bool) else None
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return cell


def columns_for(
    rt: ResourceType, version_spec: dict[str, Any] | None
) -> list[tuple[dict[str, Any], Cell]]:
    if rt.custom:
        return _crd_columns(version_spec or {})
    return BUILTIN_COLUMNS.get(rt.storage_key, [AGE])


def table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    version_spec: dict[str, Any] | None,
    now: datetime,
    *,
    include_object: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
    with_definitions: bool = True,
) -> dict[str, Any]:
    columns = columns_for(rt, version_spec)
    leading_name = rt.storage_key not in NO_LEADING_NAME
    name_col = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    }
    rows = []
    for obj in objects:
        cells = [obj["metadata"]["name"]] if leading_name else []
        cells += [fn(obj, now) for _d, fn in columns]
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    out: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": ([name_col] if leading_name else []) + [d for d, _fn in columns]
        if with_definitions
        else [],
        "rows": rows,
    }
    return out
