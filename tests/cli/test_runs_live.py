"""``kubectl archive`` run verbs against the real operator (issue 6, "--wait follows a run").

The whole chain of tests/e2e — its cluster (the sandbox with workloads, or a real cluster with
ARCHIVE_E2E_KUBECONFIG) and its CalDAV server (a real Radicale) — with the operator from this
checkout under kopf. Everything is driven through the real kubectl binary dispatching to the
plugin: ``trigger --wait`` follows a real run to its end and exits with its code; ``logs`` reads
the runner's log through pods/log; ``history`` and ``status`` show the run the operator recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator.cli import errors as e

from tests.e2e.conftest import caldav, cluster, operator  # noqa: F401  (the e2e suite's fixtures)
from tests.e2e.harness import (
    BIN,
    CalDAV,
    Cluster,
    Operator,
    free_port,
    user_namespace,
    vevent,
)

pytestmark = pytest.mark.slow  # a real operator and real runs: about 15 s

# Not e2e-*: the e2e suite's session operator must not reconcile these namespaces too.
NAMESPACE_PREFIX = "cli-live-"
Archive = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def live_operator(
    cluster: Cluster,  # noqa: F811
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    if "--all-namespaces" in cluster.operator_args:
        # The chart's operator on the real control plane watches every namespace already: a
        # second one would reconcile the same objects.
        yield request.getfixturevalue("operator")
        return
    image = os.environ.get("ARCHIVE_E2E_RUNNER_IMAGE", "archive-runner:e2e")
    log = tmp_path_factory.mktemp("cli-live") / "op.log"
    args = ["run", "--standalone", "--namespace", f"{NAMESPACE_PREFIX}*"]
    process = Operator(cluster, image, log, args)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        print(process.log.read_text(errors="replace")[-4000:])


@pytest.fixture
def namespace(cluster: Cluster, live_operator: Operator) -> Iterator[str]:  # noqa: F811
    with user_namespace(cluster, NAMESPACE_PREFIX) as name:
        yield name


@pytest.fixture
def archive(cluster: Cluster, namespace: str) -> Archive:  # noqa: F811
    """``kubectl archive ARGS -n NS`` through the real kubectl binary (no colour)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kubectl"), "archive", *args, "-n", namespace],
            capture_output=True,
            text=True,
            env={**cluster.env(), "NO_COLOR": "1"},
            timeout=90,
            check=False,
        )

    return run


def create_schedule(archive: Archive, source: str, destination: str) -> None:
    done = archive(
        "create", "alice", "--user", "alice", "--source", source, "--destination", destination,
        "--credentials", "calendar", "--time-zone", "UTC",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def trigger_and_wait(archive: Archive, day: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """``trigger --wait`` for one day; returns the result and the created run's name."""
    done = archive("trigger", "alice", "--start", day, "--end", day, "--wait", "--timeout", "60s")
    first = done.stdout.splitlines()[0] if done.stdout else ""
    assert first.startswith("archiverun.archive.auriora.io/"), (done.stdout, done.stderr)
    assert first.endswith(f" created: {day} to {day}"), first
    return done, first.split("/", 1)[1].split(" ", 1)[0]


def runner_result(log: str) -> dict[str, Any]:
    """The runner's JSON result: the last log line that is a JSON object."""
    for line in reversed(log.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise AssertionError(f"no JSON result in the runner's log:\n{log}")


def past_day() -> str:
    return (datetime.now(UTC) - timedelta(days=3)).date().isoformat()


def test_trigger_wait_follows_a_real_run_to_success_then_logs_history_status(
    archive: Archive,
    caldav: CalDAV,  # noqa: F811
) -> None:
    source, destination = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_day()
    for hour in (9, 14):
        start = datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")
        caldav.put(source, f"meeting-{hour}", vevent(f"meeting-{hour}", start, "Meeting"))
    create_schedule(archive, source, destination)

    done, run = trigger_and_wait(archive, day)

    assert done.returncode == e.EXIT_OK, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(f"✓ {run}: Succeeded in "), done.stdout
    assert "created=2" in last, last
    assert len(caldav.items(destination)) == 2

    logs = archive("logs", run)
    assert logs.returncode == 0, logs.stderr
    result = runner_result(logs.stdout)
    assert result["status"] == "succeeded" and result["window"]["start"] == day, result
    assert result["counts"]["created"] == 2, result
    newest = archive("logs", "--schedule", "alice")
    assert newest.returncode == 0 and runner_result(newest.stdout) == result

    history = archive("history", "alice")
    assert history.returncode == 0, history.stderr
    header, row = history.stdout.splitlines()
    cells = dict(zip(header.split(), row.split(), strict=True))
    assert cells == {
        **cells, "NAME": run, "SCHEDULE": "alice", "TRIGGER": "manual", "START": day,
        "END": day, "PHASE": "Succeeded", "ARCHIVED": "2",
    }  # fmt: skip
    [record] = json.loads(archive("history", "alice", "-o", "json").stdout)["items"]
    assert record["status"]["counts"]["created"] == 2
    assert record["status"]["jobName"] == run

    status = json.loads(archive("status", "alice", "-o", "json").stdout)["status"]
    assert status["lastRun"]["name"] == run
    assert status["lastRun"]["phase"] == "Succeeded"
    detail = archive("status", "alice")
    assert detail.returncode == 0, detail.stderr
    assert run in detail.stdout and "Succeeded" in detail.stdout, detail.stdout


def test_trigger_wait_exits_with_the_failed_code_and_logs_show_why(
    cluster: Cluster,  # noqa: F811
    namespace: str,
    archive: Archive,
    caldav: CalDAV,  # noqa: F811
) -> None:
    down = f"http://127.0.0.1:{free_port()}/alice/work/"  # nothing listens there
    create_schedule(archive, down, caldav.new_calendar("archive"))
    cluster.kubectl(
        "patch", "archiveschedule", "alice", "--type=merge",
        "-p", json.dumps({"spec": {"runner": {"backoffLimit": 0}}}),
        namespace=namespace,
    )  # fmt: skip

    done, run = trigger_and_wait(archive, past_day())

    assert done.returncode == e.EXIT_RUN_FAILED, (done.stdout, done.stderr)
    assert done.stdout.splitlines()[-1].startswith(f"✗ {run}: Failed in "), done.stdout

    logs = archive("logs", run)
    assert logs.returncode == 0, logs.stderr
    result = runner_result(logs.stdout)
    assert result["status"] == "failed" and result["exit_code"] != 0, result
    assert result["message"], result  # why the run failed as a whole

    history = json.loads(archive("history", "alice", "-o", "json").stdout)["items"]
    assert [(r["metadata"]["name"], r["status"]["phase"]) for r in history] == [(run, "Failed")]
    status = json.loads(archive("status", "alice", "-o", "json").stdout)["status"]
    assert status["lastRun"]["phase"] == "Failed"
    assert status["consecutiveFailures"] == 1
