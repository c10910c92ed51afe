"""The cluster's clock learned from Date headers: parsing, the offset rule, now() over time.

Epoch values are worked out by hand: 1994-11-06 is 9,075 days after 1970-01-01 (24 years with
6 leap days = 8,766, plus 304 days to 1 November and 5 more), so RFC 7231's example
``Sun, 06 Nov 1994 08:49:37 GMT`` is 9,075 * 86,400 + 8 h 49 min 37 s = 784,080,000 + 31,777 =
784,111,777 seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from archive_operator.cluster_clock import (
    ClusterClock,
    estimate_offset,
    is_jump,
    next_offset,
    parse_http_date,
)

RFC_EXAMPLE = 784_111_777.0  # Sun, 06 Nov 1994 08:49:37 GMT
YEAR_2070 = 3_155_760_000.0  # 1970 + 100 years: 36,500 days + 25 leap days (1972..2068)


class FakeLocal:
    """The local clock, in seconds since the epoch, moved by hand."""

    def __init__(self, now: float) -> None:
        self.value = now

    def __call__(self) -> float:
        return self.value


# --- parse_http_date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate, what Go's net/http and aiohttp send
        "  Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun Nov  6 08:49:37 1994",  # asctime, obsolete
        "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850, obsolete
    ],
)
def test_the_three_http_date_forms(text: str) -> None:
    assert parse_http_date(text, current_year=2025) == RFC_EXAMPLE


def test_rfc850_two_digit_year_is_never_more_than_50_years_ahead() -> None:
    # In 2025, "70" is 2070 (45 years ahead), "94" is 1994 (2094 would be 69 years ahead).
    assert parse_http_date("Wednesday, 01-Jan-70 00:00:00 GMT", current_year=2025) == YEAR_2070
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", current_year=2025) == RFC_EXAMPLE
    # In 2060, "94" is 2094: 34 years ahead. 2094-11-06 is 100 years and 25 leap days (1996 to
    # 2092; 2000 was a leap year) after 1994-11-06: 36,525 days.
    expected = RFC_EXAMPLE + 36_525 * 86_400
    assert parse_http_date("Saturday, 06-Nov-94 08:49:37 GMT", current_year=2060) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "06 Nov 1994 08:49:37 GMT",  # no weekday
        "Sun, 06 Nov 1994 08:49:37 UTC",  # HTTP dates are GMT, written so
        "sun, 06 nov 1994 08:49:37 GMT",  # case-sensitive
        "Sun, 6 Nov 1994 08:49:37 GMT",  # IMF-fixdate has two-digit days
        "Sun, 31 Feb 1994 08:49:37 GMT",  # no such day
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "1994-11-06T08:49:37Z",  # RFC 3339 is not an HTTP date
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_what_is_not_an_http_date(text: str | None) -> None:
    assert parse_http_date(text) is None


# --- the offset rule ---------------------------------------------------------------------------


def test_estimate_takes_the_middle_of_the_dates_second() -> None:
    # Date 08:49:37 means the server's clock read 08:49:37.000-.999 when it answered.
    assert estimate_offset(RFC_EXAMPLE, RFC_EXAMPLE + 0.25) == 0.25
    assert estimate_offset(1000.0, 400.0) == 600.5
    assert estimate_offset(1000.0, 4600.0) == -3599.5


@pytest.mark.parametrize(
    ("current", "estimate", "expected"),
    [
        (None, 5.0, 5.0),  # the first answer sets it
        (10.0, 10.9, 10.0),  # within a second: the Date's resolution, not a change
        (10.0, 9.0, 10.0),  # exactly a second is still jitter
        (10.0, 11.2, 11.2),
        (10.0, 8.5, 8.5),
        (10.0, -3600.0, -3600.0),  # the cluster's clock set back an hour
    ],
)
def test_offset_moves_only_by_more_than_a_second(
    current: float | None, estimate: float, expected: float
) -> None:
    assert next_offset(current, estimate) == expected


def test_a_jump_is_more_than_three_seconds() -> None:
    assert not is_jump(0.0, 3.0)
    assert not is_jump(10.0, 7.5)
    assert is_jump(0.0, 3.5)
    assert is_jump(10.0, 6.0)
    assert is_jump(0.0, -86_400.0)


# --- ClusterClock --------------------------------------------------------------------------


def test_before_any_answer_it_is_the_local_clock() -> None:
    local = FakeLocal(RFC_EXAMPLE)
    clock = ClusterClock(local)
    assert not clock.learned
    assert clock.now() == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    clock.observe(None)
    clock.observe("not a date")
    assert not clock.learned and clock.offset == 0.0


def test_learns_a_cluster_a_day_behind_and_goes_back_with_it() -> None:
    local = FakeLocal(RFC_EXAMPLE + 86_400 + 0.25)  # the local clock says 7 November
    clock = ClusterClock(local)
    assert clock.now() == datetime(1994, 11, 7, 8, 49, 37, 250_000, tzinfo=UTC)
    clock.observe("Sun, 06 Nov 1994 08:49:37 GMT")
    # 784,111,777 + 0.5 - 784,198,177.25
    assert clock.offset == -86_399.75
    assert clock.learned
    # At the moment it arrived: the middle of the Date's second, 784,198,177.25 - 86,399.75.
    assert clock.now() == datetime(1994, 11, 6, 8, 49, 37, 500_000, tzinfo=UTC)
    local.value += 10
    assert clock.now() == datetime(1994, 11, 6, 8, 49, 47, 500_000, tzinfo=UTC)


def test_readings_do_not_jitter_with_the_dates_resolution() -> None:
    local = FakeLocal(1000.0)
    clock = ClusterClock(local)
    clock.observe("Thu, 01 Jan 1970 00:16:40 GMT")  # 1000 s: offset 0.5
    assert clock.offset == 0.5
    local.value = 1001.9  # the server said :41 (1001 s): estimate -0.4, within a second of 0.5
    clock.observe("Thu, 01 Jan 1970 00:16:41 GMT")
    assert clock.offset == 0.5
    local.value = 1003.0  # the server still said :41: estimate -1.5, two seconds off: moves
    clock.observe("Thu, 01 Jan 1970 00:16:41 GMT")
    assert clock.offset == -1.5


def test_a_small_correction_down_holds_the_clock_still_rather_than_go_back() -> None:
    local = FakeLocal(1000.0)
    clock = ClusterClock(local)
    clock.observe("Thu, 01 Jan 1970 00:16:39 GMT", received=999.5)  # 999 + 0.5 - 999.5 = 0
    assert clock.timestamp() == 1000.0
    clock.observe("Thu, 01 Jan 1970 00:16:38 GMT", received=1000.5)  # 998.5 - 1000.5 = -2
    assert clock.offset == -2.0
    local.value = 1000.5  # 998.5 would be 1.5 s back
    assert clock.timestamp() == 1000.0
    local.value = 1001.0
    assert clock.timestamp() == 1000.0
    local.value = 1002.5  # caught up
    assert clock.timestamp() == 1000.5
    local.value = 1003.0
    assert clock.timestamp() == 1001.0


def test_the_cluster_clock_set_back_is_followed_at_once() -> None:
    local = FakeLocal(1_000_000.0)
    clock = ClusterClock(local)
    clock.observe("Mon, 12 Jan 1970 13:46:40 GMT")  # 1,000,000 s: offset 0.5
    assert clock.timestamp() == 1_000_000.5
    # A test moves the sandbox's clock back a day (86,400 s): 11 Jan, 13:46:45 five seconds on.
    local.value = 1_000_005.0
    clock.observe("Sun, 11 Jan 1970 13:46:45 GMT")  # 913,605 + 0.5 - 1,000,005
    assert clock.offset == -86_399.5
    assert clock.timestamp() == 913_605.5
    assert clock.now() == datetime(1970, 1, 11, 13, 46, 45, 500_000, tzinfo=UTC)


def test_a_sped_up_cluster_clock_is_followed_in_steps() -> None:
    """The sandbox at speed 60 (a minute per real second), asked every 2 real seconds: between
    answers the clock runs at the local rate, and each answer steps it forward to the truth."""
    local = FakeLocal(0.0)
    clock = ClusterClock(local)
    clock.observe("Thu, 01 Jan 1970 00:16:40 GMT")  # sandbox 1000 at local 0: offset 1000.5
    local.value = 1.0  # the sandbox is at 1060 by now
    assert clock.timestamp() == 1001.5
    local.value = 2.0
    clock.observe("Thu, 01 Jan 1970 00:18:40 GMT")  # sandbox 1120: offset 1118.5
    assert clock.timestamp() == 1120.5
    local.value = 4.0
    clock.observe("Thu, 01 Jan 1970 00:20:40 GMT")  # sandbox 1240: offset 1236.5
    assert clock.timestamp() == 1240.5


def test_with_the_real_local_clock() -> None:
    clock = ClusterClock()
    before = datetime.now(UTC).timestamp()
    # A cluster an hour ahead: its Date, in whole seconds, for a local time of `before`.
    ahead = datetime.fromtimestamp(int(before) + 3600, UTC)
    clock.observe(ahead.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    after = datetime.now(UTC).timestamp()
    reading = clock.now().timestamp()
    # Date = floor(before) + 3600, so the offset is 3600.5 - (before - floor(before)) - latency:
    # reading - local now is within (3599.5 - latency, 3600.5].
    assert after + 3599.4 <= reading <= datetime.now(UTC).timestamp() + 3600.501
