"""A run made before its schedule existed never starts (issue 18 item 3), on both clusters.

The attack: alice creates an ArchiveRun naming the schedule bob is about to create. No such
schedule exists yet, so the ownership policy has nothing to check it against and admits it
(tests/real/test_ownership_policy_real.py shows it refused once bob's schedule exists). When
bob's schedule appears, the run would start with bob's settings and credentials; the operator
fails it instead: it was never checked against that schedule's user.
"""

from __future__ import annotations

import time

import pytest

from .harness import CalDAV, Cluster, wait_for
from .test_runs import past_days, run_yaml, schedule_yaml, wait_finished

pytestmark = pytest.mark.slow


def test_a_run_made_before_its_schedule_never_starts(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    day = past_days(1)[0]
    cluster.apply(run_yaml("grab", "alice", day, day), namespace)
    pending = wait_for(
        lambda: (
            (r := cluster.try_get("archiverun", namespace, "grab"))
            and r.get("status", {}).get("reason") == "ScheduleNotFound"
            and r
        ),
        "the run to wait for its schedule",
    )
    assert pending["status"]["phase"] == "Pending"

    time.sleep(1.1)  # creation timestamps have whole seconds: the schedule comes strictly later
    cluster.apply(schedule_yaml("alice", source, archive), namespace)
    failed = wait_finished(cluster, namespace, "grab", timeout=60)

    assert (failed["status"]["phase"], failed["status"]["reason"]) == (
        "Failed",
        "RunPredatesSchedule",
    )
    assert "before ArchiveSchedule 'alice' existed" in failed["status"]["message"]
    assert cluster.items("jobs", namespace) == []
    assert caldav.items(archive) == []
