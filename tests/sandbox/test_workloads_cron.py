"""The CronJob controller's schedule arithmetic against robfig/cron's own expectations.

The DST rows are robfig/cron v3's spec tests (the library the Kubernetes CronJob controller
uses), rewritten for five-field specs: a time in a spring-forward gap is skipped, a time in a
fall-back overlap fires twice, and a midnight that does not exist (Sao Paulo) is corrected.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from archive_sandbox.controllers.cron import CronError, parse

ROBFIG_CASES = [
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 30 2 11 Mar ?", "2013-03-11T02:30:00-04:00"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T01:00:00-05:00"),
    ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T03:00:00-04:00"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-03-11T01:00:00-05:00"),
    ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-03-12T01:00:00-04:00"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 2 * * ?", "2012-03-12T02:00:00-04:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 30 2 04 Nov ?", "2012-11-04T02:30:00-05:00"),
    ("2012-11-04T01:45:00-04:00", "TZ=America/New_York 30 1 04 Nov ?", "2012-11-04T01:30:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-04:00"),
    ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-05:00"),
    ("2012-11-04T01:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T02:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-04:00"),
    ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-05:00"),
    ("2012-11-04T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-11-05T01:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 2 * * ?", "2012-11-04T02:00:00-05:00"),
    ("2012-11-04T02:00:00-05:00", "TZ=America/New_York 0 2 * * ?", "2012-11-05T02:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 3 * * ?", "2012-11-04T03:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 3 3 * ?", "2012-12-03T03:00:00-05:00"),
    ("2018-10-17T05:00:00-04:00", "TZ=America/Sao_Paulo 0 9 10 * ?", "2018-11-10T06:00:00-05:00"),
    ("2018-02-14T05:00:00-05:00", "TZ=America/Sao_Paulo 0 9 22 * ?", "2018-02-22T07:00:00-05:00"),
    # Plain cases: steps, names, the day-of-month OR day-of-week rule, descriptors.
    ("2025-01-01T00:00:00+00:00", "0 0 1,15 * 5", "2025-01-03T00:00:00+00:00"),
    ("2025-01-01T00:00:00+00:00", "0 0 */10 * *", "2025-01-11T00:00:00+00:00"),
    ("2025-01-01T00:00:00+00:00", "0 0 * * */2", "2025-01-02T00:00:00+00:00"),
    ("2025-01-01T00:00:00+00:00", "15 10 * JAN-mar sat", "2025-01-04T10:15:00+00:00"),
    ("2025-01-01T00:00:00+00:00", "@weekly", "2025-01-05T00:00:00+00:00"),
    ("2025-01-01T00:00:30+00:00", "@every 1h30m", "2025-01-01T01:30:30+00:00"),
    ("2025-01-01T00:00:00+00:00", "0 0 30 2 *", None),
]


@pytest.mark.parametrize(("start", "spec", "expected"), ROBFIG_CASES)
def test_next_activation_matches_robfig(start: str, spec: str, expected: str | None) -> None:
    got = parse(spec).next(datetime.fromisoformat(start))
    if expected is None:
        assert got is None
    else:
        assert got == datetime.fromisoformat(expected)


def test_time_zone_argument_is_the_cronjob_time_zone() -> None:
    schedule = parse("30 1 * * *", "Europe/Berlin")
    assert schedule.next(
        datetime.fromisoformat("2025-06-01T00:00:00+00:00")
    ) == datetime.fromisoformat("2025-06-02T01:30:00+02:00")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: ['*', '*', '*', '*']"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("x * * * *", "failed to parse int from x"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        (
            "TZ=Mars/Olympus 0 0 * * *",
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
        ),
    ],
)
def test_bad_specs_are_rejected_with_robfig_wording(spec: str, message: str) -> None:
    with pytest.raises(CronError) as exc:
        parse(spec)
    assert str(exc.value) == message
