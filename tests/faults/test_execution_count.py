"""The duplicate check counts runner executions, not Job names: it can fail.

A Job's name is derived from its run's, and the API refuses a second object of the same name,
so "one Job per run" holds whatever the operator does. What a duplicate would cost is a second
execution of the runner for one run: the fake runner records each in a ledger, and
run_problems counts them. Here the check itself is run on worlds made by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .harness import ledger_path, run_problems

FAKE_RUNNER = Path(__file__).parent / "fake_runner.py"
RUN_UID = "00000000-0000-4000-8000-000000000001"


def world(workdir: Path) -> Any:
    run = {
        "metadata": {"name": "run-a", "uid": RUN_UID},
        "status": {"phase": "Succeeded", "jobName": "run-a-job", "archived": 1},
    }
    job = {
        "metadata": {
            "name": "run-a-job",
            "ownerReferences": [{"uid": RUN_UID, "controller": True, "kind": "ArchiveRun"}],
        }
    }
    return SimpleNamespace(
        handle=SimpleNamespace(workdir=workdir), runs=lambda: [run], jobs=lambda: [job]
    )


def execute_fake_runner(workdir: Path, tmp_path: Path) -> None:
    """One execution of the fake runner, as the sandbox's kubelet starts it for a run's pod."""
    env = {
        "FAKE_RUNNER_SECONDS": "0",
        "FAKE_RUNNER_LEDGER": str(ledger_path(workdir)),
        "ARCHIVE_RUN_ID": "run-a",
        "ARCHIVE_JOB_NAME": "run-a-job",
        "ARCHIVE_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    subprocess.run([sys.executable, str(FAKE_RUNNER)], env=env, check=True, capture_output=True)


def test_one_execution_per_run_is_right(tmp_path: Path) -> None:
    execute_fake_runner(tmp_path, tmp_path)

    assert [json.loads(x) for x in ledger_path(tmp_path).read_text().splitlines()] == [
        {"run_id": "run-a", "job": "run-a-job"}
    ]
    assert run_problems(world(tmp_path), ["run-a"]) == []


def test_a_second_execution_is_reported_though_there_is_one_job(tmp_path: Path) -> None:
    execute_fake_runner(tmp_path, tmp_path)
    execute_fake_runner(tmp_path, tmp_path)  # e.g. a Job deleted and made again under its name

    assert run_problems(world(tmp_path), ["run-a"]) == ["run run-a: DUPLICATE runner executions: 2"]


def test_a_run_succeeded_without_an_execution_is_reported(tmp_path: Path) -> None:
    assert run_problems(world(tmp_path), ["run-a"]) == [
        "run run-a: Succeeded, but the runner never executed for it"
    ]
