"""``kubectl archive --help`` stays cheap: nothing heavy is imported at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from archive_operator.cli.main import cli, main

HEAVY = ("yaml", "pydantic", "kubernetes", "urllib3", "http.client", "ssl", "archive_operator.api")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "from archive_operator.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_console_script_is_installed() -> None:
    assert (Path(sys.executable).parent / "kubectl-archive").exists()


def test_kubectl_completion_protocol(capsys: object) -> None:
    import pytest

    with pytest.raises(SystemExit) as done:
        main(["__complete", "tri"])
    assert done.value.code == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    lines = out.splitlines()
    assert lines[0].startswith("trigger\tRun an archive now")
    assert lines[1:] == [":4"]  # 4: no file completion
    with pytest.raises(SystemExit):
        main(["__complete", "trigger", "--st"])
    assert capsys.readouterr().out.splitlines()[0].startswith("--start\t")  # type: ignore[attr-defined]


def test_completion_script_for_kubectl() -> None:
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["completion"]).output
    assert out.startswith("#!/bin/sh\n")
    assert 'exec kubectl-archive __complete "$@"' in out
    assert "_KUBECTL_ARCHIVE_COMPLETE" in CliRunner().invoke(cli, ["completion", "bash"]).output
