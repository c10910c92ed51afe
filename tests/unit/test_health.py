"""The Healthy condition: a pure table over schedules, run history and the current time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from archive_operator.api import ArchiveSchedule
from archive_operator.api.schedule import CoverageGap
from archive_operator.health import HEALTHY, healthy_condition

NOW = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
GRACE = timedelta(hours=1)


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
        "last success 2026-11-23T00:59Z",
    ),
    (
        # Health no longer reads the age of the last success: days are what is promised.
        "old-success-without-gaps-is-healthy",
        DAILY,
        {"lastSuccessfulTime": "2026-11-20T23:59:00Z"},
        False,
        "True",
        "RunsSucceeding",
        "last success 2026-11-20T23:59Z",
    ),
    (
        "suspended-even-when-failing",
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
        schedule(entries, suspend=suspend, status=status), NOW, grace=GRACE
    )
    assert (condition.type, condition.status, condition.reason) == (HEALTHY, expected, reason)
    assert fragment in condition.message
    assert condition.observed_generation == 4


def gap(first: date, last: date, due: datetime, reason: str = "NotRun") -> CoverageGap:
    return CoverageGap(
        start=first, end=last, reason=reason, message="no run archived it", due_time=due
    )


def test_a_gap_older_than_the_grace_is_unhealthy() -> None:
    # Due 23:00 with a 1 h grace: at 23:59 it is 59 min old (fine), at 00:01 62 min (not).
    gaps = [gap(date(2026, 11, 21), date(2026, 11, 22), NOW - timedelta(minutes=59))]
    young = healthy_condition(schedule(DAILY), NOW, grace=GRACE, gaps=gaps)
    assert (young.status, young.reason) == ("True", "NoRunsYet")
    old = healthy_condition(schedule(DAILY), NOW + timedelta(minutes=2), grace=GRACE, gaps=gaps)
    assert (old.status, old.reason) == ("False", "DaysNotArchived")
    assert old.message == (
        "2 local days not archived more than 1h after their last scheduled chance, the oldest "
        "2026-11-21..2026-11-22 (NotRun: no run archived it); catch-up runs retry with backoff"
    )


def test_a_gap_a_run_is_archiving_is_not_an_alarm() -> None:
    gaps = [gap(date(2026, 11, 1), date(2026, 11, 1), NOW - timedelta(days=20), "RunInProgress")]
    condition = healthy_condition(schedule(DAILY), NOW, grace=GRACE, gaps=gaps)
    assert condition.reason == "NoRunsYet"


def test_suspension_and_failures_say_more_than_gaps() -> None:
    gaps = [gap(date(2026, 11, 1), date(2026, 11, 1), NOW - timedelta(days=20))]
    suspended = healthy_condition(schedule(DAILY, suspend=True), NOW, grace=GRACE, gaps=gaps)
    assert suspended.reason == "Suspended"
    failing = schedule(DAILY, status={"consecutiveFailures": 3})
    assert healthy_condition(failing, NOW, grace=GRACE, gaps=gaps).reason == "FailingRepeatedly"


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

    late = [gap(date(2026, 11, 21), date(2026, 11, 21), NOW - timedelta(days=2))]
    changed = healthy_condition(
        schedule(DAILY, status=status),
        NOW.replace(second=30, microsecond=5),
        grace=GRACE,
        gaps=late,
    )
    assert changed.status == "False"
    # Whole seconds, as Kubernetes stores them.
    assert changed.last_transition_time == NOW.replace(second=30)


def test_naive_times_are_read_as_utc() -> None:
    late = [gap(date(2026, 11, 21), date(2026, 11, 21), NOW - timedelta(days=2))]
    condition = healthy_condition(schedule(DAILY), NOW.replace(tzinfo=None), grace=GRACE, gaps=late)
    assert condition.reason == "DaysNotArchived"
    assert condition.last_transition_time == NOW


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


def test_an_idle_schedule_s_condition_does_not_change_with_time_alone() -> None:
    # A message with "(9h ago)" in it made every resync write every schedule's status.
    status = {"conditions": [ready("True")], "lastSuccessfulTime": iso(NOW - timedelta(hours=9))}
    first = healthy_condition(schedule(DAILY, status=status), NOW, grace=GRACE)
    status["conditions"].append(first.to_kube())
    later = healthy_condition(schedule(DAILY, status=status), NOW + timedelta(hours=5), grace=GRACE)
    assert later == first
