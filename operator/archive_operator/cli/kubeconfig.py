"""Where the cluster is and who we are, read from kubeconfig files the way kubectl reads them.

``$KUBECONFIG`` may list several files (``:``-separated): for each named cluster, user and
context the first file that defines it wins, as does the first ``current-context``. Relative
paths in a file are relative to that file. Without any file, inside a pod, the service
account is used. Supported credentials: bearer tokens (``token``, ``tokenFile``), client
certificates, basic auth and ``exec`` plugins (client.authentication.k8s.io); the old
``auth-provider`` plugins are not (convert them to exec with the provider's tool).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Target:
    """Everything needed to talk to one cluster as one user."""

    server: str
    namespace: str = "default"
    user_name: str = ""  # the kubeconfig user entry's name (informational: spec.requestedBy)
    context: str = ""
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    basic: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(
            path.read_text(), Loader=loader
        )  # a safe loader (CSafeLoader or SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _merge(paths: list[Path], explicit: bool) -> dict[str, Any]:
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    for path in paths:
        if not path.exists():
            if explicit:
                raise ConfigError(f"kubeconfig {path} does not exist")
            continue
        data = _load_yaml(path)
        base = path.parent
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for item in data.get(section) or []:
                name = item.get("name")
                if name and name not in merged[section]:
                    merged[section][name] = (item.get(key) or {}, base)
        if not merged["current-context"] and data.get("current-context"):
            merged["current-context"] = data["current-context"]
    return merged


def _file_or_data(entry: dict[str, Any], base: Path, name: str) -> bytes | None:
    data = entry.get(f"{name}-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(name)
    if path:
        try:
            return (base / Path(path).expanduser()).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {name} {path}: {exc}") from exc
    return None


def _exec_credential(spec: dict[str, Any], cluster_server: str) -> dict[str, Any]:
    command = [spec.get("command") or "", *(spec.get("args") or [])]
    env = dict(os.environ)
    for item in spec.get("env") or []:
        env[item["name"]] = item["value"]
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {
            "apiVersion": spec.get("apiVersion", "client.authentication.k8s.io/v1"),
            "kind": "ExecCredential",
            "spec": {"interactive": False, "cluster": {"server": cluster_server}},
        }
    )
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        hint = spec.get("installHint") or ""
        raise ConfigError(f"credential plugin {command[0]!r} cannot run: {exc}. {hint}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise ConfigError(f"credential plugin {command[0]!r} failed: {detail[0]}")
    try:
        status: dict[str, Any] = json.loads(done.stdout).get("status") or {}
    except ValueError as exc:
        raise ConfigError(f"credential plugin {command[0]!r} printed no ExecCredential") from exc
    return status


def _credentials(user: dict[str, Any], base: Path, server: str) -> dict[str, Any]:
    if user.get("auth-provider"):
        provider = user["auth-provider"].get("name", "?")
        raise ConfigError(
            f"kubeconfig auth-provider {provider!r} is not supported; use an exec credential plugin"
        )
    out: dict[str, Any] = {}
    if user.get("exec"):
        status = _exec_credential(user["exec"], server)
        if status.get("token"):
            out["token"] = status["token"]
        if status.get("clientCertificateData"):
            out["cert_data"] = status["clientCertificateData"].encode()
            out["key_data"] = (status.get("clientKeyData") or "").encode()
    if user.get("token"):
        out["token"] = user["token"]
    elif user.get("tokenFile"):
        try:
            out["token"] = (base / user["tokenFile"]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read tokenFile {user['tokenFile']}: {exc}") from exc
    cert = _file_or_data(user, base, "client-certificate")
    if cert:
        out["cert_data"] = cert
        out["key_data"] = _file_or_data(user, base, "client-key")
    if user.get("username") and user.get("password"):
        out["basic"] = (user["username"], user["password"])
    if user.get("as"):
        out["headers"] = {"Impersonate-User": user["as"]}
    return out


def _in_cluster(namespace: str | None) -> Target:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT")
    server = f"https://{host}:{port}" if port else f"https://{host}"
    try:
        token = (IN_CLUSTER_DIR / "token").read_text().strip()
        own_namespace = (IN_CLUSTER_DIR / "namespace").read_text().strip()
    except OSError as exc:
        raise ConfigError(f"no kubeconfig and no service account: {exc}") from exc
    return Target(
        server=server,
        namespace=namespace or own_namespace,
        user_name="serviceaccount",
        ca_file=str(IN_CLUSTER_DIR / "ca.crt"),
        token=token,
    )


def load_target(
    kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> Target:
    """Resolve ``--kubeconfig``, ``--context`` and ``--namespace`` as kubectl does."""
    paths = _paths(kubeconfig)
    merged = _merge(paths, explicit=kubeconfig is not None)
    if not merged["contexts"] and not context and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster(namespace)
    context_name = context or merged["current-context"]
    if not context_name:
        where = ", ".join(str(p) for p in paths)
        raise ConfigError(f"no current context in {where}; pass --context or --kubeconfig")
    if context_name not in merged["contexts"]:
        raise ConfigError(f'context "{context_name}" is not in the kubeconfig')
    ctx, _ = merged["contexts"][context_name]
    cluster_name, user_name = ctx.get("cluster", ""), ctx.get("user", "")
    if cluster_name not in merged["clusters"]:
        raise ConfigError(f'context "{context_name}" names cluster "{cluster_name}", not found')
    cluster, cluster_base = merged["clusters"][cluster_name]
    server = str(cluster.get("server") or "")
    if not server:
        raise ConfigError(f'cluster "{cluster_name}" has no server')
    user, user_base = merged["users"].get(user_name, ({}, Path.cwd()))
    ca_path = cluster.get("certificate-authority")
    return Target(
        server=server.rstrip("/"),
        namespace=namespace or ctx.get("namespace") or "default",
        user_name=user_name,
        context=context_name,
        ca_file=str(cluster_base / ca_path) if ca_path else None,
        ca_data=base64.b64decode(cluster["certificate-authority-data"])
        if cluster.get("certificate-authority-data")
        else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        **_credentials(user, user_base, server),
    )
