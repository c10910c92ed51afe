"""Notifications: the pure decisions, and the Notifier against a real local HTTP receiver.

The receiver is an aiohttp server on 127.0.0.1 (a free port) scripted to answer each POST in
turn; the Notifier's ``sleep`` only records the delays, so no test waits for a backoff.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from archive_operator.api import ArchiveSchedule
from archive_operator.notify import (
    Notifier,
    RunOutcome,
    build_payload,
    is_webhook_url,
    notification_kind,
    secret_value,
    wanted_events,
)

TOKEN = "s3cr3t-T0KEN"
DONE = datetime(2026, 11, 21, 0, 1, 30, tzinfo=UTC)


def outcome(
    phase: str = "Failed", run: str = "alice-nightly-29123456", **changes: Any
) -> RunOutcome:
    values: dict[str, Any] = {
        "namespace": "team-a",
        "schedule": "alice",
        "user": "alice@example.com",
        "run": run,
        "trigger": "scheduled",
        "phase": phase,
        "start": date(2026, 11, 20),
        "end": date(2026, 11, 20),
        "counts": {"created": 3, "unchanged": 7, "failed": 1},
        "message": "1 event could not be written",
        "completion_time": DONE,
    }
    values.update(changes)
    return RunOutcome(**values)


# --- pure: which notification, and what it says ------------------------------------------------

ALL = {"failure", "recovery", "success"}
DEFAULT = {"failure", "recovery"}


@pytest.mark.parametrize(
    ("phase", "previous_failures", "wanted", "expected"),
    [
        ("Failed", 0, DEFAULT, "failure"),
        ("Failed", 4, DEFAULT, "failure"),
        ("PartiallySucceeded", 0, DEFAULT, "failure"),
        ("Failed", 0, {"recovery", "success"}, None),
        ("Succeeded", 0, DEFAULT, None),
        ("Succeeded", 2, DEFAULT, "recovery"),
        ("Succeeded", 2, ALL, "recovery"),  # recovery wins over success
        ("Succeeded", 0, ALL, "success"),
        ("Succeeded", 2, {"success"}, "success"),
        ("Succeeded", 2, {"failure"}, None),
        ("Skipped", 3, ALL, None),
        ("Running", 0, ALL, None),
        ("Pending", 0, ALL, None),
        ("Failed", 0, set(), None),
    ],
)
def test_notification_kind(
    phase: str, previous_failures: int, wanted: set[str], expected: str | None
) -> None:
    assert notification_kind(outcome(phase), previous_failures, wanted) == expected


def test_payload_carries_the_run_and_no_secret() -> None:
    payload = build_payload("failure", outcome())
    assert payload == {
        "kind": "failure",
        "text": (
            "[failure] archive run team-a/alice-nightly-29123456 for alice@example.com: Failed "
            "(2026-11-20..2026-11-20; created 3, failed 1, unchanged 7)"
        ),
        "user": "alice@example.com",
        "schedule": "alice",
        "namespace": "team-a",
        "run": "alice-nightly-29123456",
        "trigger": "scheduled",
        "phase": "Failed",
        "window": {"start": "2026-11-20", "end": "2026-11-20"},
        "counts": {"created": 3, "unchanged": 7, "failed": 1},
        "message": "1 event could not be written",
        "time": "2026-11-21T00:01:30Z",
    }


def test_payload_truncates_long_messages_and_handles_no_counts() -> None:
    payload = build_payload("success", outcome("Succeeded", message="x" * 5000, counts={}))
    assert len(payload["message"]) == 2000
    assert payload["message"].endswith("…")
    assert payload["text"].endswith("Succeeded (2026-11-20..2026-11-20)")


def test_wanted_events_from_the_spec() -> None:
    def parse(notify: dict[str, Any] | None) -> ArchiveSchedule:
        spec: dict[str, Any] = {
            "user": "alice",
            "source": {"ics": {"url": "https://example.com/a.ics"}},
            "destination": {"directory": {"claimName": "archive"}},
        }
        if notify is not None:
            spec["notify"] = notify
        return ArchiveSchedule.model_validate({"metadata": {"name": "alice"}, "spec": spec})

    ref = {"urlSecretRef": {"name": "alice-webhook", "key": "url"}}
    assert wanted_events(parse(None)) == set()
    assert wanted_events(parse({})) == set()
    assert wanted_events(parse({"webhook": ref})) == {"failure", "recovery"}
    assert wanted_events(parse({"webhook": {**ref, "events": ["success"]}})) == {"success"}


def test_secret_value() -> None:
    encoded = base64.b64encode(b"https://hooks.example.com/T/B/xyz\n").decode()
    assert secret_value({"url": encoded}, "url") == "https://hooks.example.com/T/B/xyz"
    assert secret_value({"url": encoded}, "other") is None
    assert secret_value(None, "url") is None
    assert secret_value({"url": "not base64!"}, "url") is None
    assert secret_value({"url": base64.b64encode(b"\xff\xfe").decode()}, "url") is None


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://hooks.example.com/x", True),
        ("http://127.0.0.1:8080/hook?token=1", True),
        ("ftp://example.com/x", False),
        ("hooks.example.com/x", False),
        ("http://", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_is_webhook_url(url: str, valid: bool) -> None:
    assert is_webhook_url(url) is valid


# --- the Notifier against a real receiver -------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers POSTs from a script, then 200."""

    def __init__(self, *script: tuple[int, dict[str, str]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.hold: asyncio.Event | None = None  # set: answer only once it is set
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = f"/hooks/{TOKEN}?token={TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path_qs, await request.json(), dict(request.headers)))
        if self.hold is not None:
            await self.hold.wait()
        status, headers = self.script.pop(0) if self.script else (200, {})
        return web.Response(status=status, headers=headers, text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # its log would show the token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.hold is not None:
            self.hold.set()
        assert self._runner is not None
        await self._runner.cleanup()


class Recorder:
    """Stands in for asyncio.sleep (records delays) and for on_failure (records reasons)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.failures: list[tuple[str, str]] = []

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)

    def on_failure(self, run: RunOutcome, reason: str) -> None:
        self.failures.append((run.run, reason))


def notifier(recorder: Recorder, **options: Any) -> Notifier:
    options.setdefault("random_fraction", lambda: 1.0)  # jitter at its top: delays exact
    return Notifier(
        on_failure=recorder.on_failure, sleep=recorder.sleep, trust_env=False, **options
    )


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_retries_5xx_then_delivers_the_payload() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver((503, {}), (500, {})) as receiver:
            sender = notifier(recorder)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome())
            await sender.stop()  # drains
        assert len(receiver.requests) == 3
        path, body, headers = receiver.requests[-1]
        assert path == f"/hooks/{TOKEN}?token={TOKEN}"
        assert body == build_payload("failure", outcome())
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == "archive-operator"

    run(scenario)
    assert recorder.delays == [1.0, 2.0]
    assert recorder.failures == []


def test_gives_up_after_max_attempts_with_a_reason_free_of_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver(*[(503, {})] * 10) as receiver:
            sender = notifier(recorder, base_delay=0.5)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome())
            await sender.stop()
        assert len(receiver.requests) == 5

    run(scenario)
    assert recorder.delays == [0.5, 1.0, 2.0, 4.0]
    assert recorder.failures == [
        ("alice-nightly-29123456", "webhook answered 503 after 5 attempts")
    ]
    assert TOKEN not in caplog.text
    assert "503 after 5 attempts" in caplog.text


def test_backoff_is_capped_and_jittered() -> None:
    low = notifier(Recorder(), random_fraction=lambda: 0.0, max_delay=10.0)
    high = notifier(Recorder(), random_fraction=lambda: 0.999, max_delay=10.0)
    assert [low.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert all(low.backoff(n) <= high.backoff(n) <= min(10.0, 2 ** (n - 1)) for n in range(1, 8))


def test_429_and_503_honour_retry_after_seconds_and_dates() -> None:
    recorder = Recorder()
    now = 1_800_000_000.0
    in_30s = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)

    async def scenario() -> None:
        async with Receiver(
            (429, {"Retry-After": "7"}),
            (429, {"Retry-After": in_30s}),
            (429, {"Retry-After": "99999"}),  # capped at max_delay
            (429, {"Retry-After": "soon"}),  # unreadable: ordinary backoff (attempt 4)
            (503, {"Retry-After": "3"}),
        ) as receiver:
            sender = notifier(recorder, clock=lambda: now, max_delay=60.0, max_attempts=6)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome())
            await sender.stop()
        assert len(receiver.requests) == 6

    run(scenario)
    assert recorder.delays == [7.0, 30.0, 60.0, 8.0, 3.0]
    assert recorder.failures == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "webhook answered 400 (not retried)"),
        (404, "webhook answered 404 (not retried)"),
        (302, "webhook answered 302 (redirects are not followed)"),
    ],
)
def test_client_errors_are_final(status: int, reason: str) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        headers = {"Location": "http://127.0.0.1:1/elsewhere"} if status == 302 else {}
        async with Receiver((status, headers)) as receiver:
            sender = notifier(recorder)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome())
            await sender.stop()
        assert len(receiver.requests) == 1

    run(scenario)
    assert recorder.delays == []
    assert recorder.failures == [("alice-nightly-29123456", reason)]


def test_receiver_down_is_retried_and_reported_without_host_or_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    port = free_port()  # nothing listens there: connection refused

    async def scenario() -> None:
        sender = notifier(recorder, max_attempts=3)
        await sender.start()
        sender.submit(f"http://127.0.0.1:{port}/hooks/{TOKEN}?t={TOKEN}", "failure", outcome())
        await sender.stop()

    run(scenario)
    assert recorder.delays == [1.0, 2.0]
    [(_, reason)] = recorder.failures
    assert reason == "webhook unreachable (ClientConnectorError) after 3 attempts"
    for text in (reason, caplog.text):
        assert TOKEN not in text
        assert str(port) not in text


def test_slow_receiver_times_out_and_is_retried() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver() as receiver:
            receiver.hold = asyncio.Event()  # never answers while the test runs
            sender = notifier(recorder, timeout=0.2, max_attempts=2)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome())
            await sender.stop()

    run(scenario)
    assert recorder.failures == [
        ("alice-nightly-29123456", "webhook did not answer within 0.2s after 2 attempts")
    ]


def test_invalid_url_fails_at_once_without_naming_it() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        sender = notifier(recorder)
        await sender.start()
        sender.submit(f"ftp://example.com/{TOKEN}", "failure", outcome())
        await sender.stop()

    run(scenario)
    assert recorder.failures == [
        (
            "alice-nightly-29123456",
            "the webhook URL in the Secret is not an absolute http(s) URL",
        )
    ]


def test_one_url_gets_its_notifications_in_order_while_others_proceed() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver((503, {}), (503, {})) as slow, Receiver() as fast:
            sender = notifier(recorder)
            await sender.start()
            sender.submit(slow.url("/a"), "failure", outcome("Failed", run="r1"))
            sender.submit(slow.url("/a"), "recovery", outcome("Succeeded", run="r2"))
            sender.submit(fast.url("/b"), "success", outcome("Succeeded", run="r3"))
            assert sender.pending == 3
            await sender.stop()
            assert sender.pending == 0
        kinds = [(body["kind"], body["run"]) for _, body, _ in slow.requests]
        assert kinds == [
            ("failure", "r1"),
            ("failure", "r1"),
            ("failure", "r1"),
            ("recovery", "r2"),
        ]
        assert [body["run"] for _, body, _ in fast.requests] == ["r3"]

    run(scenario)
    assert recorder.failures == []


def test_submit_from_another_thread() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver() as receiver:
            sender = notifier(recorder)
            await sender.start()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sender.submit, receiver.url(), "failure", outcome())
            await sender.stop()
        assert len(receiver.requests) == 1

    run(scenario)


def test_stop_cancels_what_cannot_finish_and_reports_it() -> None:
    recorder = Recorder()

    async def never(_: float) -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        async with Receiver((503, {})) as receiver:
            sender = Notifier(
                on_failure=recorder.on_failure, sleep=never, drain_timeout=0.05, trust_env=False
            )
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome(run="r1"))
            sender.submit(receiver.url(), "recovery", outcome("Succeeded", run="r2"))
            await sender.stop()
            assert sender.pending == 0
            sender.submit(receiver.url(), "failure", outcome(run="r3"))  # after stop

    run(scenario)
    assert recorder.failures == [
        ("r1", "the operator stopped before it was delivered"),
        ("r2", "the operator stopped before it was delivered"),
        ("r3", "the notifier is not running"),
    ]


def test_queue_bound_drops_with_a_reason() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with Receiver() as receiver:
            sender = notifier(recorder, max_pending=2)
            await sender.start()
            for number in range(3):
                sender.submit(receiver.url(), "failure", outcome(run=f"r{number}"))
            await sender.stop()
        assert [body["run"] for _, body, _ in receiver.requests] == ["r0", "r1"]

    run(scenario)
    assert recorder.failures == [("r2", "too many notifications pending (2); dropped")]


def test_a_failing_on_failure_callback_does_not_stop_the_notifier() -> None:
    calls: list[str] = []

    def explode(run_outcome: RunOutcome, reason: str) -> None:
        calls.append(run_outcome.run)
        raise RuntimeError("event API down")

    async def scenario() -> None:
        async with Receiver((400, {})) as receiver:
            sender = Notifier(on_failure=explode, trust_env=False)
            await sender.start()
            sender.submit(receiver.url(), "failure", outcome(run="r1"))
            sender.submit(receiver.url(), "recovery", outcome("Succeeded", run="r2"))
            await sender.stop()
        assert [body["run"] for _, body, _ in receiver.requests] == ["r1", "r2"]

    run(scenario)
    assert calls == ["r1"]


def test_submit_before_start_is_reported_not_raised() -> None:
    recorder = Recorder()
    notifier(recorder).submit("https://example.com/x", "failure", outcome())
    assert recorder.failures == [("alice-nightly-29123456", "the notifier is not running")]


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts=0"):
        Notifier(on_failure=lambda *_: None, max_attempts=0)
