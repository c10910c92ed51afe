"""controlplane/build.sh: ShellCheck-clean, a cache path keyed by the versions, a clear stop
without Go. Not marked `real`: none of this needs Go or a cluster. (The build itself runs once
per machine before the real tier: `make controlplane`.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.images.test_build_scripts import shellcheck_binary

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "controlplane" / "build.sh"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_the_build_script_passes_shellcheck() -> None:
    done = subprocess.run(
        [shellcheck_binary(), str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_print_names_a_cache_folder_keyed_by_the_versions(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--print"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARCHIVE_CONTROLPLANE_CACHE": "/c"},
        check=True,
    )
    folder = Path(done.stdout.strip())
    assert folder.parent.parent == Path("/c")
    assert folder.name == "bin"
    assert folder.parent.name.startswith("kubernetes-v1.37.2-etcd-v3.7.0-")


def test_without_go_it_stops_and_says_what_to_do(tmp_path: Path) -> None:
    if Path("/usr/bin/go").exists() or Path("/bin/go").exists():
        pytest.skip("a Go on the reduced PATH")
    done = run(
        {
            "PATH": "/usr/bin:/bin",  # no Go here (a Go on /usr/bin would make this moot)
            "HOME": str(tmp_path),
            "ARCHIVE_CONTROLPLANE_CACHE": str(tmp_path / "cache"),
            "ARCHIVE_GO_FALLBACK_DIR": str(tmp_path / "no-go"),
        }
    )
    assert done.returncode == 1
    assert "Go is not on PATH" in done.stderr
    assert "make test-sandbox" in done.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
