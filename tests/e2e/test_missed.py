"""A scheduled time the CronJob skips becomes a Skipped ArchiveRun, an Event and a counter.

Sandbox only: the test moves the sandbox's clock through three hourly times while the first
run is held mid-way (a gate in front of the calendar server). With concurrencyPolicy Forbid
the CronJob starts nothing while it is active (JobAlreadyActive), and when it ends it starts
only the most recent time, the third: the second is lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import sandbox_only
from .harness import CalDAV, Cluster, GatedProxy, wait_for
from .test_runs import past_days, schedule_status, schedule_yaml, seed_days, wait_finished

pytestmark = pytest.mark.slow

CRONJOB = "alice-hourly"


def job_name(moment: datetime) -> str:
    return f"{CRONJOB}-{int(moment.timestamp()) // 60}"


def events(cluster: Cluster, namespace: str, name: str, reason: str) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name},reason={reason}",
        "-o", "json", namespace=namespace,
    )  # fmt: skip
    return list(json.loads(out)["items"])


def test_a_time_skipped_under_forbid_is_recorded_with_its_reason(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    sandbox_only(cluster)
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    seed_days(caldav, source, past_days(1))
    # Three hourly times ahead of both clocks (the sandbox's only moves forward here).
    ahead = max(cluster.now(), datetime.now(UTC)) + timedelta(minutes=5)
    first = ahead.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    second, third = first + timedelta(hours=1), first + timedelta(hours=2)
    cluster.clock(now=(first - timedelta(minutes=1)).isoformat(), speed=0)
    try:
        with GatedProxy(caldav.base_url) as gate:
            gated = source.replace(caldav.base_url, gate.url)
            entries = '[{name: hourly, cron: "0 * * * *"}]'
            held_long = "  runner:\n    activeDeadlineSeconds: 86400\n"  # outlives the jumps
            cluster.apply(
                schedule_yaml("alice", gated, archive, entries=entries, extra=held_long),
                namespace,
            )
            wait_for(lambda: cluster.items("cronjobs", namespace), "the CronJob")

            cluster.clock(advance=90)  # the first time: its run is held at the gate
            wait_for(gate.waiting.is_set, "the first run to reach the calendar server")
            cluster.clock(advance=3600)  # the second: the first is still active
            wait_for(
                lambda: events(cluster, namespace, CRONJOB, "JobAlreadyActive"),
                "the CronJob to skip the second time",
            )
            # Had the first run ended now, the CronJob would still start the second (no
            # starting deadline): only once the third time has come is the second lost.
            cluster.clock(advance=3600)
            gate.release.set()  # the first run ends; the CronJob starts the third time
            held = wait_finished(cluster, namespace, job_name(first))
            skipped = wait_finished(cluster, namespace, job_name(second))
    finally:
        cluster.clock(now=datetime.now(UTC).isoformat(), speed=1)

    assert held["status"]["phase"] == "Succeeded", json.dumps(held["status"])
    assert skipped["spec"]["trigger"] == "scheduled"
    assert skipped["status"]["phase"] == "Skipped"
    assert skipped["status"]["reason"] == "ConcurrentRunActive", skipped["status"]
    assert job_name(first) in skipped["status"]["message"]
    assert cluster.try_get("job", namespace, job_name(second)) is None
    assert cluster.try_get("job", namespace, job_name(third)) is not None
    status = wait_for(
        lambda: (s := schedule_status(cluster, namespace, "alice")).get("missedRuns") and s,
        "the schedule's missed-run counter",
    )
    assert status["missedRuns"] == 1
    assert status["lastMissedTime"] == second.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["lastScheduleTime"] == third.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["consecutiveMissed"] == 0  # the third started
    warning = events(cluster, namespace, "alice", "RunSkipped")
    assert warning and warning[0]["type"] == "Warning"
    assert job_name(second) in warning[0]["message"]
