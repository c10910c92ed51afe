"""Pure parts of the local kubelet: which host command a container runs, with which environment.

- Images: a container's image is looked up in the sandbox's image table (`ImageRule`s). A rule
  plays the part of the image: its ENTRYPOINT, CMD, WORKDIR, ENV and PATH. No rule: the image
  "cannot be pulled" (ErrImagePull), as on a cluster without it.
- Environment: `env` (value / valueFrom secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef)
  and `envFrom`, with `$(VAR)` expansion, resolved against objects read through `Lookup`.
  A missing Secret/ConfigMap or key raises `ContainerConfigError` (CreateContainerConfigError).
- Paths: the container's filesystem is the host's, so mount paths are mapped. Every occurrence
  of a volumeMount's mountPath (or the terminationMessagePath) as a whole path in an env value,
  command, argument or workingDir is rewritten to the host directory (or file) that backs it.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (kind, namespace, name) -> object or None
Lookup = Callable[[str, str, str], dict[str, Any] | None]

_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_LABEL_PATH = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


class ContainerConfigError(Exception):
    """The container cannot be configured (CreateContainerConfigError, message as the kubelet's)."""


@dataclass(frozen=True)
class ImageRule:
    """What the sandbox runs for images matching `image` (a reference, repository or glob)."""

    image: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    path: tuple[str, ...] = ()  # host directories searched first for the command

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ImageRule:
        if not isinstance(raw.get("image"), str) or not raw["image"]:
            raise ValueError(f"image rule {dict(raw)!r}: 'image' must be a non-empty string")
        return cls(
            image=raw["image"],
            entrypoint=tuple(str(a) for a in raw.get("entrypoint") or ()),
            cmd=tuple(str(a) for a in raw.get("cmd") or ()),
            working_dir=str(raw.get("workingDir") or ""),
            env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
            path=tuple(str(p) for p in raw.get("path") or ()),
        )


def repository(reference: str) -> str:
    """`docker.io/library/busybox:1.36@sha256:..` -> `busybox`: the name without tag or digest."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def find_image(rules: list[ImageRule], reference: str) -> ImageRule | None:
    repo = repository(reference)
    for rule in rules:
        pattern = rule.image
        if (
            reference == pattern
            or repo == repository(pattern)
            or fnmatch.fnmatchcase(repo, pattern)
        ):
            return rule
    return None


# --- environment ------------------------------------------------------------------------------


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, unknown stay as is."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR_REF.sub(sub, text)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The downward API: the value of a fieldRef.fieldPath of a pod."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if match := _LABEL_PATH.fullmatch(path):
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": status.get("hostIP"),
        "status.hostIPs": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.podIPs": status.get("podIP"),
    }
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    if path not in simple:
        raise ContainerConfigError(f'unsupported fieldPath: "{path}"')
    return str(simple[path] or "")


def _decoded(obj: Mapping[str, Any], key: str) -> str | None:
    if obj.get("kind") == "Secret":
        raw = (obj.get("data") or {}).get(key)
        return None if raw is None else base64.b64decode(raw).decode(errors="replace")
    value = (obj.get("data") or {}).get(key)
    if value is None and key in (obj.get("binaryData") or {}):
        return base64.b64decode(obj["binaryData"][key]).decode(errors="replace")
    return None if value is None else str(value)


def _key_ref(kind: str, ref: Mapping[str, Any], namespace: str, lookup: Lookup) -> str | None:
    """A secretKeyRef / configMapKeyRef value; None when optional and missing."""
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    obj = lookup(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    value = _decoded(obj, key)
    if value is None:
        if optional:
            return None
        raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return value


def resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    lookup: Lookup,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in order."""
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    env: dict[str, str] = dict(base or {})
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            ref = source.get(key)
            if not ref:
                continue
            obj = lookup(kind, namespace, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            keys = set(obj.get("data") or {}) | set(obj.get("binaryData") or {})
            for name in sorted(keys):
                value = _decoded(obj, name)
                if value is not None:
                    env[prefix + name] = value
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        source = var["valueFrom"] or {}
        value: str | None
        if "secretKeyRef" in source:
            value = _key_ref("Secret", source["secretKeyRef"], namespace, lookup)
        elif "configMapKeyRef" in source:
            value = _key_ref("ConfigMap", source["configMapKeyRef"], namespace, lookup)
        elif "fieldRef" in source:
            value = field_value(pod, source["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in source:
            value = _resource_value(container, source["resourceFieldRef"])
        else:
            raise ContainerConfigError(f"env {name}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env


def _resource_value(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """resourceFieldRef: the declared value, or what a node would report (here: host CPUs, 0)."""
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    declared = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    if declared is not None:
        return str(declared)
    return str(os.cpu_count() or 1) if resource == "cpu" else "0"


# --- commands and paths -------------------------------------------------------------------------


def command_line(
    container: Mapping[str, Any],
    image: ImageRule,
    env: Mapping[str, str],
    rewrite: Callable[[str], str] = str,
) -> list[str]:
    """argv as a container runtime builds it from the image and the container spec.

    Only what the pod declares gets ``$(VAR)`` expansion and ``rewrite`` (container paths to
    host paths); the image's entrypoint and cmd are taken as they are, as a runtime does, and
    here they name host paths already.
    """

    def declared(args: list[Any]) -> list[str]:
        return [rewrite(expand(str(a), env)) for a in args]

    if container.get("command"):
        return declared([*container["command"], *(container.get("args") or [])])
    if "args" in container:
        return [*image.entrypoint, *declared(container.get("args") or [])]
    return [*image.entrypoint, *image.cmd]


class PathMap:
    """Container paths -> host paths, for the mounts of one container."""

    def __init__(self, mounts: Mapping[str, Path]) -> None:
        # Longest first, so /var/run/secrets/archive wins over /var/run.
        self.mounts = dict(sorted(mounts.items(), key=lambda kv: -len(kv[0])))
        alternatives = "|".join(re.escape(p.rstrip("/") or "/") for p in self.mounts)
        self._pattern = (
            re.compile(rf"(?<![\w.~/-])({alternatives})(?=$|[/\s\"':;,=)])")
            if alternatives
            else None
        )

    def rewrite(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: str(self.host(m.group(1))), text)

    def host(self, container_path: str) -> Path:
        for mount, host in self.mounts.items():
            base = mount.rstrip("/")
            if container_path == base or container_path.startswith(base + "/"):
                rest = container_path[len(base) :].lstrip("/")
                return host / rest if rest else host
        raise KeyError(container_path)

    def covers(self, container_path: str) -> bool:
        try:
            self.host(container_path)
        except KeyError:
            return False
        return True


def find_executable(name: str, search: list[str]) -> str | None:
    """Resolve argv[0] like a runtime would inside the image: absolute, or on PATH."""
    if "/" in name:
        return name if os.access(name, os.X_OK) and Path(name).is_file() else None
    return shutil.which(name, path=os.pathsep.join(search))


# --- termination messages ---------------------------------------------------------------------

MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def termination_message(file_text: str, log_tail: list[str], policy: str, exit_code: int) -> str:
    """The message the kubelet reports: the file, or (FallbackToLogsOnError) the log's tail."""
    message = file_text.encode()[:MAX_MESSAGE_BYTES].decode(errors="ignore")
    if message or policy != "FallbackToLogsOnError" or exit_code == 0:
        return message
    tail = "".join(log_tail[-FALLBACK_LOG_LINES:]).encode()
    return tail[-FALLBACK_LOG_BYTES:].decode(errors="ignore")
