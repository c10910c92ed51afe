"""The run lifecycle decisions (pure): validation, concurrency, phases, statistics, history."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from archive_operator.api import ArchiveRun, ArchiveSchedule
from archive_operator.jobs import job_view, parse_result
from archive_operator.lifecycle import (
    Hold,
    plan_lifecycle,
    record_for_job,
    scheduled_window,
    unrecorded_jobs,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SCHEDULE_UID = "sched-uid"


def schedule(**spec: Any) -> ArchiveSchedule:
    body = {
        "metadata": {"name": "alice", "namespace": "ns", "uid": SCHEDULE_UID, "generation": 1},
        "spec": {
            "user": "alice",
            "timeZone": "Europe/London",
            "source": {"caldav": {"url": "https://cal/alice/work/"}},
            "destination": {"caldav": {"url": "https://cal/alice/archive/"}},
            **spec,
        },
    }
    return ArchiveSchedule.from_body(body)


def run(
    name: str,
    *,
    created: str = "2025-03-10T11:00:00Z",
    trigger: str = "manual",
    start: str = "2025-03-01",
    end: str = "2025-03-02",
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    dry_run: bool = False,
) -> ArchiveRun:
    return ArchiveRun.from_body(
        {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": f"uid-{name}",
                "generation": 1,
                "creationTimestamp": created,
                "labels": labels or {},
                "ownerReferences": [{"kind": "ArchiveSchedule", "uid": SCHEDULE_UID}],
            },
            "spec": {
                "scheduleRef": {"name": "alice"},
                "start": start,
                "end": end,
                "trigger": trigger,
                "dryRun": dry_run,
            },
            "status": status or {},
        }
    )


def job(
    name: str,
    *,
    owner_kind: str = "ArchiveRun",
    owner_uid: str | None = None,
    created: str = "2025-03-10T11:00:00Z",
    finished: str | None = None,
    suspend: bool = False,
    message: dict[str, Any] | None = None,
    exit_code: int = 0,
    labels: dict[str, str] | None = None,
) -> Any:
    status: dict[str, Any] = {"startTime": created}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True", "reason": "X"}]
        status["completionTime"] = "2025-03-10T11:30:00Z"
    manifest = {
        "metadata": {
            "name": name,
            "uid": f"job-{name}",
            "creationTimestamp": created,
            "labels": labels or {},
            "ownerReferences": [
                {"kind": owner_kind, "uid": owner_uid or f"uid-{name}", "controller": True}
            ],
        },
        "spec": {"suspend": suspend},
        "status": status,
    }
    pods = []
    if message is not None:
        terminated = {"exitCode": exit_code, "message": json.dumps(message)}
        pods = [
            {
                "metadata": {"creationTimestamp": created},
                "status": {
                    "containerStatuses": [{"name": "runner", "state": {"terminated": terminated}}]
                },
            }
        ]
    return job_view(manifest, pods)


def result(status: str, exit_code: int, created: int = 2, failed: int = 0) -> dict[str, Any]:
    return {
        "status": status,
        "exit_code": exit_code,
        "message": None if status == "succeeded" else "server went away",
        "counts": {"source_objects": 2, "created": created, "updated": 0, "failed": failed},
        "errors": [{"uid": "u1", "href": "h", "http_status": 503, "message": "gone"}]
        if failed
        else [],
    }


# --- starting and queueing ----------------------------------------------------------------------


def test_a_valid_manual_run_gets_its_job() -> None:
    plan = plan_lifecycle(schedule(), [run("r1")], [], NOW)
    assert [r.metadata.name for r in plan.start] == ["r1"]
    status = plan.statuses["r1"]
    assert (status.phase, status.reason, status.job_name) == ("Running", "JobCreated", "r1")
    assert [e.reason for e in plan.events] == ["RunStarted"]


def test_forbid_queues_the_second_run_until_the_first_finishes() -> None:
    runs = [run("r1"), run("r2", created="2025-03-10T11:05:00Z")]
    first = plan_lifecycle(schedule(), runs, [], NOW)
    assert [r.metadata.name for r in first.start] == ["r1"]
    assert first.statuses["r2"].phase == "Pending"
    assert first.statuses["r2"].reason == "ConcurrentRunActive"
    assert "r1" in (first.statuses["r2"].message or "")
    assert first.queued == 1

    running = [
        run("r1", status=first.statuses["r1"].to_kube()),
        run("r2", created="2025-03-10T11:05:00Z", status=first.statuses["r2"].to_kube()),
    ]
    again = plan_lifecycle(schedule(), running, [job("r1")], NOW)
    assert again.start == [] and again.events == []  # nothing changed: nothing to do

    done = job("r1", finished="Complete", message=result("succeeded", 0))
    freed = plan_lifecycle(schedule(), running, [done], NOW)
    assert [r.metadata.name for r in freed.start] == ["r2"]
    assert freed.statuses["r1"].phase == "Succeeded"


def test_a_scheduled_job_is_held_while_a_manual_run_is_active() -> None:
    manual = run("r1", status={"phase": "Running", "jobName": "r1"})
    record = run(
        "alice-nightly-29000000",
        trigger="scheduled",
        created="2025-03-10T11:10:00Z",
        labels={"archive.auriora.io/trigger": "scheduled"},
    )
    jobs = [
        job("r1"),
        job(
            "alice-nightly-29000000",
            owner_kind="CronJob",
            owner_uid="cj",
            created="2025-03-10T11:10:00Z",
        ),
    ]
    plan = plan_lifecycle(schedule(), [manual, record], jobs, NOW)
    assert plan.suspend == ["alice-nightly-29000000"]
    assert plan.statuses["alice-nightly-29000000"].reason == "ConcurrentRunActive"

    held = [
        job("r1", finished="Complete", message=result("succeeded", 0)),
        job("alice-nightly-29000000", owner_kind="CronJob", owner_uid="cj", suspend=True),
    ]
    plan = plan_lifecycle(schedule(), [manual, record], held, NOW)
    assert plan.resume == ["alice-nightly-29000000"]
    assert plan.statuses["alice-nightly-29000000"].phase == "Running"


def test_allow_starts_every_run_and_replace_keeps_only_the_newest() -> None:
    runs = [run("r1"), run("r2", created="2025-03-10T11:05:00Z")]
    allow = plan_lifecycle(schedule(concurrencyPolicy="Allow"), runs, [], NOW)
    assert [r.metadata.name for r in allow.start] == ["r1", "r2"]

    active = run("r0", created="2025-03-10T10:00:00Z", status={"phase": "Running", "jobName": "r0"})
    replace = plan_lifecycle(
        schedule(concurrencyPolicy="Replace"), [active, *runs], [job("r0")], NOW
    )
    assert [j.name for j in replace.delete_jobs] == ["r0"]
    assert replace.statuses["r0"].reason == "Replaced"
    assert replace.statuses["r1"].phase == "Skipped"
    assert [r.metadata.name for r in replace.start] == ["r2"]


def test_a_hold_keeps_runs_pending() -> None:
    hold = Hold("ScheduleSuspended", "the schedule is suspended")
    plan = plan_lifecycle(schedule(suspend=True), [run("r1")], [], NOW, hold)
    assert plan.start == []
    assert plan.statuses["r1"].reason == "ScheduleSuspended"


# --- validation ---------------------------------------------------------------------------------


def test_a_run_ending_after_today_is_refused_with_the_field_and_fix() -> None:
    plan = plan_lifecycle(schedule(), [run("r1", end="2025-03-11")], [], NOW)
    status = plan.statuses["r1"]
    assert (status.phase, status.reason) == ("Failed", "InvalidRange")
    assert "spec.end: '2025-03-11' is after today (2025-03-10 in Europe/London)" in (
        status.message or ""
    )
    assert plan.start == []


def test_users_cannot_create_scheduled_runs() -> None:
    plan = plan_lifecycle(schedule(), [run("r1", trigger="scheduled")], [], NOW)
    assert plan.statuses["r1"].reason == "InvalidTrigger"


def test_a_job_name_taken_by_another_object_fails_the_run() -> None:
    plan = plan_lifecycle(schedule(), [run("r1")], [job("r1", owner_uid="someone-else")], NOW)
    assert plan.statuses["r1"].reason == "JobNameConflict"
    assert plan.start == []


def test_a_started_run_whose_job_vanished_fails() -> None:
    started = run("r1", status={"phase": "Running", "jobName": "r1"})
    plan = plan_lifecycle(schedule(), [started], [], NOW)
    assert plan.statuses["r1"].reason == "JobDeleted"
    assert plan.start == []  # never a second Job


# --- verdicts -----------------------------------------------------------------------------------


def test_the_runner_result_decides_the_phase() -> None:
    started = run("r1", status={"phase": "Running", "jobName": "r1"})
    cases = [
        (job("r1", finished="Complete", message=result("succeeded", 0)), "Succeeded", "Completed"),
        (
            job("r1", finished="Failed", message=result("partial", 5, 1, 1), exit_code=5),
            "PartiallySucceeded",
            "PartialFailure",
        ),
        (
            job("r1", finished="Failed", message=result("partial", 3, 1, 1), exit_code=3),
            "PartiallySucceeded",
            "PartialFailure",
        ),
        (
            job("r1", finished="Failed", message=result("failed", 4, 0), exit_code=4),
            "Failed",
            "BadConfiguration",
        ),
        (
            job("r1", finished="Failed", message=result("failed", 5, 0), exit_code=5),
            "Failed",
            "ServerUnreachable",
        ),
        (job("r1", finished="Failed"), "Failed", "X"),  # no result: the Job's reason
    ]
    for view, phase, reason in cases:
        status = plan_lifecycle(schedule(), [started], [view], NOW).statuses["r1"]
        assert (status.phase, status.reason) == (phase, reason), view
    partial = plan_lifecycle(schedule(), [started], [cases[1][0]], NOW).statuses["r1"]
    assert partial.counts == {"sourceObjects": 2, "created": 1, "updated": 0, "failed": 1}
    assert partial.archived == 1
    assert partial.errors[0].status == 503


def test_a_result_is_found_in_a_log_tail() -> None:
    tail = 'log line\n{"level": "info"}\n' + json.dumps(result("failed", 5, 0))
    parsed = parse_result({"exitCode": 5, "message": tail})
    assert parsed.status == "failed" and parsed.counts["created"] == 0


# --- statistics and history ---------------------------------------------------------------------


def finished_run(name: str, phase: str, minute: int, **kw: Any) -> ArchiveRun:
    done = (datetime(2025, 3, 10, 11, 0, tzinfo=UTC) + timedelta(minutes=minute)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return run(
        name, status={"phase": phase, "completionTime": done, "counts": {"created": 1}}, **kw
    )


def test_finished_runs_are_counted_once_in_completion_order() -> None:
    started = run("b", status={"phase": "Running", "jobName": "b"})
    failing = job("b", finished="Failed", message=result("failed", 5, 0), exit_code=5)
    sched = schedule()
    first = plan_lifecycle(sched, [started], [failing], NOW)
    assert first.schedule_status is not None
    assert first.schedule_status.consecutive_failures == 1
    assert [f.run.metadata.name for f in first.finished] == ["b"]

    # A second run finishing in the same second, with a name sorting before the first: counted.
    counted = sched.model_copy(update={"status": first.schedule_status})
    other = run("a", status={"phase": "Running", "jobName": "a"})
    same_second = job("a", finished="Failed", message=result("failed", 5, 0), exit_code=5)
    b_done = run("b", status=first.statuses["b"].to_kube())
    second = plan_lifecycle(counted, [b_done, other], [failing, same_second], NOW)
    assert second.schedule_status is not None
    assert second.schedule_status.consecutive_failures == 2
    assert [f.run.metadata.name for f in second.finished] == ["a"]
    assert second.finished[0].previous_failures == 1

    # Nothing new: nothing counted again.
    again = sched.model_copy(update={"status": second.schedule_status})
    a_done = run("a", status=second.statuses["a"].to_kube())
    third = plan_lifecycle(again, [b_done, a_done], [failing, same_second], NOW)
    assert third.finished == []
    assert third.schedule_status == second.schedule_status


def test_history_prunes_oldest_first_separately() -> None:
    runs = [finished_run(f"ok{i}", "Succeeded", i) for i in range(4)]
    runs += [finished_run(f"bad{i}", "Failed", 10 + i) for i in range(3)]
    sched = schedule(history={"successfulRuns": 2, "failedRuns": 1})
    plan = plan_lifecycle(sched, runs, [], NOW)
    assert [r.metadata.name for r in plan.prune] == ["ok0", "ok1", "bad0", "bad1"]


def test_pruning_a_scheduled_record_deletes_its_job() -> None:
    record = finished_run(
        "alice-nightly-1",
        "Succeeded",
        0,
        trigger="scheduled",
        labels={"archive.auriora.io/trigger": "scheduled"},
    )
    view = job("alice-nightly-1", owner_kind="CronJob", owner_uid="cj", finished="Complete")
    plan = plan_lifecycle(schedule(history={"successfulRuns": 0}), [record], [view], NOW)
    assert [r.metadata.name for r in plan.prune] == ["alice-nightly-1"]
    assert [j.name for j in plan.delete_jobs] == ["alice-nightly-1"]


def test_dry_runs_do_not_change_health_statistics() -> None:
    started = run("r1", dry_run=True, status={"phase": "Running", "jobName": "r1"})
    failing = job("r1", finished="Failed", message=result("failed", 5, 0), exit_code=5)
    plan = plan_lifecycle(schedule(), [started], [failing], NOW)
    assert plan.schedule_status is not None
    assert plan.schedule_status.consecutive_failures is None
    assert plan.finished == []


# --- scheduled runs -----------------------------------------------------------------------------


def test_a_cronjob_job_is_recorded_with_the_days_it_archives() -> None:
    minutes = int(datetime(2025, 3, 9, 23, 59, tzinfo=UTC).timestamp() // 60)
    name = f"alice-nightly-{minutes}"
    view = job(
        name, owner_kind="CronJob", owner_uid="cj", labels={"archive.auriora.io/entry": "nightly"}
    )
    # The seven days ending the day before the run: first day -7, last day -7 + 7 - 1 = -1.
    sched = schedule(window={"offsetDays": -7, "days": 7})
    assert unrecorded_jobs(sched, [], [view]) == [view]
    record = record_for_job(sched, view, 0, NOW)
    assert record["metadata"]["name"] == name
    # Scheduled Sunday 2025-03-09 23:59 London (GMT, = UTC): 9 - 7 = the 2nd .. 9 - 1 = the 8th.
    assert record["spec"] == {
        "scheduleRef": {"name": "alice"},
        "start": "2025-03-02",
        "end": "2025-03-08",
        "trigger": "scheduled",
        "dryRun": False,
    }
    assert (
        record["metadata"]["annotations"]["archive.auriora.io/scheduled-time"]
        == "2025-03-09T23:59:00Z"
    )
    assert record["metadata"]["ownerReferences"][0]["uid"] == SCHEDULE_UID
    # A jitter that pushed the run past midnight (fired 03-10 00:05) shifts the whole window
    # back a day: the same 2nd .. 8th the 23:59 run meant.
    assert scheduled_window(sched, datetime(2025, 3, 10, 0, 5, tzinfo=UTC), 1) == (
        date(2025, 3, 2),
        date(2025, 3, 8),
    )


def test_scheduled_window_offset_days_is_the_first_day() -> None:
    """spec.window.offsetDays is the window's FIRST day (the CRD's words; issue 13)."""
    week = schedule(timeZone="America/New_York", window={"offsetDays": -6, "days": 7})
    # Friday 2026-03-13 18:00 EDT = 22:00 UTC: the 13th - 6 = the 7th .. the 13th itself.
    fired = datetime(2026, 3, 13, 22, 0, tzinfo=UTC)
    assert scheduled_window(week, fired, 0) == (date(2026, 3, 7), date(2026, 3, 13))
    # Default window (0, 1): the run's own local day only.
    today = schedule(timeZone="America/New_York")
    assert scheduled_window(today, fired, 0) == (date(2026, 3, 13), date(2026, 3, 13))
    # (-1, 1): the day before. 2026-03-14 02:00 UTC is still Friday the 13th (22:00 EDT).
    yesterday = schedule(timeZone="America/New_York", window={"offsetDays": -1, "days": 1})
    late = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    assert scheduled_window(yesterday, late, 0) == (date(2026, 3, 12), date(2026, 3, 12))
