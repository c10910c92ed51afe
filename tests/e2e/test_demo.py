"""`make demo` end to end (scripts/demo.py), so a broken demo fails CI.

About 35 s: the demo twice in a row in one workdir (the second time kept up and stopped with
SIGTERM), and once failing on purpose.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from .harness import ROOT

SCRIPT = ROOT / "scripts" / "demo.py"
CHILDREN = ("radicale", "archive-sandbox", "archive-operator")  # what the demo starts


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def children(pid: int) -> dict[int, str]:
    """The live child processes of `pid` and their command lines (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def alive(pid: int, cmdline: str) -> bool:
    try:
        now = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return now == cmdline and state != "Z"


def test_reset_removes_what_a_demo_left_and_nothing_else(tmp_path: Path) -> None:
    demo = load_demo()
    (tmp_path / "radicale" / "storage" / "collection-root" / "alice").mkdir(parents=True)
    (tmp_path / "radicale" / "config").write_text("[server]\n")
    (tmp_path / "sandbox-state" / "pods").mkdir(parents=True)
    for name in ("kubeconfig", "radicale.log", "sandbox.log", "operator.log", "notes.txt"):
        (tmp_path / name).write_text("old")
    (tmp_path / "mine").mkdir()

    demo.reset_workdir(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "notes.txt"]
    demo.reset_workdir(tmp_path)  # nothing to remove is fine too


@pytest.mark.slow
def test_the_demo_runs_twice_in_a_row_and_a_kept_demo_stops_on_sigterm(tmp_path: Path) -> None:
    argv = [sys.executable, str(SCRIPT), "--workdir", str(tmp_path)]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "$ kubectl get archiveschedules" in out
    assert "RunSucceeded" in out  # from kubectl describe: the scheduled and the manual run
    assert "bob-last-week" in out and "Succeeded" in out
    assert f"export KUBECONFIG={tmp_path}/kubeconfig" in out
    assert (tmp_path / "kubeconfig").exists()
    # The plugin on PATH (issue 15 item 3): the line to paste into a new shell, and the plugin's
    # own output in the result.
    assert f'export PATH="{Path(sys.executable).parent}:$PATH"' in out
    assert "$ kubectl archive status\n" in out and "$ kubectl archive history\n" in out
    # One clock (item 2): every age and "ago" shown is the sandbox's, none in its future.
    assert "<invalid>" not in out.split("==> Explore")[0]
    # bob's manual week ends the day before the sandbox's today in New York, not this machine's.
    week_end = load_demo().clock_start().date() - timedelta(days=1)  # London 23:58 = NY same day
    assert f"A manual run for bob: {week_end - timedelta(days=6)} .. {week_end}" in out
    status = out.split("$ kubectl archive status\n", 1)[1].split("$ ", 1)[0]
    assert re.search(r"^alice .* Succeeded \d+s ago +in 23h ", status, re.M), status

    # The same workdir again (Radicale's storage from the first run must not get in the way),
    # kept up this time, then stopped with SIGTERM: nothing it started may survive.
    output = tmp_path.parent / f"{tmp_path.name}-keep.out"
    with output.open("w") as sink:
        kept = subprocess.Popen(
            [*argv, "--keep"], stdout=sink, stderr=subprocess.STDOUT, text=True, cwd=ROOT
        )
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while "Still running" not in output.read_text():
            assert kept.poll() is None, output.read_text()[-4000:]
            assert time.monotonic() < deadline, output.read_text()[-4000:]
            time.sleep(0.5)
        text = output.read_text()
        assert "RunSucceeded" in text and "bob-last-week" in text
        assert f"Still running as PID {kept.pid} " in text
        started = children(kept.pid)
        kinds = sorted(next((c for c in CHILDREN if c in cmd), cmd) for cmd in started.values())
        assert kinds == sorted(CHILDREN), started

        kept.send_signal(signal.SIGTERM)
        code = kept.wait(timeout=60)
    finally:
        if kept.poll() is None:
            kept.kill()
            kept.wait()
        left = {pid: cmd for pid, cmd in started.items() if alive(pid, cmd)}
        for pid in left:
            os.kill(pid, signal.SIGKILL)  # not to leave them to the next test
    assert not left, f"still running after SIGTERM to the demo: {left}"
    assert code == 0, output.read_text()[-4000:]
    assert "Stopped by SIGTERM." in output.read_text()
    assert "Done: everything stopped" in output.read_text()


@pytest.mark.slow
def test_a_failing_demo_shows_why_and_stops_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Radicale gets another password for alice than her Secret holds: her scheduled run fails
    (401), and the demo says so at once, with the runner's log and Radicale's answers."""
    demo = load_demo()
    monkeypatch.setattr(demo, "USERS", {**demo.USERS, "alice": "not-what-the-secret-says"})
    # Other tests of this session keep their own Radicale and operator running: only the
    # demo's must be gone afterwards.
    before = set(children(os.getpid()))

    started = time.monotonic()
    with pytest.raises(SystemExit) as failed:
        demo.main(["--workdir", str(tmp_path)], standalone_mode=False)
    err = capsys.readouterr().err

    assert failed.value.code == 1
    assert time.monotonic() - started < 60  # not the 90 s timeout: a finished run ends the wait
    assert "demo failed: alice's scheduled run alice-nightly-" in err
    assert "ended Failed" in err and "rejected the credentials (HTTP 401)" in err
    assert "--- kubectl logs alice-nightly-" in err  # the runner pod's log
    assert '"exit_code":4' in err  # the runner's result, its last line
    assert "401 Unauthorized" in err  # Radicale's answer, from .demo/radicale.log
    left = {pid: cmd for pid, cmd in children(os.getpid()).items() if pid not in before}
    assert not [cmd for cmd in left.values() if any(c in cmd for c in CHILDREN)]
