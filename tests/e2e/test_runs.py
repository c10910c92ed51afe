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

from .conftest import sandbox_only
from .harness import CalDAV, Cluster, Operator, WebhookReceiver, free_port, vevent, wait_for

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

    assert run["status"]["phase"] == "Succeeded", run["status"]
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
