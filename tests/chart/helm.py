"""Run the real helm binary against the chart and parse what it renders.

The binary comes from scripts/helm/install_helm.py (./bin/helm, installed once, then reused).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "archive-operator"
CANONICAL_CRDS = REPO_ROOT / "crds"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "helm" / "install_helm.py"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))

# The release every test renders: its name contains the chart name, so objects are named
# "archive-operator" and the operator's username is OPERATOR_USERNAME below.
RELEASE = "archive-operator"
NAMESPACE = "archive-system"
OPERATOR_USERNAME = f"system:serviceaccount:{NAMESPACE}:{RELEASE}"

Manifest = dict[str, Any]


def install_helm() -> Path:
    """Path to the real helm binary, installed by the project script if missing."""
    done = subprocess.run(
        [sys.executable, str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{INSTALL_SCRIPT.name} failed: {done.stderr.strip()}")
    return Path(done.stdout.strip())


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run_with_env(None, *args)

    def run_with_env(
        self, env: dict[str, str] | None, *args: str
    ) -> subprocess.CompletedProcess[str]:
        """Run helm; `env` replaces the environment (e.g. a private HOME for its caches)."""
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=env,
        )

    def template(
        self,
        values_files: Iterable[Path] = (),
        set_values: Sequence[str] = (),
        include_crds: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        for path in values_files:
            args += ["--values", str(path)]
        for assignment in set_values:
            args += ["--set", assignment]
        if include_crds:
            args.append("--include-crds")
        return self.run(*args)

    def render(
        self,
        values_files: Iterable[Path] = (),
        set_values: Sequence[str] = (),
        include_crds: bool = False,
    ) -> list[Manifest]:
        """The rendered objects; fails with helm's own message when rendering fails."""
        done = self.template(values_files, set_values, include_crds)
        if done.returncode != 0:
            raise AssertionError(f"helm template failed:\n{done.stderr}")
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container_env(deployment: Manifest) -> dict[str, str]:
    """The operator container's literal env values (valueFrom entries are left out)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
