"""The whole chain: ArchiveSchedule / ArchiveRun → operator → Job → runner → CalDAV archive.

Each test drives only kubectl (and, on the sandbox, its clock endpoint); the runner is the real
archive-runner, the calendar server a real Radicale.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import pods_reach_loopback
from .harness import (
    CalDAV,
    Cluster,
    GatedProxy,
    Operator,
    WebhookReceiver,
    free_port,
    vevent,
    wait_for,
)

pytestmark = pytest.mark.slow

LONDON = ZoneInfo("Europe/London")


def schedule_yaml(
    name: str,
    source: str,
    archive: str,
    *,
    entries: str = "[]",
    extra: str = "",
) -> str:
    return f"""
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveSchedule
metadata:
  name: {name}
spec:
  user: alice
  timeZone: Europe/London
  schedules: {entries}
  source:
    caldav:
      url: {source}
  destination:
    caldav:
      url: {archive}
  credentialsSecretRef:
    name: calendar
{extra}
"""


def run_yaml(name: str, schedule: str, start: date, end: date, trigger: str = "manual") -> str:
    return f"""
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveRun
metadata:
  name: {name}
spec:
  scheduleRef:
    name: {schedule}
  start: "{start.isoformat()}"
  end: "{end.isoformat()}"
  trigger: {trigger}
"""


def finished(cluster: Cluster, namespace: str, run: str) -> dict[str, Any] | None:
    body = cluster.try_get("archiverun", namespace, run)
    phase = (body or {}).get("status", {}).get("phase")
    if phase in ("Succeeded", "PartiallySucceeded", "Failed", "Skipped"):
        return body
    return None


def wait_finished(cluster: Cluster, namespace: str, run: str, timeout: float = 60) -> Any:
    return wait_for(lambda: finished(cluster, namespace, run), f"run {run} to finish", timeout)


def schedule_status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get("archiveschedule", namespace, name).get("status") or {})


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def seed_days(caldav: CalDAV, calendar: str, days: list[date]) -> None:
    """Two events per local day: 00:30 (the previous UTC day in summer) and 12:00."""
    for day in days:
        stamp = day.strftime("%Y%m%d")
        caldav.put(calendar, f"early-{stamp}", vevent(f"early-{stamp}", local(day, 0, 30), "Early"))
        caldav.put(calendar, f"noon-{stamp}", vevent(f"noon-{stamp}", local(day, 12), "Lunch"))


def archived_days(caldav: CalDAV, archive: str) -> list[str]:
    """The local days of the archived events' starts, sorted."""
    days = []
    for text in caldav.items(archive):
        line = next(x for x in text.splitlines() if x.startswith("DTSTART"))
        value = line.split(":", 1)[1].strip()
        moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        days.append(moment.astimezone(LONDON).date().isoformat())
    return sorted(days)


def past_days(count: int, ago: int = 10) -> list[date]:
    first = datetime.now(LONDON).date() - timedelta(days=ago + count - 1)
    return [first + timedelta(days=i) for i in range(count)]


# --- tests ------------------------------------------------------------------------------------


def test_manual_run_for_a_past_range(cluster: Cluster, caldav: CalDAV, namespace: str) -> None:
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    days = past_days(3)
    seed_days(caldav, source, [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)])
    cluster.apply(schedule_yaml("alice", source, archive), namespace)
    cluster.apply(run_yaml("alice-manual", "alice", days[0], days[-1]), namespace)

    run = wait_finished(cluster, namespace, "alice-manual")

    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == 6
    assert run["status"]["archived"] == 6
    assert run["status"]["jobName"] == "alice-manual"
    assert archived_days(caldav, archive) == sorted(d.isoformat() for d in days for _ in (0, 1))
    status = wait_for(
        lambda: (s := schedule_status(cluster, namespace, "alice")).get("lastRun") and s,
        "the schedule's lastRun",
    )
    assert status["lastRun"]["name"] == "alice-manual"
    assert status["lastRun"]["phase"] == "Succeeded"
    assert status["consecutiveFailures"] == 0
    assert condition(status, "Healthy")["status"] == "True"
    # The run is owned by its schedule, so deleting the schedule removes it.
    owners = [r["kind"] for r in run["metadata"].get("ownerReferences", [])]
    assert owners == ["ArchiveSchedule"]
    events = cluster.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=alice-manual", "-o", "json",
        namespace=namespace,
    )  # fmt: skip
    reasons = {e["reason"] for e in json.loads(events)["items"]}
    assert {"RunStarted", "RunSucceeded"} <= reasons


