"""``--wait``: progress display and exit codes, from scripted watch events (runs issue pending)."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, timedelta

import pytest
from archive_operator.cli import errors as e
from archive_operator.cli.client import RUNS
from archive_operator.cli.errors import CliError
from archive_operator.cli.follow import change_line, exit_code, follow, parse_timeout, spinner_line

from .conftest import Run
from .fake_client import FakeClient
from .objects import all_objects

T0 = datetime(2024, 12, 19, 10, 0, tzinfo=UTC)


def with_status(run: dict, **status: object) -> dict:
    out = copy.deepcopy(run)
    out["status"] = {**(out.get("status") or {}), **status}
    return out


def created_run() -> dict:
    return {
        "kind": "ArchiveRun",
        "metadata": {"name": "alice-manual-20241218-00001", "resourceVersion": "200"},
        "spec": {"scheduleRef": {"name": "alice"}},
    }


def test_change_lines_and_spinner() -> None:
    run = created_run()
    assert change_line(run, T0) == "alice-manual-20241218-00001: Pending"
    waiting = with_status(run, phase="Pending", reason="ConcurrentRunActive", message="waits for x")
    assert change_line(waiting, T0) == (
        "alice-manual-20241218-00001: Pending [ConcurrentRunActive]: waits for x"
    )
    done = with_status(
        run,
        phase="Succeeded",
        startTime="2024-12-19T10:00:00Z",
        completionTime="2024-12-19T10:00:42Z",
        counts={"created": 2, "unchanged": 5},
    )
    assert change_line(done, T0) == (
        "✓ alice-manual-20241218-00001: Succeeded in 42s (created=2 unchanged=5)"
    )
    assert spinner_line([waiting], T0 + timedelta(seconds=3), T0, 1) == (
        "⠙ alice-manual-20241218-00001: Pending [ConcurrentRunActive]  3s"
    )
    assert spinner_line([done, waiting], T0, T0, 0) == "⠋ 1/2 runs done: 1 Pending, 1 Succeeded  0s"


@pytest.mark.parametrize(
    ("phases", "code"),
    [
        (["Succeeded"], e.EXIT_OK),
        (["Succeeded", "Skipped"], e.EXIT_RUN_SKIPPED),
        (["PartiallySucceeded", "Skipped"], e.EXIT_RUN_PARTIAL),
        (["Succeeded", "Failed", "PartiallySucceeded"], e.EXIT_RUN_FAILED),
    ],
)
def test_exit_code_is_the_worst_outcome(phases: list[str], code: int) -> None:
    runs = [with_status(created_run(), phase=p) for p in phases]
    assert exit_code(runs) == code


def test_parse_timeout() -> None:
    assert parse_timeout("90s") == timedelta(seconds=90)
    assert parse_timeout("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_timeout("0") is None
    with pytest.raises(CliError, match="not a duration"):
        parse_timeout("10 minutes")


def _follow(client: FakeClient, runs: list[dict], clock: object, live: bool, timeout=None):  # type: ignore[no-untyped-def]
    out = io.StringIO()
    code = follow(
        client,
        RUNS,
        "default",
        runs,
        selector=None,
        timeout=timeout,
        clock=clock,
        out=out,
        live=live,
        colour=False,
        poll=0.01,
    )
    return code, out.getvalue()


def test_follow_prints_each_change_off_a_terminal() -> None:
    run = created_run()
    client = FakeClient([])
    client.watch_events = [
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "201"}}},
        {
            "type": "MODIFIED",
            "object": with_status(run, phase="Running", startTime="2024-12-19T10:00:00Z"),
        },
        {
            "type": "MODIFIED",
            "object": with_status(
                run,
                phase="PartiallySucceeded",
                startTime="2024-12-19T10:00:00Z",
                completionTime="2024-12-19T10:01:05Z",
                reason="SomeEventsFailed",
                message="1 event failed",
                counts={"created": 1, "failed": 1},
            ),
        },
    ]
    code, text = _follow(client, [run], lambda: T0, live=False)
    assert code == e.EXIT_RUN_PARTIAL
    assert text.splitlines() == [
        "alice-manual-20241218-00001: Pending",
        "alice-manual-20241218-00001: Running",
        "! alice-manual-20241218-00001: PartiallySucceeded in 65s (created=1 failed=1)"
        " [SomeEventsFailed]: 1 event failed",
    ]
    assert set(client.calls) == {("watch", "archiveruns", "default", None)}


def test_follow_redraws_one_line_on_a_terminal() -> None:
    run = created_run()
    client = FakeClient([])
    client.watch_events = [{"type": "MODIFIED", "object": with_status(run, phase="Succeeded")}]
    code, text = _follow(client, [run], lambda: T0, live=True)
    assert code == e.EXIT_OK
    assert "\r\x1b[K⠋ alice-manual-20241218-00001: Pending  0s" in text or "Succeeded" in text
    assert text.endswith("\r\x1b[K✓ alice-manual-20241218-00001: Succeeded\n")


def test_follow_gives_up_at_the_deadline() -> None:
    ticks = iter(T0 + timedelta(seconds=s) for s in range(0, 100))
    client = FakeClient([])  # no events: the run never finishes
    with pytest.raises(CliError) as raised:
        _follow(
            client, [created_run()], lambda: next(ticks), live=False, timeout=timedelta(seconds=3)
        )
    assert raised.value.exit_code == e.EXIT_WAIT_TIMEOUT
    assert "gave up waiting after 3s: alice-manual-20241218-00001 (Pending) still going" in str(
        raised.value
    )


def test_trigger_wait_exit_code_reflects_the_outcome(run_cli: Run) -> None:
    client = FakeClient(all_objects())
    name = "alice-manual-20241218-00001"
    client.watch_events = [
        {
            "type": "MODIFIED",
            "object": {
                "kind": "ArchiveRun",
                "metadata": {"name": name},
                "status": {"phase": "Failed", "reason": "SourceUnreachable"},
            },
        },
    ]
    done = run_cli("trigger", "alice", "--wait", client=client)
    assert done.code == e.EXIT_RUN_FAILED
    assert done.out.splitlines()[-1] == f"✗ {name}: Failed [SourceUnreachable]"


BLOCKED_STATUS = {
    "phase": "Blocked",
    "reason": "CreateContainerConfigError",
    "message": 'pod alice-manual-x7k2p cannot start: CreateContainerConfigError: secret "x" not '
    "found",
    "jobName": "alice-manual-20241218-00001",
    "startTime": "2024-12-19T10:00:00Z",
}


@pytest.mark.parametrize("live", [False, True])
def test_follow_stops_at_a_blocked_run_with_its_reason(live: bool) -> None:
    run = created_run()
    client = FakeClient([])
    client.watch_events = [
        {"type": "MODIFIED", "object": with_status(run, phase="Running")},
        {"type": "MODIFIED", "object": with_status(run, **BLOCKED_STATUS)},
    ]
    out = io.StringIO()
    with pytest.raises(CliError) as raised:
        follow(
            client, RUNS, "default", [run], selector=None, timeout=timedelta(minutes=5),
            clock=lambda: T0, out=out, live=live, colour=False, poll=0.01,
        )  # fmt: skip

    assert raised.value.exit_code == e.EXIT_RUN_BLOCKED == 14
    assert str(raised.value) == (
        "run alice-manual-20241218-00001 is Blocked: its pod cannot start "
        "(CreateContainerConfigError); stopped waiting. The run starts by itself once the cause "
        "is fixed, or fails at its Job's deadline; see kubectl describe pod "
        "-l batch.kubernetes.io/job-name=alice-manual-20241218-00001"
    )
    assert (
        out.getvalue()
        .splitlines()[-1]
        .endswith(
            "✗ alice-manual-20241218-00001: Blocked [CreateContainerConfigError]: pod "
            'alice-manual-x7k2p cannot start: CreateContainerConfigError: secret "x" not found'
        )
    )


def test_trigger_wait_prints_the_blocked_reason_and_exits_14(run_cli: Run) -> None:
    client = FakeClient(all_objects())
    name = "alice-manual-20241218-00001"
    client.watch_events = [
        {
            "type": "MODIFIED",
            "object": {"kind": "ArchiveRun", "metadata": {"name": name}, "status": BLOCKED_STATUS},
        },
    ]
    done = run_cli("trigger", "alice", "--wait", client=client)
    assert done.code == 14
    assert 'secret "x" not found' in done.out
    assert "is Blocked: its pod cannot start (CreateContainerConfigError)" in done.err
