"""`make demo` end to end (scripts/demo.py), so a broken demo fails CI. About 10-15 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .harness import ROOT

pytestmark = pytest.mark.slow


def test_the_demo_shows_the_whole_chain(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "$ kubectl get archiveschedules" in out
    assert "RunSucceeded" in out  # from kubectl describe: the scheduled and the manual run
    assert "bob-last-week" in out and "Succeeded" in out
    assert f"export KUBECONFIG={tmp_path}/kubeconfig" in out
    assert (tmp_path / "kubeconfig").exists()
