"""CronJob controller conformance on a frozen clock: firing, naming, policies, DST, history, GC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.sandbox.workloads.harness import (  # noqa: F401
    Harness,
    alive,
    busybox,
    cronjob,
    pod_spec,
    wl_fixture,
    wl_sandbox_fixture,
)

SUSPENDED_JOBS = {"suspend": True}  # jobs that start no pods: for schedule-only tests


def minutes(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp()) // 60


def test_daily_2359_fires_with_kubernetes_naming_and_status(wl: Harness) -> None:
    wl.set_time(datetime(2025, 3, 9, 23, 58, 30, tzinfo=UTC))
    body = cronjob("nightly", "59 23 * * *", "echo archived", job_spec=SUSPENDED_JOBS)
    body["spec"]["jobTemplate"]["metadata"] = {
        "labels": {"app": "archive"},
        "annotations": {"note": "x"},
    }
    made = wl.create("cronjobs", body)
    assert wl.names("jobs") == []
    wl.advance(30)
    name = f"nightly-{minutes('2025-03-09T23:59:00+00:00')}"
    assert wl.names("jobs") == [name]
    job = wl.get("jobs", name)
    assert job is not None
    assert job["metadata"]["labels"] == {"app": "archive"}
    assert job["metadata"]["annotations"] == {
        "note": "x",
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2025-03-09T23:59:00Z",
    }
    [ref] = job["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "CronJob",
        "nightly",
        made["metadata"]["uid"],
        True,
    )
    status = wl.get("cronjobs", "nightly")["status"]  # type: ignore[index]
    assert status["lastScheduleTime"] == "2025-03-09T23:59:00Z"
    assert [a["name"] for a in status["active"]] == [name]
    wl.patch("jobs", name, {"spec": {"suspend": False}})  # now it runs
    wl.wait_for(lambda: "active" not in wl.get("cronjobs", "nightly")["status"], "the run")  # type: ignore[index]
    status = wl.get("cronjobs", "nightly")["status"]  # type: ignore[index]
    assert status["lastSuccessfulTime"] == job_completion(wl, name)
    assert f"Saw completed job: {name}, condition: Complete" in wl.events("SawCompletedJob")


def job_completion(wl: Harness, name: str) -> str:
    return str(wl.get("jobs", name)["status"]["completionTime"])  # type: ignore[index]


def walk(wl: Harness, until: datetime, step: timedelta = timedelta(minutes=30)) -> None:
    """Move the clock in steps, as time passes (each step lets the controller act)."""
    while wl.clock.now() < until:
        wl.advance(min(step, until - wl.clock.now()).total_seconds())


def scheduled(wl: Harness) -> list[str]:
    jobs = sorted(wl.list("jobs"), key=lambda j: j["metadata"]["name"])
    return [
        j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        for j in jobs
    ]


def test_dst_spring_forward_skips_the_missing_time_in_new_york(wl: Harness) -> None:
    wl.set_time(datetime(2025, 3, 7, 12, 0, tzinfo=UTC))
    wl.create(
        "cronjobs",
        cronjob("ny", "30 2 * * *", timeZone="America/New_York", job_spec=SUSPENDED_JOBS),
    )
    walk(wl, datetime(2025, 3, 11, 12, 0, tzinfo=UTC))
    # 2025-03-09 02:30 does not exist in New York: robfig/cron (and so Kubernetes) skips it.
    assert scheduled(wl) == [
        "2025-03-08T02:30:00-05:00",
        "2025-03-10T02:30:00-04:00",
        "2025-03-11T02:30:00-04:00",
    ]
    assert wl.names("jobs")[0] == f"ny-{minutes('2025-03-08T07:30:00+00:00')}"


def test_dst_fall_back_fires_twice_in_london(wl: Harness) -> None:
    wl.set_time(datetime(2025, 10, 25, 12, 0, tzinfo=UTC))
    wl.create(
        "cronjobs", cronjob("uk", "30 1 * * *", timeZone="Europe/London", job_spec=SUSPENDED_JOBS)
    )
    walk(wl, datetime(2025, 10, 27, 12, 0, tzinfo=UTC))
    # 01:30 happens twice on 2025-10-26 (BST, then GMT); each is its own minute since the epoch.
    assert scheduled(wl) == [
        "2025-10-26T01:30:00+01:00",
        "2025-10-26T01:30:00Z",
        "2025-10-27T01:30:00Z",
    ]


def test_missed_runs_start_only_the_most_recent(wl: Harness) -> None:
    wl.create("cronjobs", cronjob("every5", "*/5 * * * *", job_spec=SUSPENDED_JOBS))
    start = wl.clock.now()
    wl.advance(2 * 3600 + 60)  # the controller was "down" for two hours
    [only] = wl.list("jobs")
    latest = (start + timedelta(hours=2, minutes=1)).replace(second=0, microsecond=0)
    latest -= timedelta(minutes=latest.minute % 5)
    assert only["metadata"]["name"] == f"every5-{int(latest.timestamp()) // 60}"
    assert wl.events("TooManyMissedTimes") == []


def test_too_many_missed_times_warns_and_still_starts_the_latest(wl: Harness) -> None:
    wl.create("cronjobs", cronjob("minutely", "* * * * *", job_spec=SUSPENDED_JOBS))
    wl.advance(3 * 3600)  # 180 missed start times
    assert len(wl.list("jobs")) == 1
    assert wl.events("TooManyMissedTimes") == [
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check "
        "clock skew"
    ]


def test_starting_deadline_skips_a_run_that_is_too_late(wl: Harness) -> None:
    wl.set_time(datetime(2025, 4, 1, 10, 0, 30, tzinfo=UTC))
    wl.create(
        "cronjobs",
        cronjob("strict", "0 11 * * *", startingDeadlineSeconds=60, job_spec=SUSPENDED_JOBS),
    )
    wl.clock.advance(3600 + 90)  # 11:01:00 -> the 11:00 run is 60s late... and we look at 11:02
    wl.settle()
    assert wl.names("jobs") == []
    assert "lastScheduleTime" not in (wl.get("cronjobs", "strict") or {}).get("status", {})
    wl.set_time(datetime(2025, 4, 2, 11, 0, 59, tzinfo=UTC))  # within the deadline: runs
    assert len(wl.names("jobs")) == 1


def test_suspend_then_resume_starts_the_missed_run(wl: Harness) -> None:
    wl.set_time(datetime(2025, 5, 1, 8, 0, 30, tzinfo=UTC))
    wl.create("cronjobs", cronjob("paused", "0 9 * * *", suspend=True, job_spec=SUSPENDED_JOBS))
    wl.advance(3600)
    assert wl.names("jobs") == []
    wl.patch("cronjobs", "paused", {"spec": {"suspend": False}})
    assert wl.names("jobs") == [f"paused-{minutes('2025-05-01T09:00:00+00:00')}"]


def test_concurrency_forbid_allow_replace(wl: Harness) -> None:
    long_running = "exec sleep 1000"
    for policy in ("Forbid", "Allow", "Replace"):
        wl.create(
            "cronjobs", cronjob(policy.lower(), "* * * * *", long_running, concurrencyPolicy=policy)
        )
    wl.advance(60)
    first = {p["metadata"]["labels"]["job-name"] for p in wl.list("pods")}
    assert len(first) == 3
    runtimes = wl.sandbox.workloads.kubelet.runtimes
    wl.wait_for(lambda: len(wl.sandbox.workloads.kubelet.process_ids()) == 3, "three processes")
    replace_pid = next(
        c.process.pid
        for rt in runtimes.values()
        for c in rt.containers
        if rt.name.startswith("replace-")
    )  # type: ignore[union-attr]
    wl.advance(60)
    jobs = wl.names("jobs")
    assert len([j for j in jobs if j.startswith("forbid-")]) == 1
    assert (
        "Not starting job because prior execution is running and concurrency policy is Forbid"
        in wl.events("JobAlreadyActive")
    )
    assert len([j for j in jobs if j.startswith("allow-")]) == 2
    replaced = [j for j in jobs if j.startswith("replace-")]
    assert len(replaced) == 1 and replaced[0] not in first
    wl.wait_for(lambda: not alive(replace_pid), "the replaced job's process to stop")


def test_history_limits_keep_the_newest_finished_jobs(wl: Harness) -> None:
    wl.create("cronjobs", cronjob("ok", "* * * * *", "true", successfulJobsHistoryLimit=2))
    wl.create(
        "cronjobs",
        cronjob(
            "bad", "* * * * *", "exit 1", failedJobsHistoryLimit=1, job_spec={"backoffLimit": 0}
        ),
    )
    made: list[str] = []
    for _ in range(4):
        wl.advance(60)
        made += [n for n in wl.names("jobs") if n.startswith("ok-") and n not in made]
        wl.wait_for(
            lambda: all(
                "active" not in (wl.get("cronjobs", n) or {}).get("status", {})
                for n in ("ok", "bad")
            ),
            "runs to finish",
        )
    wl.settle()
    assert [n for n in wl.names("jobs") if n.startswith("ok-")] == made[-2:]
    assert len([n for n in wl.names("jobs") if n.startswith("bad-")]) == 1


def test_deleting_a_cronjob_removes_jobs_pods_and_processes(wl: Harness) -> None:
    template = {"spec": pod_spec(busybox("exec sleep 1000"))}
    wl.create("cronjobs", cronjob("doomed", "* * * * *", template=template))
    wl.advance(60)
    pids = wl.wait_for(lambda: wl.sandbox.workloads.kubelet.process_ids(), "a process")
    wl.delete("cronjobs", "doomed")
    wl.wait_for(lambda: wl.names("jobs") == [] and wl.names("pods") == [], "jobs and pods gone")
    wl.wait_for(lambda: not any(alive(p) for p in pids), "processes gone")
