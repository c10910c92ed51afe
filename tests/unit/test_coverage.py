"""Coverage: owed local days, gaps with reasons, catch-up runs — expected values by hand.

Times are written in UTC with the local wall time beside them; Pacific/Auckland is UTC+12
(NZST) before 2026-09-27 02:00 and UTC+13 (NZDT) after it, until 2027-04-04 03:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from archive_operator.api.schedule import Coverage, DateRange
from archive_operator.coverage import (
    CatchUp,
    EntryDays,
    RunSpan,
    backoff,
    catch_up_name,
    decide,
)
from archive_operator.schedule import parse_cron

AUCKLAND = ZoneInfo("Pacific/Auckland")
LONDON = ZoneInfo("Europe/London")
# Daily 02:30, archiving the day before (offsetDays -1, days 1).
NIGHTLY = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
CREATED = datetime(2026, 9, 19, 12, 0, tzinfo=UTC)  # 2026-09-20 00:00 NZST


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ok(name: str, first: date, last: date, done: datetime, trigger: str = "scheduled") -> RunSpan:
    return RunSpan(name, trigger, first, last, "Succeeded", done)


def failed(
    name: str, first: date, last: date, done: datetime, trigger: str = "scheduled"
) -> RunSpan:
    return RunSpan(name, trigger, first, last, "Failed", done, "RunnerFailed", "exit 5")


def nightly_runs(first: date, last: date) -> list[RunSpan]:
    """The successful nightly runs archiving ``first``..``last`` (one day each)."""
    runs, day = [], first
    while day <= last:
        runs.append(ok(f"alice-nightly-{day:%m%d}", day, day, utc(2026, 9, 1)))
        day += timedelta(days=1)
    return runs


def test_the_spring_forward_day_is_owed_and_caught_up() -> None:
    # 2026-09-27 02:30 does not exist in Auckland: the CronJob fires on the 26th and the 28th.
    # The run day 09-27 still owes 09-26; its nominal time is 02:30 NZST = 14:30Z on the 26th
    # (03:30 NZDT), due five minutes later.
    # Created 09-20 00:00 NZST: its 02:30 run that day owes 09-19.
    runs = nightly_runs(date(2026, 9, 19), date(2026, 9, 25))

    before = decide("alice", [NIGHTLY], AUCKLAND, CREATED, None, runs, [], utc(2026, 9, 26, 14, 34))
    assert before.gaps == [] and before.catch_up is None
    assert before.recheck_at == utc(2026, 9, 26, 14, 35)
    assert before.coverage is not None
    assert before.coverage.covered_through == date(2026, 9, 25)
    assert before.coverage.since == date(2026, 9, 19)

    after = decide("alice", [NIGHTLY], AUCKLAND, CREATED, None, runs, [], utc(2026, 9, 26, 14, 36))
    assert after.catch_up == CatchUp(
        "alice-catchup-20260926",
        date(2026, 9, 26),
        date(2026, 9, 26),
        "NoScheduledTime",
        "02:30 did not exist on 2026-09-27 in Pacific/Auckland (a daylight-saving change), "
        "so entry nightly had no run that day",
    )
    assert after.coverage is not None and after.coverage.missing_days == 1
    (gap,) = after.coverage.gaps
    assert (gap.start, gap.end, gap.due_time) == (
        date(2026, 9, 26),
        date(2026, 9, 26),
        utc(2026, 9, 26, 14, 35),
    )


def test_a_successful_catch_up_closes_the_gap_and_is_remembered_after_pruning() -> None:
    runs = nightly_runs(date(2026, 9, 19), date(2026, 9, 25))
    catch_up = ok(
        "alice-catchup-20260926", date(2026, 9, 26), date(2026, 9, 26), utc(2026, 9, 26, 14, 37),
        trigger="catchup",
    )  # fmt: skip
    now = utc(2026, 9, 26, 14, 40)
    done = decide("alice", [NIGHTLY], AUCKLAND, CREATED, None, [*runs, catch_up], [catch_up], now)
    assert done.coverage is not None
    assert (done.coverage.covered_through, done.gaps, done.catch_up) == (
        date(2026, 9, 26),
        [],
        None,
    )

    # Every run pruned: the status's memory alone keeps the days archived.
    later = decide("alice", [NIGHTLY], AUCKLAND, CREATED, done.coverage, [], [], now)
    assert later.coverage == done.coverage


def test_the_fall_back_day_owes_nothing_twice() -> None:
    # 2027-04-04 03:00 NZDT → 02:00 NZST: 02:30 happens twice, both runs archive 04-03.
    created = utc(2027, 3, 30)  # 13:00 NZDT: 03-30 is owed by the run of 03-31
    first = ok("n-1", date(2027, 4, 3), date(2027, 4, 3), utc(2027, 4, 3, 13, 31))  # 02:30 NZDT
    second = ok("n-2", date(2027, 4, 3), date(2027, 4, 3), utc(2027, 4, 3, 14, 31))  # 02:30 NZST
    runs = [*nightly_runs(date(2027, 3, 30), date(2027, 4, 2)), first, second]  # since 03-30
    result = decide("alice", [NIGHTLY], AUCKLAND, created, None, runs, [], utc(2027, 4, 4, 1))
    assert result.coverage is not None
    assert (result.coverage.covered_through, result.gaps) == (date(2027, 4, 3), [])


def test_a_day_is_a_gap_only_when_no_run_of_its_window_is_still_to_come() -> None:
    # A 7-day window every day (offsetDays -6): a day is archived by seven runs. The run of
    # 09-21 (archiving 09-15..09-21) failed; the runs of 09-22..09-27 still cover 09-21, so it
    # is no gap until the last of them, run day 09-27 — the DST day, nominal 02:30 NZST =
    # 14:30Z on the 26th — has passed.
    week = EntryDays("week", parse_cron("30 2 * * *"), first_offset=-6, days=7)
    runs = [
        ok("w-0920", date(2026, 9, 14), date(2026, 9, 20), utc(2026, 9, 19, 14, 40)),
        failed("w-0921", date(2026, 9, 15), date(2026, 9, 21), utc(2026, 9, 20, 14, 40)),
    ]
    waiting = decide("alice", [week], AUCKLAND, CREATED, None, runs, [], utc(2026, 9, 22))
    assert waiting.gaps == [] and waiting.catch_up is None
    assert waiting.coverage is not None
    assert waiting.coverage.since == date(2026, 9, 14)  # the window of the run of 09-20
    assert waiting.coverage.covered_through == date(2026, 9, 20)

    late = decide("alice", [week], AUCKLAND, CREATED, None, runs, [], utc(2026, 9, 26, 14, 36))
    assert late.catch_up is not None
    assert (late.catch_up.start, late.catch_up.end) == (date(2026, 9, 21), date(2026, 9, 21))
    assert late.catch_up.reason == "RunFailed"
    assert late.catch_up.message == "run w-0921 Failed: exit 5"


def test_days_no_window_contains_are_not_owed() -> None:
    # Fridays at 08:00 archive Thursday only: the other days are never owed.
    fridays = EntryDays("fri", parse_cron("0 8 * * 5"), first_offset=-1, days=1)
    created = utc(2026, 11, 2)  # a Monday
    thursday = ok("f-1106", date(2026, 11, 5), date(2026, 11, 5), utc(2026, 11, 6, 8, 1))
    result = decide("bob", [fridays], LONDON, created, None, [thursday], [], utc(2026, 11, 8, 12))
    assert result.coverage is not None
    # Mon 2 .. Sun 8 (today): Thursday archived, the rest not owed. coveredThrough stays on
    # the last archived day, so days that owe nothing never change the status.
    assert result.coverage.covered_through == date(2026, 11, 5)
    assert result.gaps == []


def test_days_before_the_schedule_are_not_owed() -> None:
    # Created 2026-11-10 10:00 London: that day's 02:30 run came before it, so 11-09 (the
    # first day a window could reach) is not owed; 11-10 is owed by the run of 11-11.
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    created = utc(2026, 11, 10, 10)
    result = decide("bob", [nightly], LONDON, created, None, [], [], utc(2026, 11, 11, 2, 36))
    assert result.coverage is not None and result.coverage.since == date(2026, 11, 9)
    assert result.catch_up is not None
    assert (result.catch_up.start, result.catch_up.end) == (date(2026, 11, 10), date(2026, 11, 10))
    assert result.catch_up.reason == "NotRun"


def test_failed_catch_ups_back_off_exponentially() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    created = utc(2026, 11, 10, 3)  # after that day's 02:30 run: 11-10 is the first day owed
    first = failed("c", date(2026, 11, 10), date(2026, 11, 10), utc(2026, 11, 11, 3), "catchup")
    result = decide("bob", [nightly], LONDON, created, None, [first], [first], utc(2026, 11, 11, 3))
    assert result.coverage is not None
    assert result.coverage.catch_up_failures == 1
    assert result.coverage.next_catch_up_time == utc(2026, 11, 11, 3, 5)
    assert result.catch_up is None and result.recheck_at == utc(2026, 11, 11, 3, 5)

    # Five minutes on, the second attempt gets the next name; it fails too: ten minutes.
    retry = decide(
        "bob", [nightly], LONDON, created, result.coverage, [first], [], utc(2026, 11, 11, 3, 5)
    )
    assert retry.catch_up is not None and retry.catch_up.name == "bob-catchup-20261110-2"
    second = failed(
        retry.catch_up.name,
        date(2026, 11, 10),
        date(2026, 11, 10),
        utc(2026, 11, 11, 3, 7),
        "catchup",
    )
    again = decide(
        "bob",
        [nightly],
        LONDON,
        created,
        result.coverage,
        [first, second],
        [second],
        utc(2026, 11, 11, 3, 7),
    )
    assert again.coverage is not None
    assert again.coverage.catch_up_failures == 2
    assert again.coverage.next_catch_up_time == utc(2026, 11, 11, 3, 17)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (0, 1, 2, 3)] == [
        timedelta(0), timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)
    ]  # fmt: skip
    assert backoff(8) == timedelta(hours=6)  # 5 min * 128 = 640 min, capped at 360
    assert backoff(60) == timedelta(hours=6)


def test_a_long_outage_is_caught_up_31_days_at_a_time_one_run_at_a_time() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    created = utc(2026, 1, 1, 3)
    now = utc(2026, 3, 1, 12)  # nothing ran: 01-01 .. 02-28 owed (59 days)
    result = decide("bob", [nightly], LONDON, created, None, [], [], now)
    assert result.coverage is not None and result.coverage.missing_days == 59
    assert result.catch_up is not None
    assert (result.catch_up.start, result.catch_up.end) == (date(2026, 1, 1), date(2026, 1, 31))

    running = RunSpan(
        result.catch_up.name, "catchup", date(2026, 1, 1), date(2026, 1, 31), "Running"
    )
    busy = decide("bob", [nightly], LONDON, created, None, [running], [], now)
    assert busy.catch_up is None
    assert busy.gaps[0].reason == "RunInProgress"
    assert (busy.gaps[0].start, busy.gaps[0].end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert (busy.gaps[1].start, busy.gaps[1].end) == (date(2026, 2, 1), date(2026, 2, 28))


def test_held_schedules_wait_and_say_why() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    held = decide(
        "bob", [nightly], LONDON, utc(2026, 11, 10, 3), None, [], [], utc(2026, 11, 12, 12),
        hold="ScheduleSuspended",
    )  # fmt: skip
    assert held.catch_up is None
    assert [(g.start, g.end, g.reason) for g in held.gaps] == [
        (date(2026, 11, 10), date(2026, 11, 11), "ScheduleSuspended")
    ]


def test_a_taken_name_gets_the_next_attempt() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    # A catch-up of that name exists and failed, but the memory of its failure was lost.
    old = failed(
        "bob-catchup-20261110",
        date(2026, 11, 10),
        date(2026, 11, 10),
        utc(2026, 11, 11, 3),
        "catchup",
    )
    result = decide(
        "bob", [nightly], LONDON, utc(2026, 11, 10, 3), None, [old], [], utc(2026, 11, 11, 4)
    )
    assert result.catch_up is not None and result.catch_up.name == "bob-catchup-20261110-2"


def test_dry_runs_archive_nothing() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    dry = RunSpan("d", "manual", date(2026, 11, 10), date(2026, 11, 10), "Succeeded", dry_run=True)
    result = decide(
        "bob", [nightly], LONDON, utc(2026, 11, 10, 3), None, [dry], [], utc(2026, 11, 11, 4)
    )
    # 11-09 is not owed (the 02:30 run of 11-10 came before the schedule); 11-10 is missing.
    assert result.coverage is not None
    assert result.coverage.covered_through is None
    assert result.catch_up is not None


def test_archived_days_after_a_gap_are_remembered() -> None:
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    runs = [ok("a", date(2026, 11, 12), date(2026, 11, 13), utc(2026, 11, 14, 3))]
    result = decide(
        "bob", [nightly], LONDON, utc(2026, 11, 10, 3), None, runs, [], utc(2026, 11, 14, 4)
    )
    assert result.coverage is not None
    assert result.coverage.covered_through is None  # 11-10 is missing
    assert result.coverage.covered == [DateRange(start=date(2026, 11, 12), end=date(2026, 11, 13))]
    assert [(g.start, g.end) for g in result.gaps] == [(date(2026, 11, 10), date(2026, 11, 11))]


def test_no_entries_no_coverage() -> None:
    assert (
        decide("bob", [], LONDON, utc(2026, 1, 1), None, [], [], utc(2026, 2, 1)).coverage is None
    )


def test_catch_up_names_fit_the_api() -> None:
    assert catch_up_name("alice", date(2026, 9, 26), 1) == "alice-catchup-20260926"
    assert catch_up_name("alice", date(2026, 9, 26), 3) == "alice-catchup-20260926-3"
    assert len(catch_up_name("x" * 253, date(2026, 9, 26), 12)) == 253


def test_coverage_memory_round_trips_through_the_wire_form() -> None:
    coverage = Coverage(since=date(2026, 1, 1), covered_through=date(2026, 2, 1))
    assert Coverage.model_validate(coverage.to_kube()) == coverage


def test_a_coverage_field_that_goes_away_is_deleted_by_the_status_patch() -> None:
    from archive_operator.api.schedule import ArchiveScheduleStatus
    from archive_operator.status import status_patch

    before = ArchiveScheduleStatus(
        coverage=Coverage(since=date(2026, 1, 1), catch_up_failures=2, missing_days=1)
    )
    after = ArchiveScheduleStatus(coverage=Coverage(since=date(2026, 1, 1), missing_days=1))
    # A merge patch merges objects key by key: the key must be sent as null to go away.
    assert status_patch(before, after) == {"coverage": {"catchUpFailures": None}}


def test_the_plugin_shows_the_gaps_and_why() -> None:
    from archive_operator.cli.views import coverage_lines

    coverage = {
        "since": "2026-09-20",
        "coveredThrough": "2026-09-25",
        "missingDays": 1,
        "gaps": [
            {
                "start": "2026-09-26",
                "end": "2026-09-26",
                "reason": "NoScheduledTime",
                "message": "02:30 did not exist",
                "dueTime": "2026-09-26T14:35:00Z",
            }
        ],
    }
    lines = coverage_lines(coverage, utc(2026, 9, 26, 14, 45), colour=False)
    assert lines[0] == "Archived:     through 2026-09-25 (owed since 2026-09-20); 1 day(s) missing"
    assert lines[1] == "Gaps:"
    assert lines[2].split() == ["FROM", "TO", "REASON", "DUE", "MESSAGE"]
    assert lines[3].split() == [
        "2026-09-26", "2026-09-26", "NoScheduledTime", "10m", "ago", "02:30", "did", "not", "exist"
    ]  # fmt: skip
    assert coverage_lines(None, utc(2026, 9, 26), colour=False) == []


def test_idle_days_leave_the_coverage_unchanged() -> None:
    # Mondays and Thursdays at 08:00 archiving the day before: from Thursday's run to Sunday
    # nothing is owed, so the status does not change from one day to the next.
    entry = EntryDays("twice", parse_cron("0 8 * * 1,4"), first_offset=-1, days=1)
    created = utc(2026, 11, 2)  # Monday 00:00 London (GMT)
    runs = [
        ok("mon", date(2026, 11, 1), date(2026, 11, 1), utc(2026, 11, 2, 8, 1)),
        ok("thu", date(2026, 11, 4), date(2026, 11, 4), utc(2026, 11, 5, 8, 1)),
    ]
    friday = decide("bob", [entry], LONDON, created, None, runs, [], utc(2026, 11, 6, 12))
    sunday = decide(
        "bob", [entry], LONDON, created, friday.coverage, runs, [], utc(2026, 11, 8, 12)
    )
    assert friday.coverage is not None and friday.coverage.covered_through == date(2026, 11, 4)
    assert sunday.coverage == friday.coverage


def test_a_schedule_tracked_from_today_owes_nothing_before() -> None:
    # Seeded by run_wing for a schedule reconciled before coverage existed: no catch-up of the
    # year before, days are owed from today on.
    nightly = EntryDays("nightly", parse_cron("30 2 * * *"), first_offset=-1, days=1)
    seed = Coverage(since=date(2026, 11, 20), covered_through=date(2026, 11, 19))
    result = decide("bob", [nightly], LONDON, utc(2025, 1, 1), seed, [], [], utc(2026, 11, 20, 12))
    assert result.catch_up is None and result.gaps == []
    assert result.coverage is not None and result.coverage.since == date(2026, 11, 20)
    # The next night's run day owes today: a gap once its time has passed with no run.
    later = decide("bob", [nightly], LONDON, utc(2025, 1, 1), seed, [], [], utc(2026, 11, 21, 3))
    assert later.catch_up is not None
    assert (later.catch_up.start, later.catch_up.end) == (date(2026, 11, 20), date(2026, 11, 20))
