"""Coverage across DST: the day whose run time a spring-forward skipped is archived anyway, and
the day a fall-back repeats is archived twice and owed once.

Sandbox only: the sandbox's clock is set into Pacific/Auckland's spring-forward night (clocks go
from 02:00 NZST, UTC+12, to 03:00 NZDT, UTC+13, on 2026-09-27). A daily 02:30 schedule
archiving the day before has no 02:30 that night: the CronJob does not fire, and without
coverage 2026-09-26 was never archived. The operator, reading the sandbox's time (the API
server's Date header), sees the day owed by the run day 09-27 — nominal time 02:30 NZST =
14:30Z on the 26th, due five minutes later — and starts a catch-up run for it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import sandbox_only
from .harness import CalDAV, Cluster, vevent, wait_for
from .test_runs import schedule_status, wait_finished
from .test_runs import schedule_yaml as runs_schedule_yaml

pytestmark = pytest.mark.slow

AUCKLAND = ZoneInfo("Pacific/Auckland")
NEW_YORK = ZoneInfo("America/New_York")


def schedule_yaml(
    source: str, archive: str, zone: str = "Pacific/Auckland", at: str = "02:30"
) -> str:
    """The e2e schedule (test_runs.py) named kiri, in ``zone``, daily at ``at``, archiving the
    day before."""
    entries = f'[{{name: nightly, daily: {{at: "{at}"}}}}]'
    window = "  window: {offsetDays: -1, days: 1}\n"
    yaml = runs_schedule_yaml("kiri", source, archive, entries=entries, extra=window)
    return yaml.replace("timeZone: Europe/London", f"timeZone: {zone}")


def covered_through(cluster: Cluster, namespace: str, day: str) -> dict[str, Any]:
    """The schedule's status once its coverage reaches ``day``."""
    return wait_for(
        lambda: (
            (s := schedule_status(cluster, namespace, "kiri"))
            .get("coverage", {})
            .get("coveredThrough")
            == day
            and s
        ),
        f"coverage through {day}",
    )


def archived_local_days(caldav: CalDAV, archive: str, zone: ZoneInfo = AUCKLAND) -> list[str]:
    days = []
    for text in caldav.items(archive):
        line = next(x for x in text.splitlines() if x.startswith("DTSTART"))
        moment = datetime.strptime(line.split(":", 1)[1].strip(), "%Y%m%dT%H%M%SZ")
        days.append(moment.replace(tzinfo=UTC).astimezone(zone).date().isoformat())
    return sorted(days)


def seed_noons(caldav: CalDAV, calendar: str, zone: ZoneInfo, *days: date) -> None:
    """One event at local noon on each day."""
    for day in days:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        caldav.put(calendar, f"noon-{day:%m%d}", vevent(f"noon-{day:%m%d}", noon, "Lunch"))


