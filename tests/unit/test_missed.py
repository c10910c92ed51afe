"""Missed scheduled times (pure): which times the CronJob did not start, why, and how many."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from archive_operator import missed
from archive_operator.api import ArchiveRun
from archive_operator.api.schedule import ArchiveScheduleStatus
from archive_operator.missed import CronJobState, EntryCheck, EntryHistory, check_entry
from archive_runner.contract import scheduled_job_name

CJ = "alice-nightly"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)  # the operator has been running since long before


def cronjob(
    schedule: str = "30 1 * * *",
    zone: str = "UTC",
    *,
    created: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    last: datetime | None = None,
    forbid: bool = True,
    deadline: int | None = None,
    suspended: bool = False,
) -> CronJobState:
    return CronJobState(CJ, schedule, zone, created, last, suspended, forbid, deadline)


def history(
    started: Sequence[datetime] = (),
    recorded_missed: Sequence[datetime] = (),
    activity: Sequence[missed.Activity] = (),
) -> EntryHistory:
    return EntryHistory(
        frozenset(scheduled_job_name(CJ, t) for t in started),
        frozenset(scheduled_job_name(CJ, t) for t in recorded_missed),
        max([*started, *recorded_missed], default=None),
        tuple(activity),
    )


def utc(*args: int, zone: str = "UTC") -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[arg-type,misc]


def times(check: EntryCheck) -> list[datetime]:
    return [m.time for m in check.missed]


# --- which times are missed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expected_local"),
    [
        # Spring forward on 30 March: 01:30 does not exist that day, so it was never due.
        ("Europe/London", [(3, 29, 1, 30), (3, 31, 1, 30)]),
        # Fall back on 2 November: 01:30 happens twice (robfig fires in both), both missed.
        (
            "America/New_York",
            [(11, 1, 1, 30), (11, 2, 1, 30), (11, 2, 1, 30, 1), (11, 3, 1, 30)],
        ),
    ],
)
def test_daily_times_across_dst_in_the_schedules_zone(
    zone: str, expected_local: list[tuple[int, ...]]
) -> None:
    tz = ZoneInfo(zone)
    first, last = expected_local[0], expected_local[-1]
    checked = (datetime(2025, first[0], first[1], 12, tzinfo=tz) - timedelta(days=1)).astimezone(
        UTC
    )
    now = datetime(2025, last[0], last[1], 12, tzinfo=tz).astimezone(UTC)
    check = check_entry(
        cronjob(zone=zone, deadline=600), history(), checked, now, operator_since=EPOCH
    )
    expected = []
    for month_, day, hour, minute, *fold in expected_local:
        local = datetime(2025, month_, day, hour, minute, tzinfo=ZoneInfo(zone))
        expected.append(local.replace(fold=fold[0] if fold else 0).astimezone(UTC))
    assert times(check) == expected
    assert {m.reason for m in check.missed} == {missed.MISSED_STARTING_DEADLINE}
    assert len({m.name for m in check.missed}) == len(expected)  # one name per instant
    assert check.checked == expected[-1]


def test_times_with_a_job_are_not_missed_and_move_the_watermark() -> None:
    day1, day2, day3 = (utc(2025, 3, d, 1, 30) for d in (10, 11, 12))
    check = check_entry(
        cronjob(deadline=600),
        history(started=[day1, day3]),
        utc(2025, 3, 9, 12),
        utc(2025, 3, 12, 12),
        operator_since=EPOCH,
    )
    assert times(check) == [day2]
    assert check.missed[0].name == f"{CJ}-{int(day2.timestamp()) // 60}"
    assert check.checked == day3


def test_the_most_recent_time_stays_open_until_it_cannot_start() -> None:
    due = utc(2025, 3, 10, 1, 30)
    state = cronjob(deadline=300)
    # Within startingDeadlineSeconds (plus the skew margin) the CronJob may still start it.
    for now in (due, due + timedelta(seconds=300), due + timedelta(seconds=359)):
        check = check_entry(state, history(), utc(2025, 3, 9, 12), now, operator_since=EPOCH)
        assert check.missed == () and check.checked == utc(2025, 3, 9, 12), now
    check = check_entry(
        state, history(), utc(2025, 3, 9, 12), due + timedelta(seconds=361), operator_since=EPOCH
    )
    assert times(check) == [due]
    assert check.missed[0].reason == missed.MISSED_STARTING_DEADLINE
    assert "startingDeadlineSeconds (300s)" in check.missed[0].message


def test_without_a_deadline_a_time_is_missed_once_the_next_one_has_passed() -> None:
    first, second = utc(2025, 3, 10, 1, 30), utc(2025, 3, 11, 1, 30)
    state = cronjob()
    # A day later the controller could still start it (it would, were its slot free)...
    check = check_entry(state, history(), utc(2025, 3, 9, 12), second, operator_since=EPOCH)
    assert check.missed == ()
    # ...until the next time has passed: the controller only ever starts the most recent.
    later = second + missed.SETTLE + timedelta(seconds=1)
    check = check_entry(state, history(), utc(2025, 3, 9, 12), later, operator_since=EPOCH)
    assert times(check) == [first]
    assert check.missed[0].reason == missed.MISSED_SCHEDULE
    assert check.checked == first  # the second is still open


def test_the_cronjobs_last_schedule_time_proves_earlier_times_missed() -> None:
    """The cluster's clock may be ahead of the operator's: its own word needs no clock."""
    first, second = utc(2025, 3, 10, 1, 30), utc(2025, 3, 11, 1, 30)
    check = check_entry(
        cronjob(last=second),
        history(started=[second]),
        utc(2025, 3, 9, 12),
        first - timedelta(hours=1),  # the operator's clock is behind the cluster's
        operator_since=EPOCH,
    )
    assert times(check) == [first]
    assert check.checked == second


def test_forbid_with_an_active_run_names_the_run_that_held_the_slot() -> None:
    first, second, third = (utc(2025, 3, d, 1, 30) for d in (10, 11, 12))
    holder = scheduled_job_name(CJ, first)
    active = missed.Activity(holder, first, second + timedelta(hours=2))
    check = check_entry(
        cronjob(last=third),
        history(started=[first, third], activity=[active]),
        utc(2025, 3, 9, 12),
        third,
        operator_since=EPOCH,
    )
    assert times(check) == [second]
    assert check.missed[0].reason == missed.CONCURRENT_RUN_ACTIVE
    assert holder in check.missed[0].message and "Forbid" in check.missed[0].message


def test_an_active_run_is_no_reason_under_allow() -> None:
    first, _, third = (utc(2025, 3, d, 1, 30) for d in (10, 11, 12))
    active = missed.Activity(scheduled_job_name(CJ, first), first, None)
    check = check_entry(
        cronjob(last=third, forbid=False),
        history(started=[first, third], activity=[active]),
        utc(2025, 3, 9, 12),
        third,
        operator_since=EPOCH,
    )
    assert [m.reason for m in check.missed] == [missed.MISSED_SCHEDULE]


def test_times_before_the_cronjob_existed_or_the_operator_ran() -> None:
    created = utc(2025, 3, 11, 12)
    since = utc(2025, 3, 12, 12)
    check = check_entry(
        cronjob(created=created, deadline=60),
        history(),
        utc(2025, 3, 9, 12),  # the watermark is older than the (recreated) CronJob
        utc(2025, 3, 13, 12),
        operator_since=since,
    )
    assert [m.reason for m in check.missed] == [
        missed.CRONJOB_MISSING,  # 10 March
        missed.CRONJOB_MISSING,  # 11 March 01:30, before 12:00
        missed.OPERATOR_DOWN,  # 12 March 01:30, before the operator started
        missed.MISSED_STARTING_DEADLINE,  # 13 March
    ]


# --- bounds, watermark, no double record --------------------------------------------------------


def test_operator_down_for_three_days_records_a_bounded_number_and_counts_all() -> None:
    since = utc(2025, 3, 13, 12)
    check = check_entry(
        cronjob("*/5 * * * *"),
        history(),
        utc(2025, 3, 10, 12),
        since,
        operator_since=since,
        limit=10,  # spec.history.failedRuns
    )
    # The last two are open: the very last is due now, the one before has no successor
    # older than the clock-skew margin yet.
    assert len(check.missed) == 3 * 24 * 12 - 2
    assert [m.time for m in check.to_record] == times(check)[-10:]  # the newest are recorded
    assert check.unrecorded == len(check.missed) - 10
    assert {m.reason for m in check.missed} == {missed.OPERATOR_DOWN}
    assert check.checked == check.missed[-1].time


def test_never_more_than_the_hard_bound_per_reconcile() -> None:
    check = check_entry(
        cronjob("* * * * *"),
        history(),
        utc(2025, 3, 10),
        utc(2025, 3, 11),
        operator_since=EPOCH,
        limit=10_000,
    )
    assert len(check.to_record) == missed.MAX_RECORDS_PER_ENTRY
    assert len(check.missed) == 24 * 60 - 2  # the last two are within the margin


def test_a_second_check_after_the_first_finds_nothing_new() -> None:
    state = cronjob(deadline=600)
    now = utc(2025, 3, 13, 12)
    first = check_entry(state, history(), utc(2025, 3, 9, 12), now, operator_since=EPOCH)
    assert len(first.to_record) == 4
    # Records made, watermark written: the next reconcile starts after it.
    again = check_entry(
        state,
        history(recorded_missed=times(first)),
        first.checked,
        now + timedelta(minutes=5),
        operator_since=EPOCH,
    )
    assert again == EntryCheck(first.checked)


def test_after_a_lost_status_write_records_are_not_made_twice_but_still_counted() -> None:
    state = cronjob(deadline=600)
    now = utc(2025, 3, 13, 12)
    first = check_entry(state, history(), utc(2025, 3, 9, 12), now, operator_since=EPOCH)
    # The records were created, but the status (watermark, counters) was never written.
    retry = check_entry(
        state,
        history(recorded_missed=times(first)),
        utc(2025, 3, 9, 12),
        now,
        operator_since=EPOCH,
    )
    assert retry.to_record == ()
    assert times(retry) == times(first) and retry.checked == first.checked


def test_first_look_starts_at_the_cronjobs_creation_or_the_newest_record() -> None:
    created = utc(2025, 3, 12, 12)
    check = check_entry(
        cronjob(created=created, deadline=60),
        history(),
        None,
        utc(2025, 3, 13, 12),
        operator_since=EPOCH,
    )
    assert times(check) == [utc(2025, 3, 13, 1, 30)]
    newest = utc(2025, 3, 13, 1, 30)
    check = check_entry(
        cronjob(created=utc(2025, 1, 1), deadline=60),
        history(started=[newest]),
        None,
        utc(2025, 3, 13, 12),
        operator_since=EPOCH,
    )
    assert check == EntryCheck(newest)


def test_suspended_checks_nothing_and_resuming_skips_the_suspension() -> None:
    checked = utc(2025, 3, 1)
    now = utc(2025, 3, 13, 12)
    assert check_entry(
        cronjob(deadline=60, suspended=True), history(), checked, now, operator_since=EPOCH
    ) == EntryCheck(checked)
    resumed = check_entry(
        cronjob(deadline=60), history(), checked, now, operator_since=EPOCH, resumed=True
    )
    assert resumed == EntryCheck(utc(2025, 3, 13, 1, 30))


def test_an_unparseable_cronjob_checks_nothing() -> None:
    state = cronjob("not a cron")
    assert check_entry(
        state, history(), utc(2025, 3, 1), utc(2025, 3, 9, 12), operator_since=EPOCH
    ) == (EntryCheck(utc(2025, 3, 1)))


def test_cronjob_state_reads_what_the_controller_uses() -> None:
    state = missed.cronjob_state(
        {
            "metadata": {"name": CJ, "creationTimestamp": "2025-03-01T00:00:00Z"},
            "spec": {
                "schedule": "30 1 * * *",
                "timeZone": "Europe/London",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 120,
                "suspend": False,
            },
            "status": {"lastScheduleTime": "2025-03-10T01:30:00Z"},
        }
    )
    assert state == cronjob(
        zone="Europe/London",
        created=utc(2025, 3, 1),
        last=utc(2025, 3, 10, 1, 30),
        deadline=120,
    )
    assert not missed.cronjob_state({"metadata": {}, "spec": {}}).forbid  # default Allow


# --- the entry's history from runs and Jobs -----------------------------------------------------


def record(name: str, scheduled: datetime, status: dict[str, Any], **annotations: str) -> Any:
    return ArchiveRun.from_body(
        {
            "metadata": {
                "name": name,
                "labels": {"archive.auriora.io/entry": "nightly"},
                "annotations": {
                    "archive.auriora.io/scheduled-time": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    **annotations,
                },
            },
            "spec": {
                "scheduleRef": {"name": "alice"},
                "start": "2025-03-10",
                "end": "2025-03-10",
                "trigger": "scheduled",
            },
            "status": status,
        }
    )


def test_entry_history_tells_runs_from_records_of_missed_times() -> None:
    t1, t2, t3 = (utc(2025, 3, d, 1, 30) for d in (10, 11, 12))
    done = record(
        scheduled_job_name(CJ, t1),
        t1,
        {"phase": "Succeeded", "completionTime": "2025-03-11T03:00:00Z"},
    )
    skipped = record(
        scheduled_job_name(CJ, t2),
        t2,
        {"phase": "Skipped"},
        **{"archive.auriora.io/missed-reason": "ConcurrentRunActive"},
    )
    running = record(scheduled_job_name(CJ, t3), t3, {"phase": "Running"})
    other_entry = record("alice-weekly-29000000", t3, {"phase": "Running"})
    found = missed.entry_history("nightly", CJ, [done, skipped, running, other_entry], [])
    assert found.started == {done.metadata.name, running.metadata.name}
    assert found.missed == {skipped.metadata.name}
    assert found.newest_recorded == t3
    assert found.activity == (
        missed.Activity(done.metadata.name, t1, utc(2025, 3, 11, 3)),
        missed.Activity(running.metadata.name, t3, None),
    )


# --- the schedule's counters --------------------------------------------------------------------


def status(**fields: Any) -> ArchiveScheduleStatus:
    return ArchiveScheduleStatus.model_validate(
        {"schedules": [{"name": "nightly", "cronJobName": CJ}], **fields}
    )


def found(*moments: datetime, checked: datetime | None = None) -> dict[str, EntryCheck]:
    items = tuple(missed.MissedTime(f"n{i}", t, "R", "m", False) for i, t in enumerate(moments))
    return {"nightly": EntryCheck(checked or moments[-1], items, items)}


def test_counters_stay_absent_until_the_first_miss() -> None:
    new = missed.with_missed(status(), {"nightly": EntryCheck(utc(2025, 3, 1))})
    assert new.missed_runs is None and new.consecutive_missed is None
    assert new.schedules[0].last_checked_time == utc(2025, 3, 1)


def test_counters_count_misses_and_reset_consecutive_on_a_start() -> None:
    t1, t2, t3 = (utc(2025, 3, d, 1, 30) for d in (10, 11, 12))
    new = missed.with_missed(status(lastScheduleTime="2025-03-09T01:30:00Z"), found(t1, t2))
    assert (new.missed_runs, new.last_missed_time, new.consecutive_missed) == (2, t2, 2)
    # A later time started: the streak ends, the total stays.
    started = new.model_copy(update={"last_schedule_time": t3})
    after = missed.with_missed(started, {"nightly": EntryCheck(t3)})
    assert (after.missed_runs, after.last_missed_time, after.consecutive_missed) == (2, t2, 0)
    # Missed times before the latest start do not extend a streak.
    mixed = missed.with_missed(started, found(utc(2025, 3, 11, 13), utc(2025, 3, 13, 1, 30)))
    assert (mixed.missed_runs, mixed.consecutive_missed) == (4, 1)


def test_resumed_is_read_from_the_previous_status() -> None:
    suspended = status(observedGeneration=2)  # entries without nextRunTime: suspended
    running = status(
        observedGeneration=2,
        schedules=[{"name": "nightly", "nextRunTime": "2025-03-11T01:30:00Z"}],
    )
    assert missed.was_suspended(suspended, "nightly")
    assert not missed.was_suspended(running, "nightly")
    assert not missed.was_suspended(status(), "nightly")  # never reconciled yet
    assert not missed.was_suspended(suspended, "weekly")
