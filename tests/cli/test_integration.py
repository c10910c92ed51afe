"""``kubectl archive`` through the real kubectl against the sandbox (CRDs from crds/).

The test plays the operator's part for runs (the runs issue is not built yet): it writes
ArchiveRun status with ``kubectl patch --subresource=status`` while ``--wait`` follows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from archive_operator.cli import errors as e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")

pytestmark = pytest.mark.slow

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def crds(sandbox: Any) -> None:
    sandbox.apply_crds(*sorted((ROOT / "crds").glob("*.yaml")))


@pytest.fixture
def ns(sandbox: Any, crds: None) -> Iterator[str]:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    sandbox.create_namespace(name)
    yield name
    sandbox.delete_namespace(name)


def environment(sandbox: Any, kubeconfig: Path | None = None) -> dict[str, str]:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(sandbox.home),
        "KUBECONFIG": str(kubeconfig or sandbox.kubeconfig),
        "NO_COLOR": "1",
    }


@pytest.fixture
def archive(sandbox: Any, ns: str) -> Kubectl:
    """``kubectl archive ARGS -n NS`` through the real kubectl binary."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "archive", *args, "-n", ns],
            input=input,
            capture_output=True,
            text=True,
            env=environment(sandbox),
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def get(sandbox: Any, ns: str) -> Callable[[str], list[dict[str, Any]]]:
    def items(resource: str) -> list[dict[str, Any]]:
        done = sandbox.kubectl("get", resource, "-o", "json", namespace=ns)
        return json.loads(done.stdout)["items"]  # type: ignore[no-any-return]

    return items


def create_alice(archive: Kubectl) -> None:
    done = archive(
        "create",
        "alice",
        "--user",
        "alice",
        "--source",
        "https://cal.example.com/dav/alice/calendar/",
        "--destination",
        "https://cal.example.com/dav/alice/archive/",
        "--credentials",
        "alice-calendar",
        "--time-zone",
        "Europe/London",
        "--daily",
        "--at",
        "23:59",
        "--entry",
        "nightly",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "archiveschedule.archive.auriora.io/alice created\n"


def writes(sandbox: Any, mark: int, ns: str) -> list[Any]:
    return [r for r in sandbox.requests.writes_since(mark) if r.namespace == ns]


def test_kubectl_dispatches_to_the_plugin(sandbox: Any, ns: str) -> None:
    done = subprocess.run(
        [KUBECTL, "archive", "--help"],
        capture_output=True,
        text=True,
        env=environment(sandbox),
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: kubectl archive [OPTIONS] COMMAND [ARGS]...")


def test_schedule_lifecycle_with_real_resources(
    sandbox: Any, ns: str, archive: Kubectl, get: Callable[[str], list[dict[str, Any]]]
) -> None:
    create_alice(archive)
    [alice] = get("archiveschedules")
    assert alice["spec"]["schedules"] == [
        {"name": "nightly", "daily": {"at": "23:59"}, "jitterMinutes": 0}
    ]
    assert alice["spec"]["concurrencyPolicy"] == "Forbid"  # CRD defaults applied by the server

    done = archive("schedule", "--user", "alice", "--weekly", "mon,fri", "--at", "18:00")
    assert done.returncode == 0, done.stderr
    assert [s["name"] for s in get("archiveschedules")[0]["spec"]["schedules"]] == [
        "nightly",
        "weekly",
    ]

    assert archive("unschedule", "alice", "--entry", "nightly").returncode == 0
    assert [s["name"] for s in get("archiveschedules")[0]["spec"]["schedules"]] == ["weekly"]

    assert (
        archive("suspend", "alice").stdout == "archiveschedule.archive.auriora.io/alice suspended\n"
    )
    assert get("archiveschedules")[0]["spec"]["suspend"] is True
    assert archive("resume", "alice").returncode == 0
    assert get("archiveschedules")[0]["spec"]["suspend"] is False

    status = archive("status", "-o", "wide")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "USER", "ENTRIES"]
    assert lines[1].startswith("alice   alice   weekly=weekly mon,fri 18:00")
    assert "Time zone:    Europe/London" in archive("status", "alice").stdout


def test_trigger_and_backfill_create_the_right_runs(
    sandbox: Any, ns: str, archive: Kubectl, get: Callable[[str], list[dict[str, Any]]]
) -> None:
    create_alice(archive)
    done = archive(
        "trigger",
        "alice",
        "--start",
        "2024-12-18",
        "--end",
        "2024-12-18",
        "--dry-run",
        "-o",
        "name",
    )
    assert done.returncode == 0, done.stderr
    [run] = get("archiveruns")
    assert done.stdout == f"archiverun.archive.auriora.io/{run['metadata']['name']}\n"
    assert run["metadata"]["name"].startswith("alice-manual-20241218-")
    assert run["spec"] == {
        "scheduleRef": {"name": "alice"},
        "start": "2024-12-18",
        "end": "2024-12-18",
        "trigger": "manual",
        "dryRun": True,
        "requestedBy": "sandbox-admin",
    }
    [schedule] = get("archiveschedules")
    assert run["metadata"]["ownerReferences"][0]["uid"] == schedule["metadata"]["uid"]

    done = archive("backfill", "--user", "alice", "--start", "2022-01-01", "--end", "2024-06-30")
    assert done.returncode == 0, done.stderr
    backfills = sorted(
        (r["spec"]["start"], r["spec"]["end"])
        for r in get("archiveruns")
        if r["spec"]["trigger"] == "backfill"
    )
    assert backfills == [
        ("2022-01-01", "2023-01-01"),
        ("2023-01-02", "2024-01-02"),
        ("2024-01-03", "2024-06-30"),
    ]

    history = archive("history", "alice", "--no-headers")
    assert len(history.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["schedule", "alice", "--daily", "--at", "25:00"],
            e.EXIT_USAGE,
            '--at "25:00": not a 24-hour time',
        ),
        (
            ["trigger", "alice", "--start", "2024-12-18", "--end", "2024-12-01"],
            e.EXIT_USAGE,
            "--end 2024-12-01 is before --start 2024-12-18",
        ),
        (
            ["trigger", "alicia"],
            e.EXIT_NOT_FOUND,
            'schedule "alicia" not found in namespace "{ns}"; did you mean "alice"?',
        ),
        (["trigger", "--user", "alicia"], e.EXIT_NOT_FOUND, 'no schedule for user "alicia"'),
        (["remove", "alice"], e.EXIT_NOT_CONFIRMED, "refusing to remove without confirmation"),
        (
            ["backfill", "alice", "--start", "2024-13-01"],
            e.EXIT_USAGE,
            '--start "2024-13-01": not a date',
        ),
    ],
)
def test_bad_input_gives_the_documented_error_and_changes_nothing(
    sandbox: Any, ns: str, archive: Kubectl, args: list[str], code: int, message: str
) -> None:
    create_alice(archive)
    mark = sandbox.requests.mark()
    done = archive(*args)
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith(f"error: {message.format(ns=ns)}")
    assert done.stderr.count("\n") == 1
    assert writes(sandbox, mark, ns) == []


