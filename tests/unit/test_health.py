"""The Healthy condition: a pure table over schedules, run history and the current time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator.api import ArchiveSchedule, ObjectMeta
from archive_operator.health import (
    HEALTHY,
    cron_runs,
    healthy_condition,
    longest_interval,
    schedule_interval,
)

NOW = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
GRACE = timedelta(hours=1)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(
    entries: list[dict[str, Any]] | None = None,
    *,
    suspend: bool = False,
    time_zone: str = "UTC",
    status: dict[str, Any] | None = None,
    generation: int = 4,
) -> ArchiveSchedule:
    return ArchiveSchedule.model_validate(
        {
            "metadata": {"name": "alice", "namespace": "team-a", "generation": generation},
            "spec": {
                "user": "alice",
                "suspend": suspend,
                "timeZone": time_zone,
                "schedules": [{"name": "nightly", "daily": {"at": "23:59"}}]
                if entries is None
                else entries,
                "source": {"caldav": {"url": "https://cal.example.com/alice/"}},
                "destination": {"caldav": {"url": "https://cal.example.com/alice-archive/"}},
            },
            "status": status or {},
        }
    )


def ready(status: str, reason: str = "Reconciled", message: str = "1 CronJob matches") -> dict:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


DAILY = [{"name": "nightly", "daily": {"at": "23:59"}}]
WEEKLY = [{"name": "weekly", "weekly": {"days": ["mon", "wed"], "at": "12:00"}}]
CRON_WORKDAYS = [{"name": "workdays", "cron": "30 18 * * 1-5"}]


# (id, entries, status, suspend, expected status, reason, message fragment)
CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], bool, str, str, str]] = [
    (
        "daily-fresh",
        DAILY,
        {"lastSuccessfulTime": iso(NOW - timedelta(hours=23))},
        False,
        "True",
        "RunsSucceeding",
        "last success 2026-11-23T00:59Z (23h ago)",
    ),
    (
        "daily-within-grace",
        DAILY,
        {"lastSuccessfulTime": iso(NOW - timedelta(hours=24, minutes=59))},
        False,
        "True",
        "RunsSucceeding",
        "(1 day ago)",
    ),
    (
        "daily-overdue",
        DAILY,
        {"lastSuccessfulTime": "2026-11-20T23:59:00Z"},
        False,
        "False",
        "Overdue",
        "last success 2026-11-20T23:59Z is 3 days old; expected at most 1 day + 1h",
    ),
    (
        "daily-just-past-grace",
        DAILY,
        {"lastSuccessfulTime": iso(NOW - timedelta(hours=25, minutes=1))},
        False,
        "False",
        "Overdue",
        "is 1 day 1h old; expected at most 1 day + 1h",
    ),
    (
        "weekly-long-gap-ok",  # Wed 12:00 -> Mon 12:00 is the longest gap: 5 days
        WEEKLY,
        {"lastSuccessfulTime": iso(NOW - timedelta(days=4, hours=12))},
        False,
        "True",
        "RunsSucceeding",
        "4 days 12h ago",
    ),
    (
        "weekly-overdue",
        WEEKLY,
        {"lastSuccessfulTime": iso(NOW - timedelta(days=5, hours=2))},
        False,
        "False",
        "Overdue",
        "is 5 days 2h old; expected at most 5 days + 1h",
    ),
    (
        "cron-weekend-gap-ok",  # Fri 18:30 -> Mon 18:30: 3 days
        CRON_WORKDAYS,
        {"lastSuccessfulTime": iso(NOW - timedelta(days=2, hours=20))},
        False,
        "True",
        "RunsSucceeding",
        "",
    ),
    (
        "cron-overdue",
        CRON_WORKDAYS,
        {"lastSuccessfulTime": iso(NOW - timedelta(days=3, hours=2))},
        False,
        "False",
        "Overdue",
        "expected at most 3 days + 1h",
    ),
    (
        "suspended-even-when-overdue",
        DAILY,
        {"lastSuccessfulTime": "2026-10-01T00:00:00Z", "consecutiveFailures": 5},
        True,
        "True",
        "Suspended",
        "no scheduled runs are expected",
    ),
    (
        "not-ready-wins-over-everything",
        DAILY,
        {
            "conditions": [ready("False", "InvalidTimeZone", "spec.timeZone: 'Mars/X' ...")],
            "lastSuccessfulTime": iso(NOW - timedelta(hours=1)),
        },
        True,
        "False",
        "NotReady",
        "Ready is False (InvalidTimeZone): spec.timeZone: 'Mars/X' ...",
    ),
    (
        "failing-repeatedly",
        DAILY,
        {
            "conditions": [ready("True")],
            "lastSuccessfulTime": iso(NOW - timedelta(hours=2)),
            "lastFailureTime": "2026-11-23T23:00:00Z",
            "consecutiveFailures": 3,
        },
        False,
        "False",
        "FailingRepeatedly",
        "3 runs in a row failed, the last at 2026-11-23T23:00Z (alarm at 3); last success",
    ),
    (
        "two-failures-still-healthy",
        DAILY,
        {"lastSuccessfulTime": iso(NOW - timedelta(hours=2)), "consecutiveFailures": 2},
        False,
        "True",
        "RunsSucceeding",
        "; 2 recent runs failed",
    ),
    (
        "only-failures-below-threshold",
        [],
        {"consecutiveFailures": 1},
        False,
        "True",
        "NoSuccessYet",
        "no successful run yet; 1 recent run failed",
    ),
    (
        "manual-only-never-overdue",
        [],
        {"lastSuccessfulTime": "2025-01-01T00:00:00Z"},
        False,
        "True",
        "RunsSucceeding",
        "",
    ),
    (
        "manual-only-failing",
        [],
        {"consecutiveFailures": 4},
        False,
        "False",
        "FailingRepeatedly",
        "4 runs in a row failed (alarm at 3); no successful run yet",
    ),
    (
        "skipped-runs-keep-happening",
        DAILY,
        {
            "lastSuccessfulTime": iso(NOW - timedelta(hours=2)),
            "consecutiveMissed": 3,
            "lastMissedTime": iso(NOW - timedelta(minutes=30)),
        },
        False,
        "False",
        "MissingRuns",
        "3 scheduled runs in a row were not started, the last at 2026-11-23T23:29Z (alarm at 3)",
    ),
    (
        "skipped-runs-are-not-failures",
        DAILY,
        {
            "lastSuccessfulTime": iso(NOW - timedelta(hours=2)),
            "consecutiveMissed": 2,
            "consecutiveFailures": 2,
        },
        False,
        "True",
        "RunsSucceeding",
        "; 2 recent runs failed; 2 scheduled runs not started",
    ),
    (
        "failing-wins-over-skipped",
        DAILY,
        {"consecutiveFailures": 3, "consecutiveMissed": 5},
        False,
        "False",
        "FailingRepeatedly",
        "3 runs in a row failed",
    ),
]


@pytest.mark.parametrize(
    ("entries", "status", "suspend", "expected", "reason", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_health_table(
    entries: list[dict[str, Any]],
    status: dict[str, Any],
    suspend: bool,
    expected: str,
    reason: str,
    fragment: str,
) -> None:
    condition = healthy_condition(
        schedule(entries, suspend=suspend, status=status), NOW, grace=GRACE, created=CREATED
    )
    assert (condition.type, condition.status, condition.reason) == (HEALTHY, expected, reason)
    assert fragment in condition.message
    assert condition.observed_generation == 4


def test_new_schedule_gets_its_first_interval_from_creation() -> None:
    fresh = schedule(DAILY)
    young = healthy_condition(fresh, NOW, grace=GRACE, created=NOW - timedelta(hours=25))
    assert (young.status, young.reason) == ("True", "NoRunsYet")

    old = healthy_condition(fresh, NOW, grace=GRACE, created=NOW - timedelta(hours=26))
    assert (old.status, old.reason) == ("False", "Overdue")
    assert old.message == (
        "no successful run since the schedule was created 2026-11-22T21:59Z, 1 day 2h ago; "
        "expected at most 1 day + 1h"
    )


def test_without_creation_time_a_schedule_without_success_is_not_overdue() -> None:
    condition = healthy_condition(schedule(DAILY), NOW, grace=GRACE)
    assert (condition.status, condition.reason) == ("True", "NoRunsYet")


def test_failure_threshold_is_configurable() -> None:
    status = {"lastSuccessfulTime": iso(NOW - timedelta(hours=1)), "consecutiveFailures": 1}
    condition = healthy_condition(
        schedule(DAILY, status=status), NOW, grace=GRACE, failure_threshold=1
    )
    assert condition.reason == "FailingRepeatedly"


def test_last_transition_time_kept_while_status_unchanged() -> None:
    earlier = datetime(2026, 11, 1, tzinfo=UTC)
    previous = {
        "type": HEALTHY,
        "status": "True",
        "reason": "NoRunsYet",
        "message": "No run has finished yet",
        "lastTransitionTime": iso(earlier),
    }
    status = {"conditions": [previous], "lastSuccessfulTime": iso(NOW - timedelta(hours=3))}
    same = healthy_condition(schedule(DAILY, status=status), NOW, grace=GRACE)
    assert same.reason == "RunsSucceeding"
    assert same.last_transition_time == earlier

    status["lastSuccessfulTime"] = iso(NOW - timedelta(days=2))
    changed = healthy_condition(
        schedule(DAILY, status=status), NOW.replace(second=30, microsecond=5), grace=GRACE
    )
    assert changed.status == "False"
    # Whole seconds, as Kubernetes stores them.
    assert changed.last_transition_time == NOW.replace(second=30)


def test_naive_times_are_read_as_utc() -> None:
    status = {"lastSuccessfulTime": "2026-11-20T23:59:00"}
    condition = healthy_condition(
        schedule(DAILY, status=status), NOW.replace(tzinfo=None), grace=GRACE
    )
    assert condition.reason == "Overdue"
    assert condition.last_transition_time == NOW


@pytest.mark.parametrize(
    ("crons", "expected"),
    [
        (["59 23 * * *"], timedelta(days=1)),
        (["0 12 * * 1,3"], timedelta(days=5)),
        (["0 12 * * 3"], timedelta(days=7)),
        (["*/5 * * * 1-5"], timedelta(days=2, minutes=5)),
        (["0 0 1 * *"], timedelta(days=31)),
        (["0 0 29 2 *"], timedelta(days=4 * 365 + 1)),
        (["* * * * *"], timedelta(minutes=1)),
        (["@hourly"], timedelta(hours=1)),
        # Several entries: the gaps of their runs together.
        (["0 1 * * *", "0 13 * * *"], timedelta(hours=12)),
        (["0 12 * * 1", "0 12 * * 4"], timedelta(days=4)),
        # Never fires / invalid: no interval, so never Overdue.
        (["0 0 30 2 *"], None),
        (["61 * * * *"], None),
        ([], None),
    ],
)
def test_longest_interval(crons: list[str], expected: timedelta | None) -> None:
    assert longest_interval(crons) == expected


def test_cron_samples_are_bounded() -> None:
    assert len(cron_runs("* * * * *")) <= 1500
    assert cron_runs("not a cron") == ()


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]
)
def test_interval_is_a_utc_duration_whatever_the_time_zone(zone: str) -> None:
    # DST does not change the interval: 23 h and 25 h days are absorbed by the grace.
    assert schedule_interval(schedule(DAILY, time_zone=zone)) == timedelta(days=1)
    assert schedule_interval(schedule(WEEKLY, time_zone=zone)) == timedelta(days=5)


def test_jitter_keeps_the_interval() -> None:
    jittered = [{"name": "nightly", "daily": {"at": "23:59"}, "jitterMinutes": 120}]
    assert schedule_interval(schedule(jittered)) == timedelta(days=1)
    jittered_weekly = [{**WEEKLY[0], "jitterMinutes": 600}]
    assert schedule_interval(schedule(jittered_weekly)) == timedelta(days=5)


def test_invalid_cron_entry_is_left_out() -> None:
    entries = [*DAILY, {"name": "bad", "cron": "61 * * * *"}]
    assert schedule_interval(schedule(entries)) == timedelta(days=1)


def test_dst_fall_back_day_is_covered_by_the_grace() -> None:
    # Europe/London, daily 23:59: the run of 2026-10-25 comes 25 h after the one before
    # (clocks went back). A grace above 1 h plus the run's duration keeps Healthy True.
    status = {"lastSuccessfulTime": "2026-10-24T23:00:30Z"}  # 23:59 BST + the run's 90 s
    london = schedule(DAILY, time_zone="Europe/London", status=status)
    just_before_next_success = datetime(2026, 10, 26, 0, 1, 0, tzinfo=UTC)
    ok = healthy_condition(london, just_before_next_success, grace=timedelta(hours=2))
    assert ok.reason == "RunsSucceeding"
    tight = healthy_condition(london, just_before_next_success, grace=timedelta(hours=1))
    assert tight.reason == "Overdue"


@pytest.mark.skipif(
    "creation_timestamp" not in ObjectMeta.model_fields,
    reason="ObjectMeta has no creation_timestamp yet (pass created= instead)",
)
def test_creation_time_is_read_from_the_metadata_when_the_model_has_it() -> None:
    body = schedule(DAILY).model_dump(by_alias=True)
    body["metadata"]["creationTimestamp"] = iso(NOW - timedelta(days=2))
    condition = healthy_condition(ArchiveSchedule.model_validate(body), NOW, grace=GRACE)
    assert condition.reason == "Overdue"
    assert "since the schedule was created" in condition.message


BLOCKED_MESSAGE = (
    'pod alice-now-x7k2p cannot start: CreateContainerConfigError: secret "x" not found'
)


def test_a_blocked_run_makes_the_schedule_unhealthy_even_when_suspended() -> None:
    status = {"conditions": [ready("True")], "lastSuccessfulTime": iso(NOW - timedelta(hours=1))}
    blocked = [("alice-now", BLOCKED_MESSAGE), ("alice-again", "pod ... cannot start")]

    for suspend in (False, True):
        condition = healthy_condition(
            schedule(DAILY, status=status, suspend=suspend), NOW, grace=GRACE, blocked=blocked
        )
        assert (condition.status, condition.reason) == ("False", "RunsBlocked")
        # The first by name, and how many more.
        assert condition.message == (
            "run alice-again (and 1 more) is Blocked: pod ... cannot start"
        )


def test_not_ready_says_more_than_blocked_runs() -> None:
    status = {"conditions": [ready("False", "InvalidTimeZone", "spec.timeZone: bad")]}
    condition = healthy_condition(
        schedule(DAILY, status=status), NOW, grace=GRACE, blocked=[("alice-now", BLOCKED_MESSAGE)]
    )
    assert condition.reason == "NotReady"


def test_without_blocked_runs_health_is_as_before() -> None:
    status = {"conditions": [ready("True")], "lastSuccessfulTime": iso(NOW - timedelta(hours=1))}
    condition = healthy_condition(schedule(DAILY, status=status), NOW, grace=GRACE, blocked=[])
    assert (condition.status, condition.reason) == ("True", "RunsSucceeding")