def catch_ups(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    runs = cluster.items("archiveruns", namespace)
    return [r for r in runs if r["spec"].get("trigger") == "catchup"]


def test_the_spring_forward_day_is_caught_up(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    sandbox_only(cluster)
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    seed_noons(caldav, source, AUCKLAND, date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27))

    # 2026-09-26 12:00 NZST: today's 02:30 run came before the schedule, so 09-25 is not owed.
    cluster.clock(now="2026-09-26T00:00:00+00:00", speed=0)
    try:
        cluster.apply(schedule_yaml(source, archive), namespace)
        wait_for(lambda: cluster.items("cronjobs", namespace), "the CronJob")
        # 03:40 NZDT on 09-27: 02:30 never came. Due at 14:35Z; the resync (2 s) sees it.
        cluster.clock(now="2026-09-26T14:40:00+00:00", speed=0)
        (run,) = wait_for(lambda: catch_ups(cluster, namespace), "the catch-up run", timeout=90)
        name = run["metadata"]["name"]
        done = wait_finished(cluster, namespace, name, timeout=120)
        status = covered_through(cluster, namespace, "2026-09-26")
        jobs = cluster.items("jobs", namespace)
    finally:
        cluster.clock(now=datetime.now(UTC).isoformat(), speed=1)

    assert name == "kiri-catchup-20260926"
    assert (done["spec"]["start"], done["spec"]["end"]) == ("2026-09-26", "2026-09-26")
    assert done["status"]["phase"] == "Succeeded", json.dumps(done["status"])
    # The CronJob started nothing that night: the only Job is the catch-up's.
    assert [j["metadata"]["labels"].get("archive.auriora.io/trigger") for j in jobs] == ["catchup"]
    assert archived_local_days(caldav, archive) == ["2026-09-26"]
    coverage = status["coverage"]
    assert coverage["since"] == "2026-09-25"
    assert coverage.get("missingDays", 0) == 0 and not coverage.get("gaps")
    healthy = next(c for c in status["conditions"] if c["type"] == "Healthy")
    assert healthy["status"] == "True", healthy


def test_the_fall_back_night_runs_twice_and_owes_once(
    cluster: Cluster, caldav: CalDAV, namespace: str
) -> None:
    """America/New_York goes from 02:00 EDT (UTC-4) back to 01:00 EST (UTC-5) on 2027-11-07:
    01:30 happens at 05:30Z and again at 06:30Z. The CronJob fires at both; each run archives
    11-06 (the day before), idempotently; coverage owes 11-06 once: no gap, no catch-up. (A
    date ahead of real time: the sandbox clock only moves forward within the test.)"""
    sandbox_only(cluster)
    source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
    seed_noons(caldav, source, NEW_YORK, date(2027, 11, 5), date(2027, 11, 6), date(2027, 11, 7))

    # 2027-11-06 12:00 EDT: that day's 01:30 run came before the schedule; 11-06 is owed by
    # the run day 11-07.
    cluster.clock(now="2027-11-06T16:00:00+00:00", speed=0)
    try:
        cluster.apply(schedule_yaml(source, archive, "America/New_York", "01:30"), namespace)
        wait_for(lambda: cluster.items("cronjobs", namespace), "the CronJob")
        # The CronJob names its Jobs <cronjob>-<minutes since the epoch>: 1:30 EDT = 05:30Z,
        # 1:30 EST = 06:30Z.
        # 1,825,565,400 s (2027-11-07 05:30Z) / 60 = 30,426,090; an hour later 30,426,150.
        names = ["kiri-nightly-30426090", "kiri-nightly-30426150"]
        befores = ("2027-11-07T05:29:00+00:00", "2027-11-07T06:29:00+00:00")
        for job, before in zip(names, befores, strict=True):
            cluster.clock(now=before, speed=0)
            cluster.clock(advance=90)
            wait_for(lambda j=job: cluster.try_get("archiverun", namespace, j), f"the run {job}")
            wait_finished(cluster, namespace, job, timeout=120)
        cluster.clock(now="2027-11-07T06:45:00+00:00", speed=0)  # past both and the grace
        status = covered_through(cluster, namespace, "2027-11-06")
        runs = cluster.items("archiveruns", namespace)
    finally:
        cluster.clock(now=datetime.now(UTC).isoformat(), speed=1)

    by_name = {r["metadata"]["name"]: r for r in runs}
    assert sorted(by_name) == sorted(names)  # the two scheduled runs, no catch-up
    for name in names:
        run = by_name[name]
        assert (run["spec"]["start"], run["spec"]["end"]) == ("2027-11-06", "2027-11-06")
        assert run["status"]["phase"] == "Succeeded", json.dumps(run["status"])
    # Once in the archive, whatever the second run did.
    assert archived_local_days(caldav, archive, NEW_YORK) == ["2027-11-06"]
    coverage = status["coverage"]
    assert coverage.get("missingDays", 0) == 0 and not coverage.get("gaps")