def test_invalid_object_shows_the_servers_field_message(
    sandbox: Any, ns: str, archive: Kubectl
) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "archive.auriora.io/v1alpha1",
            "kind": "ArchiveSchedule",
            "metadata": {"name": "bad"},
            "spec": {
                "user": "bad",
                "window": {"days": 0},
                "source": {"caldav": {"url": "https://a.example/c/"}},
                "destination": {"caldav": {"url": "https://a.example/a/"}},
            },
        }
    )
    done = archive("create", "-f", "-", input=manifest)
    assert done.returncode == e.EXIT_INVALID
    assert done.stderr.startswith('error: ArchiveSchedule "bad" is invalid: spec.window.days: ')
    assert done.stderr.count("\n") == 1


def test_remove_deletes_schedule_and_its_runs(
    sandbox: Any, ns: str, archive: Kubectl, get: Callable[[str], list[dict[str, Any]]]
) -> None:
    create_alice(archive)
    assert archive("trigger", "alice").returncode == 0
    assert len(get("archiveruns")) == 1
    done = archive("remove", "alice", "--yes")
    assert done.returncode == 0, done.stderr
    sandbox.settle()
    assert get("archiveschedules") == []
    assert get("archiveruns") == []


def test_namespace_defaults_to_the_kubeconfig_context(
    sandbox: Any, ns: str, archive: Kubectl, tmp_path: Path
) -> None:
    create_alice(archive)
    config = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
    config["contexts"][0]["context"]["namespace"] = ns
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [KUBECTL, "archive", "status", "-o", "name"],
        capture_output=True,
        text=True,
        env=environment(sandbox, path),
        timeout=30,
        check=False,
    )
    assert done.stdout == "archiveschedule.archive.auriora.io/alice\n", done.stderr
    other = subprocess.run(
        [KUBECTL, "archive", "status", "-o", "name", "--kubeconfig", str(sandbox.kubeconfig)],
        capture_output=True,
        text=True,
        env=environment(sandbox, path),
        timeout=30,
        check=False,
    )
    assert other.stdout == ""  # the sandbox kubeconfig's context namespace is "default"


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(("final", "code"), [("Succeeded", 0), ("Failed", e.EXIT_RUN_FAILED)])
def test_trigger_wait_follows_the_run_through_a_real_watch(
    sandbox: Any,
    ns: str,
    archive: Kubectl,
    get: Callable[[str], list[dict[str, Any]]],
    final: str,
    code: int,
) -> None:
    create_alice(archive)
    process = subprocess.Popen(
        [
            KUBECTL,
            "archive",
            "trigger",
            "alice",
            "--start",
            "2024-12-18",
            "--wait",
            "--timeout",
            "60s",
            "-n",
            ns,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(sandbox),
    )
    try:
        run = _wait_for(lambda: get("archiveruns"), "the ArchiveRun")[0]
        name = run["metadata"]["name"]

        def set_status(status: dict[str, Any]) -> None:
            sandbox.kubectl(
                "patch",
                "archiverun",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                json.dumps({"status": status}),
                namespace=ns,
            )

        set_status({"phase": "Running", "jobName": name, "startTime": "2024-12-19T10:00:00Z"})
        set_status(
            {
                "phase": final,
                "completionTime": "2024-12-19T10:00:30Z",
                "counts": {"created": 2, "unchanged": 1},
                "archived": 2,
            }
        )
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, err
    lines = out.splitlines()
    assert lines[0] == f"archiverun.archive.auriora.io/{name} created: 2024-12-18 to 2024-12-18"
    assert lines[-1].startswith(f"{'✓' if final == 'Succeeded' else '✗'} {name}: {final} in 30s")
    assert "(created=2 unchanged=1)" in lines[-1]


def test_kubectl_completes_the_plugin_through_kubectl_complete_archive(
    sandbox: Any, ns: str, archive: Kubectl, tmp_path: Path
) -> None:
    create_alice(archive)
    script = subprocess.run(
        [KUBECTL, "archive", "completion"],
        capture_output=True,
        text=True,
        env=environment(sandbox),
        timeout=30,
        check=True,
    ).stdout
    path = tmp_path / "kubectl_complete-archive"
    path.write_text(script)
    path.chmod(0o755)
    env = environment(sandbox)
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        [KUBECTL, "__complete", "archive", "status", "-n", ns, "al"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.stdout.splitlines() == ["alice", ":4"], done.stderr
