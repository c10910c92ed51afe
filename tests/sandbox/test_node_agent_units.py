"""Pure parts of the node agent: what a pod references, and reading a kubeconfig."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from archive_sandbox.node_agent import Kubeconfig, _references


def test_every_secret_configmap_and_claim_a_pod_names_is_found() -> None:
    pod = {
        "spec": {
            "volumes": [
                {"name": "a", "secret": {"secretName": "creds"}},
                {"name": "b", "configMap": {"name": "settings"}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "archive"}},
                {"name": "d", "emptyDir": {}},
                {
                    "name": "e",
                    "projected": {
                        "sources": [
                            {"secret": {"name": "projected-secret"}},
                            {"configMap": {"name": "projected-map"}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                },
            ],
            "initContainers": [
                {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "init-secret"}}}]}
            ],
            "containers": [
                {
                    "env": [
                        {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "env-map"}}},
                        {"name": "Z", "value": "plain"},
                    ],
                    "envFrom": [
                        {"secretRef": {"name": "all-of-it"}},
                        {"configMapRef": {"name": "m"}},
                    ],
                }
            ],
        }
    }
    assert _references(pod) == {
        ("Secret", "creds"),
        ("ConfigMap", "settings"),
        ("PersistentVolumeClaim", "archive"),
        ("Secret", "projected-secret"),
        ("ConfigMap", "projected-map"),
        ("Secret", "init-secret"),
        ("ConfigMap", "env-map"),
        ("Secret", "all-of-it"),
        ("ConfigMap", "m"),
    }


def test_a_pod_naming_nothing_references_nothing() -> None:
    assert _references({"spec": {"containers": [{"name": "c", "image": "i"}]}}) == set()


def _kubeconfig(path: Path, user: dict[str, str], cluster: dict[str, str]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", **cluster}}
                ],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_a_token_kubeconfig_is_read_with_inline_ca_data(tmp_path: Path) -> None:
    from archive_controlplane.pki import PKI

    ca = PKI(tmp_path / "pki").ca.cert.read_bytes()
    path = _kubeconfig(
        tmp_path / "kc",
        {"token": "abc.def"},
        {"certificate-authority-data": base64.b64encode(ca).decode()},
    )
    config = Kubeconfig(path, tmp_path)
    assert config.server == "https://127.0.0.1:6443"
    assert config.token == "abc.def"
    assert (tmp_path / "certificate-authority").read_bytes() == ca


def test_a_client_certificate_kubeconfig_is_read(tmp_path: Path) -> None:
    from archive_controlplane.pki import PKI

    pki = PKI(tmp_path / "pki")
    pair = pki.issue("node", "system:node:n1", ("system:nodes",))
    path = _kubeconfig(
        tmp_path / "kc",
        {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
        {"certificate-authority": str(pki.ca.cert)},
    )
    config = Kubeconfig(path, tmp_path)
    assert config.token is None
    assert config.ssl.verify_mode.name == "CERT_REQUIRED"