def events_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json",
        namespace=namespace,
    )  # fmt: skip
    return list(json.loads(out)["items"])


def test_backfill_over_weeks_and_a_manual_run_that_waits_for_it(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    weeks = past_days(21, ago=5)
    seed_days(caldav, source, weeks)
    cluster.apply(schedule_yaml("alice", source, archive), namespace)
    # Both at once: the backfill is older, so it runs first; the manual run waits (Forbid).
    cluster.apply(
        run_yaml("alice-1-backfill", "alice", weeks[0], weeks[-1], trigger="backfill")
        + "---"
        + run_yaml("alice-2-again", "alice", weeks[-1], weeks[-1]),
        namespace,
    )

    backfill = wait_finished(cluster, namespace, "alice-1-backfill")
    again = wait_finished(cluster, namespace, "alice-2-again")

    assert backfill["status"]["phase"] == "Succeeded", backfill["status"]
    assert archived_days(caldav, archive) == sorted(d.isoformat() for d in weeks for _ in (0, 1))
    assert backfill["status"]["counts"]["created"] == 42
    assert archived_days(caldav, archive) == sorted(d.isoformat() for d in weeks for _ in (0, 1))
    assert again["status"]["phase"] == "Succeeded", again["status"]
    assert again["status"]["counts"] == {**again["status"]["counts"], "unchanged": 2, "created": 0}
    queued = [
        e for e in events_of(cluster, namespace, "alice-2-again") if e["reason"] == "RunQueued"
    ]
    assert queued and "ConcurrentRunActive" in queued[0]["message"]
    assert again["status"]["startTime"] >= backfill["status"]["completionTime"]
    assert len(cluster.items("jobs", namespace)) == 2


def test_failing_runs_make_the_schedule_unhealthy_and_notify_then_recover(
    cluster: Cluster, caldav: CalDAV, namespace: str, webhook: WebhookReceiver
) -> None:
    archive = caldav.new_calendar("archive")
    down = f"http://127.0.0.1:{free_port()}/alice/work/"  # nothing listens there
    cluster.kubectl(
        "create", "secret", "generic", "hook", f"--from-literal=url={webhook.url}",
        namespace=namespace,
    )  # fmt: skip
    extra = """  runner:
    backoffLimit: 0
  notify:
    webhook:
      urlSecretRef: {name: hook, key: url}
"""
    cluster.apply(schedule_yaml("alice", down, archive, extra=extra), namespace)
    day = past_days(1)[0]
    cluster.apply(
        "---".join(run_yaml(f"alice-fail-{i}", "alice", day, day) for i in range(3)), namespace
    )
    for i in range(3):
        run = wait_finished(cluster, namespace, f"alice-fail-{i}")
        assert run["status"]["phase"] == "Failed"
        assert run["status"]["reason"] == "ServerUnreachable", run["status"]

    status = wait_for(
        lambda: (
            (s := schedule_status(cluster, namespace, "alice")).get("consecutiveFailures") == 3
            and condition(s, "Healthy").get("status") == "False"
            and s
        ),
        "Healthy=False after three failures",
    )
    assert condition(status, "Healthy")["reason"] == "FailingRepeatedly"
    wait_for(lambda: webhook.kinds().count("failure") == 3, "three failure notifications")
    assert webhook.payloads[0]["user"] == "alice"
    assert webhook.payloads[0]["phase"] == "Failed"

    # The calendar server is back: point the schedule at it and run again.
    source = caldav.new_calendar("work")
    seed_days(caldav, source, [day])
    patch = {"spec": {"source": {"caldav": {"url": source}}}}
    cluster.kubectl(
        "patch", "archiveschedule", "alice", "--type=merge", "-p", json.dumps(patch),
        namespace=namespace,
    )  # fmt: skip
    cluster.apply(run_yaml("alice-recovered", "alice", day, day), namespace)
    assert wait_finished(cluster, namespace, "alice-recovered")["status"]["phase"] == "Succeeded"
    status = wait_for(
        lambda: (
            condition(s := schedule_status(cluster, namespace, "alice"), "Healthy").get("status")
            == "True"
            and s
        ),
        "Healthy=True after the recovery",
    )
    assert status["consecutiveFailures"] == 0
    wait_for(lambda: "recovery" in webhook.kinds(), "a recovery notification")
    recovery = webhook.payloads[webhook.kinds().index("recovery")]
    assert recovery["run"] == "alice-recovered"
    assert recovery["counts"]["created"] == 2


def test_operator_killed_mid_run_makes_no_second_job(
    cluster: Cluster, caldav: CalDAV, namespace: str, operator: Operator
) -> None:
    pods_reach_loopback(cluster)  # the gate is a proxy on 127.0.0.1
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_days(1)[0]
    seed_days(caldav, source, [day])
    with GatedProxy(caldav.base_url) as gate:
        gated = source.replace(caldav.base_url, gate.url)
        cluster.apply(schedule_yaml("alice", gated, archive), namespace)
        cluster.apply(run_yaml("alice-manual", "alice", day, day), namespace)
        wait_for(gate.waiting.is_set, "the runner to reach the calendar server")
        operator.kill()
        operator.start()
        wait_for(
            lambda: (
                "Handler 'run_changed' succeeded"
                in operator.log.read_text(errors="replace").split("Signal SIGTERM")[-1][-20000:]
            ),
            "the restarted operator to resume",
        )
        gate.release.set()
        run = wait_finished(cluster, namespace, "alice-manual")
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == 2
    jobs = cluster.items("jobs", namespace)
    assert [j["metadata"]["name"] for j in jobs] == ["alice-manual"]
    assert len(cluster.items("pods", namespace)) == 1


def test_deleting_the_schedule_removes_everything(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_days(1)[0]
    entries = '[{name: nightly, daily: {at: "23:59"}}]'
    cluster.apply(schedule_yaml("alice", source, archive, entries=entries), namespace)
    cluster.apply(run_yaml("alice-manual", "alice", day, day), namespace)
    wait_finished(cluster, namespace, "alice-manual")
    assert cluster.items("cronjobs", namespace)

    cluster.kubectl("delete", "archiveschedule", "alice", namespace=namespace)

    def gone() -> bool:
        return not any(
            cluster.items(kind, namespace) for kind in ("cronjobs", "jobs", "pods", "archiveruns")
        )

    wait_for(gone, "the schedule's CronJobs, Jobs, pods and runs to be deleted")


def test_daily_schedule_fires_and_archives_the_local_day(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    """On the sandbox the clock jumps to 23:59 London; on the real control plane no clock can be
    moved, so the daily time is the next whole minute at least a minute ahead and the real
    CronJob controller fires it."""
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    if cluster.is_sandbox:
        fires = local(datetime.now(LONDON).date(), 23, 59)
    else:
        ahead = datetime.now(LONDON) + timedelta(seconds=70)
        fires = ahead.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = fires.date()
    seed_days(caldav, source, [day - timedelta(days=1), day, day + timedelta(days=1)])
    entries = f'[{{name: nightly, daily: {{at: "{fires:%H:%M}"}}}}]'
    if cluster.is_sandbox:
        cluster.clock(now=(fires - timedelta(minutes=1)).astimezone(UTC).isoformat(), speed=0)
    try:
        cluster.apply(schedule_yaml("alice", source, archive, entries=entries), namespace)
        wait_for(lambda: cluster.items("cronjobs", namespace), "the CronJob")
        if cluster.is_sandbox:
            cluster.clock(advance=90)  # 30 s past the daily time: the CronJob fires
        runs = wait_for(
            lambda: cluster.items("archiveruns", namespace), "the scheduled run", timeout=200
        )
        name = runs[0]["metadata"]["name"]
        run = wait_finished(cluster, namespace, name, timeout=120)
    finally:
        if cluster.is_sandbox:
            cluster.clock(now=datetime.now(UTC).isoformat(), speed=1)

    assert run["spec"]["trigger"] == "scheduled"
    assert run["spec"]["start"] == run["spec"]["end"] == day.isoformat()
    assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    assert run["status"]["counts"]["created"] == 2
    assert archived_days(caldav, archive) == [day.isoformat()] * 2
    status = wait_for(
        lambda: (s := schedule_status(cluster, namespace, "alice")).get("lastRun") and s,
        "the schedule's lastRun",
    )
    assert status["lastRun"] == {**status["lastRun"], "name": name, "phase": "Succeeded"}
    assert status["lastScheduleTime"] == fires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["lastSuccessfulTime"]
