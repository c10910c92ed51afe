"""Kubeconfig files pointing kubectl, kopf and the kubernetes client at the sandbox."""

from __future__ import annotations

from pathlib import Path

import yaml

from .auth import DEFAULT_ADMIN_TOKEN


def kubeconfig(
    url: str,
    token: str = DEFAULT_ADMIN_TOKEN,
    namespace: str = "default",
    user: str = "sandbox-admin",
) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": "sandbox",
                "context": {"cluster": "sandbox", "user": user, "namespace": namespace},
            }
        ],
        "current-context": "sandbox",
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, url: str, token: str = DEFAULT_ADMIN_TOKEN, namespace: str = "default"
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig(url, token, namespace), sort_keys=False))
    path.chmod(0o600)
    return path
