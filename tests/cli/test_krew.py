"""The krew manifest is well formed and its sha256 matches the asset package.py builds."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import yaml

KREW = Path(__file__).resolve().parents[2] / "plugins" / "krew"


def _package() -> object:
    spec = importlib.util.spec_from_file_location("krew_package", KREW / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_matches_the_built_asset() -> None:
    manifest = yaml.safe_load((KREW / "archive.yaml").read_text())
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "archive"
    spec = manifest["spec"]
    assert spec["version"].startswith("v") and spec["version"] in spec["platforms"][0]["uri"]
    data = _package().build()  # type: ignore[attr-defined]
    assert data == _package().build()  # type: ignore[attr-defined]  # reproducible
    for platform in spec["platforms"]:
        assert platform["sha256"] == hashlib.sha256(data).hexdigest(), "run plugins/krew/package.py"
        assert platform["bin"] == "kubectl-archive"


def test_launcher_runs_the_plugin() -> None:
    env = {**os.environ, "KUBECTL_ARCHIVE_PYTHON": sys.executable}
    done = subprocess.run(
        [str(KREW / "kubectl-archive"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "kubectl archive 0.1.0\n"
