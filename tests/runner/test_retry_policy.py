"""The retry policy of backends/http.py on a fake clock: which answers are sent again, after
how long, and never past the run's deadline. Expected waits are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from archive_runner.backends.http import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    backoff_seconds,
    retry_after_seconds,
    retry_delay,
    send,
)

NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),  # 30 s after NOW
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 30.0),  # the obsolete RFC 850 form
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # already past: at once
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_delta_seconds_or_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(value, NOW) == expected


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    assert [backoff_seconds(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_seconds(10_000) == 30


def test_only_answers_that_mean_not_now_are_retried() -> None:
    assert set(RETRYABLE_STATUSES) == {408, 429, 502, 503, 504, 507}
    for status in (200, 201, 400, 401, 403, 404, 409, 412, 415, 500, 501):
        assert retry_delay(status, "1", 0, NOW) is None, status
    for status in RETRYABLE_STATUSES:
        assert retry_delay(status, None, 2, NOW) == 4.0
        assert retry_delay(status, "9", 2, NOW) == 9.0  # the server's word wins


class FakeClock:
    def __init__(self, start: float = 100.0) -> None:
        self.time = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.time += seconds


def policy(clock: FakeClock, deadline_in: float) -> RetryPolicy:
    return RetryPolicy(
        deadline=clock() + deadline_in, clock=clock, sleep=clock.sleep, now=lambda: NOW
    )


def answer(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers)


def test_a_wait_must_end_before_the_deadline() -> None:
    clock = FakeClock()
    rules = policy(clock, deadline_in=10)
    assert rules.wait(answer(503, "5"), 0) == 5.0
    assert rules.wait(answer(503, "10"), 0) is None  # would end at the deadline itself
    assert rules.wait(answer(429), 3) == 8.0  # backoff 8 s ends at 108 < 110
    assert rules.wait(answer(429), 4) is None  # 16 s would end at 116
    assert rules.wait(answer(500, "1"), 0) is None


def serve(*answers: httpx.Response) -> tuple[httpx.Client, list[str]]:
    """A client whose server gives ``answers`` in turn (httpx's MockTransport: a server, not
    the runner, is what is faked)."""
    queue = list(answers)
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return queue.pop(0)

    return httpx.Client(transport=httpx.MockTransport(handler)), methods


def test_send_waits_as_asked_then_by_backoff_and_returns_the_success() -> None:
    clock = FakeClock()
    client, methods = serve(answer(503, "2"), answer(429), answer(201))
    response = send(
        client, "PUT", "http://cal.test/a.ics", "archive", retry=policy(clock, 600), content=b"x"
    )
    assert response.status_code == 201
    assert methods == ["PUT", "PUT", "PUT"]
    # 2 s as the 503 asked; the 429 named no wait: the second backoff step, 2 s.
    assert clock.slept == [2.0, 2.0]


def test_send_gives_up_when_the_next_wait_would_pass_the_deadline() -> None:
    clock = FakeClock()
    client, methods = serve(*(answer(503, "3") for _ in range(5)))
    response = send(client, "REPORT", "http://cal.test/", "source", retry=policy(clock, 7))
    # 100 -> wait 3 (ends 103 < 107) -> wait 3 (ends 106 < 107) -> 109 would not: give up.
    assert clock.slept == [3.0, 3.0]
    assert len(methods) == 3
    assert response.status_code == 503


def test_an_http_date_retry_after_is_waited_until_that_time() -> None:
    clock = FakeClock()
    client, _ = serve(answer(503, "Wed, 21 Oct 2015 07:28:00 GMT"), answer(200))
    assert send(client, "GET", "http://cal.test/", "feed", retry=policy(clock, 60)).is_success
    assert clock.slept == [30.0]


def test_without_a_policy_nothing_is_retried() -> None:
    client, methods = serve(answer(503, "0"), answer(200))
    assert send(client, "GET", "http://cal.test/", "feed").status_code == 503
    assert methods == ["GET"]
