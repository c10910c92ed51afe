"""Cron parsing as Kubernetes does it, entry → cron conversion, next runs across DST, jitter."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from archive_operator.schedule import (
    NOT_TIME_ZONES,
    CronError,
    daily_cron,
    fires,
    iana_time_zones,
    jitter_minutes,
    load_time_zone,
    never_fires_explanation,
    next_run,
    next_runs,
    parse_cron,
    weekly_cron,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "30 2 * * 1-5",
        "0 0 1,15 * *",
        "*/15 * * * *",
        "5/15 * * * *",
        "0 9-17/2 * * mon-fri",
        "0 0 * JAN,jul SUN",
        "0 0 ? * ?",
        "0 0 1 1 *",
        "59 23 31 12 6",
        "00 07 * * *",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ],
)
def test_accepts_what_kubernetes_accepts(expression: str) -> None:
    parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("61 * * * *", "end of range (61) above maximum (59)"),
        ("* 24 * * *", "end of range (24) above maximum (23)"),
        ("* * 0 * *", "beginning of range (0) below minimum (1)"),
        ("* * 32 * *", "above maximum (31)"),
        ("* * * 13 *", "above maximum (12)"),
        ("* * * * 7", "end of range (7) above maximum (6)"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
        ("*/0 * * * *", "step of range should be a positive number"),
        ("1-2-3 * * * *", "too many hyphens"),
        ("*/2/3 * * * *", "too many slashes"),
        ("x * * * *", "failed to parse int from x"),
        ("* * * FOO *", "failed to parse int from FOO"),
        ("* * * *", "expected exactly 5 fields, found 4"),
        ("0 * * * * *", "expected exactly 5 fields, found 6"),
        ("@every 1h", "unrecognized descriptor"),
        ("@reboot", "unrecognized descriptor"),
        ("@DAILY", "unrecognized descriptor"),
        ("TZ=UTC 0 0 * * *", "use timeZone field instead"),
        ("CRON_TZ=Europe/London 0 0 * * *", "use timeZone field instead"),
        ("", "empty spec string"),
    ],
)
def test_rejects_what_kubernetes_rejects(expression: str, reason: str) -> None:
    with pytest.raises(CronError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)


def test_names_and_star_semantics() -> None:
    schedule = parse_cron("0 0 * jan,Feb SUN-tue")
    assert schedule.months == {1, 2}
    assert schedule.days_of_week == {0, 1, 2}
    assert schedule.dom_star and not schedule.dow_star
    assert not parse_cron("0 0 */2 * *").dom_star  # a step > 1 is a restriction


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # Classic cron: the 1st and 15th, and every Monday.
    runs = next_runs(parse_cron("0 0 1,15 * mon"), utc(2026, 3, 28, 12), ZoneInfo("UTC"), 5)
    assert [r.day for r in runs] == [30, 1, 6, 13, 15]


def test_macros_expand() -> None:
    assert next_run(parse_cron("@weekly"), utc(2026, 3, 25), ZoneInfo("UTC")) == utc(2026, 3, 29)
    assert next_run(parse_cron("@hourly"), utc(2026, 3, 25, 10, 0), ZoneInfo("UTC")) == utc(
        2026, 3, 25, 11
    )


def test_next_run_is_strictly_after() -> None:
    schedule = parse_cron("30 2 * * *")
    at = utc(2026, 6, 1, 2, 30)
    assert next_run(schedule, at, ZoneInfo("UTC")) == utc(2026, 6, 2, 2, 30)


def test_impossible_schedule_has_no_next_run() -> None:
    assert next_run(parse_cron("0 0 30 2 *"), utc(2026, 1, 1), ZoneInfo("UTC")) is None


# --- schedules that never fire (Kubernetes accepts them) ---------------------------------------


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 30 2 *", None),  # February never has a 30th
        ("0 0 31 2,4 *", None),  # February at most 29 days, April 30
        ("0 0 31 4,6,9,11 *", None),
        ("0 0 30,31 feb ?", None),  # "?" is "*" for the day of the week
        ("0 0 30-31 2 *", None),  # a range the CRD's rule does not read
        ("0 0 31 */2 *", utc(2026, 1, 31)),  # January, March, May...: all have a 31st
        ("0 0 29 2 *", utc(2028, 2, 29)),  # leap years only: 2028 is the next one
        ("0 0 31 * *", utc(2026, 1, 31)),
        ("0 0 30 2,3 *", utc(2026, 3, 30)),
        ("0 0 30 2 1", utc(2026, 2, 2)),  # or any Monday in February: 2026-02-02 is one
        ("0 0 * 2 1", utc(2026, 2, 2)),
        ("0 0 31 4 */2", utc(2026, 4, 2)),  # a step > 1 restricts: Sun, Tue, Thu, Sat in April
        ("@yearly", utc(2026, 1, 1)),
    ],
)
def test_fires_at_least_once_in_four_years(expression: str, first: datetime | None) -> None:
    schedule = parse_cron(expression)
    assert fires(schedule) is (first is not None)
    # The same answer as the CronJob controller's search (five years from 2025-12-31).
    assert next_run(schedule, utc(2025, 12, 31, 12), ZoneInfo("UTC")) == first


@pytest.mark.parametrize(
    ("expression", "problem", "example"),
    [
        ("0 0 30 2 *", "February has no day 30", '"0 0 28 2 *"'),
        ("15 3 31 2,4 *", "February and April have no day 31", '"15 3 28 2,4 *"'),
        (
            "0 0 31 4,6,9,11 *",
            "April, June, September and November have no day 31",
            '"0 0 30 4,6,9,11 *"',
        ),
        ("0 0 30-31 2 ?", "February has no day 30 or 31", '"0 0 28 2 ?"'),
    ],
)
def test_never_fires_explanation_names_the_problem_and_a_fix(
    expression: str, problem: str, example: str
) -> None:
    said, fix = never_fires_explanation(parse_cron(expression))
    assert said.startswith(f"never fires: {problem} (February has at most 29 days;")
    assert f"e.g. {example}, or days of the week" in fix
    assert fires(parse_cron(example.strip('"')))  # and the example given does fire


def test_naive_time_refused() -> None:
    with pytest.raises(ValueError):
        next_run(parse_cron("@daily"), datetime(2026, 1, 1), LONDON)


# --- DST: the CronJob controller's behaviour (robfig/cron Next in spec.timeZone) ---------------


def test_london_spring_forward_skips_the_missing_time() -> None:
    # 2026-03-29 01:00 GMT → 02:00 BST: 01:30 does not exist that day.
    runs = next_runs(parse_cron("30 1 * * *"), utc(2026, 3, 28, 12), LONDON, 2)
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]


def test_london_spring_forward_keeps_local_time_of_day() -> None:
    runs = next_runs(parse_cron("59 23 * * *"), utc(2026, 3, 28, 12), LONDON, 2)
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 3, 28, 23, 59), utc(2026, 3, 29, 22, 59)]
    assert all((r.hour, r.minute) == (23, 59) for r in runs)


def test_london_fall_back_runs_in_both_occurrences() -> None:
    # 2026-10-25 02:00 BST → 01:00 GMT: 01:30 happens twice, and the controller fires twice.
    runs = next_runs(parse_cron("30 1 * * *"), utc(2026, 10, 24, 12), LONDON, 3)
    assert [r.astimezone(UTC) for r in runs] == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_new_york_spring_forward_skips_the_missing_time() -> None:
    # 2026-03-08 02:00 EST → 03:00 EDT.
    runs = next_runs(parse_cron("30 2 * * *"), utc(2026, 3, 7, 12), NEW_YORK, 2)
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_new_york_fall_back() -> None:
    # 2026-11-01 02:00 EDT → 01:00 EST.
    runs = next_runs(parse_cron("30 1 * * *"), utc(2026, 10, 31, 12), NEW_YORK, 3)
    assert [r.astimezone(UTC) for r in runs] == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_new_york_daily_evening_run_across_fall_back() -> None:
    runs = next_runs(parse_cron("0 18 * * *"), utc(2026, 10, 31, 12), NEW_YORK, 2)
    assert [r.astimezone(UTC) for r in runs] == [utc(2026, 10, 31, 22), utc(2026, 11, 1, 23)]


def test_results_are_in_the_schedule_zone() -> None:
    found = next_run(parse_cron("0 6 * * *"), utc(2026, 7, 1), ZoneInfo("Asia/Tokyo"))
    assert found is not None
    assert (found.hour, found.utcoffset()) == (6, ZoneInfo("Asia/Tokyo").utcoffset(found))


# --- time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "Local",
        "",
        "Europe/Londn",
        "europe/london",  # the names are case-sensitive, as in the CRD's list
        "Factory",  # in the tz database, but not a zone
        "localtime",
        "posixrules",
        "posix/Europe/London",  # loadable from some systems' zoneinfo, not an IANA name
        "right/UTC",
    ],
)
def test_unknown_time_zones(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        load_time_zone(name)


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/London", "America/Argentina/ComodRivadavia", "US/Eastern", "Etc/GMT+5"]
)
def test_iana_zones_and_links_load(name: str) -> None:
    assert name in iana_time_zones()
    assert load_time_zone(name).key == name


def test_the_zone_list_holds_zones_only() -> None:
    zones = iana_time_zones()
    assert not zones & NOT_TIME_ZONES
    assert len(zones) > 500  # tzdata 2026.6: 597 (598 names, Factory among them)


# --- daily / weekly → cron, jitter -------------------------------------------------------------


def test_daily_and_weekly_to_cron() -> None:
    assert daily_cron("23:59").cron == "59 23 * * *"
    assert daily_cron("07:05").cron == "5 7 * * *"
    assert weekly_cron(["mon", "fri"], "18:00").cron == "0 18 * * 1,5"
    assert weekly_cron(["sun", "sat"], "00:00").cron == "0 0 * * 0,6"
    for derived in (daily_cron("23:59"), weekly_cron(["mon"], "06:00")):
        parse_cron(derived.cron)
        assert derived.day_shift == 0


def test_jitter_past_midnight_moves_the_day() -> None:
    daily = daily_cron("23:59", jitter=7)
    assert (daily.cron, daily.day_shift) == ("6 0 * * *", 1)
    weekly = weekly_cron(["sat", "sun"], "23:50", jitter=15)
    assert (weekly.cron, weekly.day_shift) == ("5 0 * * 0,1", 1)


def test_bad_time_of_day() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        daily_cron("24:00")


def test_jitter_is_stable_and_bounded() -> None:
    first = jitter_minutes("ns", "alice", "alice", "nightly", 15)
    assert first == jitter_minutes("ns", "alice", "alice", "nightly", 15)
    assert 0 <= first <= 15
    assert jitter_minutes("ns", "alice", "alice", "nightly", 0) == 0
    spread = {jitter_minutes("ns", f"user{i}", f"user{i}", "nightly", 59) for i in range(200)}
    assert len(spread) > 40  # users really are spread over the hour
    assert max(spread) <= 59


def test_jitter_golden_values() -> None:
    # Pinned so a change of hash input or algorithm (which would move every user's run) shows.
    assert jitter_minutes("team-a", "carol", "carol", "sunday-catch-up", 15) == 8
