"""Volumes of a sandbox pod, materialised as host directories (pure I/O, no API calls).

- secret / configMap / downwardAPI / projected: files written once when the pod starts
  (items, defaultMode/mode, optional) in `<pod dir>/volumes/<name>`; later edits of the source
  objects are not propagated.
- emptyDir: an empty directory per pod, removed with the pod.
- persistentVolumeClaim: one directory per claim under the sandbox's state directory, kept for
  the sandbox's lifetime so successive pods (runs) see the same data.
- hostPath: the host path itself (the sandbox's "node" is the host).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .kubelet_spec import ContainerConfigError, Lookup, field_value

SUPPORTED = (
    "secret",
    "configMap",
    "emptyDir",
    "persistentVolumeClaim",
    "hostPath",
    "downwardAPI",
    "projected",
)


class MountError(Exception):
    """A volume cannot be set up (the kubelet's FailedMount); the pod waits in ContainerCreating."""


def claim_dir(root: Path, namespace: str, claim: str) -> Path:
    return root / "pvc" / namespace / claim


def materialise(
    pod: Mapping[str, Any],
    pod_dir: Path,
    state_dir: Path,
    lookup: Lookup,
) -> dict[str, Path]:
    """Create every volume of the pod; returns volume name -> host directory."""
    namespace = pod["metadata"].get("namespace", "")
    out: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        kind = next((k for k in SUPPORTED if k in volume), None)
        if kind is None:
            others = sorted(k for k in volume if k != "name")
            raise MountError(
                f'MountVolume.SetUp failed for volume "{name}" : volume type {others} '
                "is not supported by the sandbox kubelet"
            )
        source = volume[kind] or {}
        target = pod_dir / "volumes" / name
        if kind == "persistentVolumeClaim":
            out[name] = claim_dir(state_dir, namespace, source.get("claimName", ""))
            out[name].mkdir(parents=True, exist_ok=True)
            continue
        if kind == "hostPath":
            out[name] = Path(source.get("path", "/"))
            if source.get("type") in ("DirectoryOrCreate",):
                out[name].mkdir(parents=True, exist_ok=True)
            continue
        target.mkdir(parents=True, exist_ok=True)
        out[name] = target
        try:
            if kind in ("secret", "configMap"):
                _write_object(
                    target, kind, source, namespace, lookup, source.get("defaultMode", 0o644)
                )
            elif kind == "downwardAPI":
                _write_downward(
                    target, source.get("items") or [], pod, source.get("defaultMode", 0o644)
                )
            elif kind == "projected":
                mode = source.get("defaultMode", 0o644)
                for projection in source.get("sources") or []:
                    if "secret" in projection or "configMap" in projection:
                        sub = "secret" if "secret" in projection else "configMap"
                        _write_object(target, sub, projection[sub], namespace, lookup, mode)
                    elif "downwardAPI" in projection:
                        _write_downward(
                            target, projection["downwardAPI"].get("items") or [], pod, mode
                        )
        except ContainerConfigError as e:
            raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from None
    return out


def _write_object(
    target: Path, kind: str, source: Mapping[str, Any], namespace: str, lookup: Lookup, mode: int
) -> None:
    obj_name = source.get("secretName" if kind == "secret" else "name", "")
    kind_name = "Secret" if kind == "secret" else "ConfigMap"
    obj = lookup(kind_name, namespace, obj_name)
    if obj is None:
        if source.get("optional"):
            return
        raise ContainerConfigError(f'{kind_name.lower()} "{obj_name}" not found')
    values = _values(obj)
    items = source.get("items")
    if items is None:
        items = [{"key": k, "path": k} for k in sorted(values)]
    for item in items:
        key = item.get("key", "")
        if key not in values:
            if source.get("optional"):
                continue
            raise ContainerConfigError(
                f"configmap references non-existent config key: {key}"
                if kind == "configMap"
                else f"references non-existent secret key: {key}"
            )
        _write_file(target / item.get("path", key), values[key], item.get("mode", mode))


def _values(obj: Mapping[str, Any]) -> dict[str, bytes]:
    if obj.get("kind") == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    values = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    values.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return values


def _write_downward(
    target: Path, items: list[Mapping[str, Any]], pod: Mapping[str, Any], mode: int
) -> None:
    for item in items:
        if "fieldRef" not in item:
            raise ContainerConfigError(
                f"downwardAPI item {item.get('path')!r}: only fieldRef is supported"
            )
        value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
        _write_file(target / item.get("path", ""), value.encode(), item.get("mode", mode))


def _write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o600)
    path.write_bytes(data)
    os.chmod(path, int(mode) & 0o777 | 0o400)  # the owner (us) can always read it back
