"""Reading kubeconfig like kubectl: merging, context, namespace, credentials; unreachable."""

from __future__ import annotations

import base64
import socket
import sys
from pathlib import Path

import pytest
import yaml
from archive_operator.cli import errors as e
from archive_operator.cli.client import SCHEDULES, Client
from archive_operator.cli.errors import ApiError, ConfigError
from archive_operator.cli.kubeconfig import Target, load_target


def write(path: Path, **config: object) -> Path:
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **config}))
    return path


def context(name: str, cluster: str, user: str, namespace: str | None = None) -> dict:
    ctx = {"cluster": cluster, "user": user, **({"namespace": namespace} if namespace else {})}
    return {"name": name, "context": ctx}


def test_merges_kubeconfig_files_first_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("file-token\n")
    first = write(
        tmp_path / "a",
        clusters=[{"name": "c", "cluster": {"server": "https://a.example:6443/"}}],
        users=[{"name": "u", "user": {"tokenFile": "token"}}],
        contexts=[context("dev", "c", "u", "team-a")],
        **{"current-context": "dev"},
    )
    second = write(
        tmp_path / "b",
        clusters=[
            {"name": "c", "cluster": {"server": "https://ignored.example"}},
            {
                "name": "prod",
                "cluster": {"server": "https://prod.example", "insecure-skip-tls-verify": True},
            },
        ],
        users=[{"name": "admin", "user": {"username": "root", "password": "pw"}}],
        contexts=[context("prod", "prod", "admin")],
        **{"current-context": "prod"},
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    dev = load_target()
    assert (dev.server, dev.namespace, dev.user_name, dev.token) == (
        "https://a.example:6443",
        "team-a",
        "u",
        "file-token",
    )
    prod = load_target(context="prod", namespace="ops")
    assert (prod.server, prod.namespace, prod.insecure, prod.basic) == (
        "https://prod.example",
        "ops",
        True,
        ("root", "pw"),
    )
    assert load_target(context="prod").namespace == "default"


def test_exec_credential_plugin(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os\n"
        "assert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        "print(json.dumps({'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n"
    )
    config = write(
        tmp_path / "config",
        clusters=[
            {
                "name": "c",
                "cluster": {
                    "server": "https://x.example",
                    "certificate-authority-data": base64.b64encode(b"PEM").decode(),
                },
            }
        ],
        users=[
            {
                "name": "u",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": sys.executable,
                        "args": [str(plugin)],
                    }
                },
            }
        ],
        contexts=[context("x", "c", "u")],
        **{"current-context": "x"},
    )
    target = load_target(str(config))
    assert target.token == "from-exec"
    assert target.ca_data == b"PEM"


@pytest.mark.parametrize(
    ("config", "context_name", "message"),
    [
        ({}, None, "no current context"),
        ({"contexts": [context("a", "c", "u")]}, "b", 'context "b" is not in the kubeconfig'),
        ({"contexts": [context("a", "c", "u")], "current-context": "a"}, None, 'names cluster "c"'),
        (
            {
                "contexts": [context("a", "c", "u")],
                "current-context": "a",
                "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
                "users": [{"name": "u", "user": {"auth-provider": {"name": "gcp"}}}],
            },
            None,
            "auth-provider 'gcp' is not supported",
        ),
    ],
)
def test_unusable_kubeconfig_is_one_clear_error(
    tmp_path: Path, config: dict, context_name: str | None, message: str
) -> None:
    path = write(tmp_path / "config", **config)
    with pytest.raises(ConfigError, match=message):
        load_target(str(path), context_name)


def test_missing_explicit_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_target(str(tmp_path / "nope"))


def test_unreachable_cluster_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens
    client = Client(Target(server=f"http://127.0.0.1:{port}"))
    with pytest.raises(e.Unreachable) as raised:
        client.list(SCHEDULES, "default")
    assert raised.value.exit_code == e.EXIT_UNREACHABLE
    assert str(raised.value).startswith(f"cannot reach the cluster at http://127.0.0.1:{port}: ")
    assert "\n" not in str(raised.value)


def test_status_messages() -> None:
    def error(code: int, status: dict, verb: str = "get", name: str | None = "alice") -> str:
        return str(
            ApiError(
                code,
                status,
                verb=verb,
                resource="archiveschedules.archive.auriora.io",
                namespace="ns",
                name=name,
            )
        )

    assert (
        error(404, {}) == 'archiveschedules.archive.auriora.io "alice" not found in namespace "ns"'
    )
    assert error(409, {"reason": "AlreadyExists"}, "create") == (
        'archiveschedules.archive.auriora.io "alice" already exists in namespace "ns"'
    )
    assert "run the command again" in error(409, {"reason": "Conflict"}, "patch")
    assert error(401, {}).startswith("unauthorized:")
    assert error(422, {"reason": "Invalid", "message": "whole message", "details": {}}) == (
        'archiveschedules.archive.auriora.io "alice" is invalid: whole message'
    )
    assert error(500, {"message": "etcd timeout"}) == "etcd timeout"
