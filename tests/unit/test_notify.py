"""Notifications: the pure decisions, and the Notifier against a real local HTTP receiver.

The receiver is an aiohttp server on 127.0.0.1 (a free port) scripted to answer each POST in
turn; the Notifier's ``sleep`` only records the delays, so no test waits for a backoff. Loopback
is not a webhook target the operator accepts by default, so the tests allow 127.0.0.1 as an
installation would (ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS), except those about that check.
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
    """A webhook receiver on 127.0.0.1 (or ``host``) that answers POSTs from a script, then 200."""

    def __init__(self, *script: tuple[int, dict[str, str]], host: str = "127.0.0.1") -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.hold: asyncio.Event | None = None  # set: answer only once it is set
        self._runner: web.AppRunner | None = None
        self.host = host
        self.port = 0

    def url(self, path: str = f"/hooks/{TOKEN}?token={TOKEN}") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

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
        site = web.TCPSite(self._runner, self.host, 0)
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


LOCAL = ("127.0.0.1",)  # the receivers' address, allowed as an installation would allow it


def notifier(recorder: Recorder, **options: Any) -> Notifier:
    options.setdefault("random_fraction", lambda: 1.0)  # jitter at its top: delays exact
    options.setdefault("allowed_targets", LOCAL)
    options.setdefault("trust_env", False)
    return Notifier(on_failure=recorder.on_failure, sleep=recorder.sleep, **options)


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
                on_failure=recorder.on_failure,
                sleep=never,
                drain_timeout=0.05,
                trust_env=False,
                allowed_targets=LOCAL,
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
            sender = Notifier(on_failure=explode, trust_env=False, allowed_targets=LOCAL)
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


# --- webhook targets: no request forgery from the operator's pod (issue 18 item 5) -------------

ALLOW_HOW = (
    "the operator's administrator can allow it with the chart value "
    "notifications.webhookAllowedTargets (ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS)"
)
PATH = f"/latest/meta-data/{TOKEN}?token={TOKEN}"


def deliver_once(url: str, **options: Any) -> Recorder:
    """Submit one notification to ``url`` and wait until the notifier has finished with it."""
    recorder = Recorder()

    async def scenario() -> None:
        sender = notifier(recorder, **options)
        await sender.start()
        sender.submit(url, "failure", outcome())
        await sender.stop()

    run(scenario)
    return recorder


@pytest.mark.parametrize(
    ("host", "refusal"),
    [
        ("127.0.0.1", "webhook host 127.0.0.1 refused: it is a loopback address"),
        ("localhost", "webhook host localhost refused: it resolves to a loopback address"),
        ("2130706433", "webhook host 2130706433 refused: it resolves to a loopback address"),
        ("[::ffff:127.0.0.1]", "webhook host ::ffff:127.0.0.1 refused: it is a loopback address"),
        ("0.0.0.0", "webhook host 0.0.0.0 refused: it is a unspecified address"),
    ],
)
def test_loopback_targets_are_refused_and_receive_nothing(
    host: str, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[Receiver, Recorder]:
        async with Receiver() as receiver:
            recorder = Recorder()
            sender = notifier(recorder, allowed_targets=())  # the default: nothing allowed
            await sender.start()
            sender.submit(f"http://{host}:{receiver.port}{PATH}", "failure", outcome())
            await sender.stop()
        return receiver, recorder

    receiver, recorder = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert receiver.requests == []
    assert recorder.delays == []  # final: not retried
    assert recorder.failures == [("alice-nightly-29123456", f"{refusal}; {ALLOW_HOW}")]
    assert TOKEN not in caplog.text and "meta-data" not in caplog.text


def test_ipv6_loopback_is_refused_and_receives_nothing() -> None:
    async def scenario() -> tuple[Receiver, Recorder]:
        async with Receiver(host="::1") as receiver:
            recorder = Recorder()
            sender = notifier(recorder, allowed_targets=())
            await sender.start()
            sender.submit(receiver.url(PATH), "failure", outcome())
            await sender.stop()
        return receiver, recorder

    try:
        receiver, recorder = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    except OSError as exc:  # no IPv6 on this machine
        pytest.skip(f"cannot listen on [::1]: {exc}")
    assert receiver.requests == []
    assert recorder.failures == [
        (
            "alice-nightly-29123456",
            f"webhook host ::1 refused: it is a loopback address; {ALLOW_HOW}",
        )
    ]


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        # The cloud metadata service (AWS, GCP, Azure, OpenStack ...): link-local.
        (f"http://169.254.169.254{PATH}", "it is a link-local address"),
        (f"http://[fe80::1]{PATH}", "it is a link-local address"),
        (f"http://[fd00:ec2::254]{PATH}", "it is a private address"),  # AWS's over IPv6
        (f"http://100.100.100.200{PATH}", "it is a private address"),  # Alibaba's, shared space
        (f"https://10.96.0.1{PATH}", "it is a private address"),  # a cluster's Service network
        (f"http://192.168.1.1:8080{PATH}", "it is a private address"),
        (f"http://224.0.0.1{PATH}", "it is a multicast address"),
        (f"http://240.0.0.1{PATH}", "it is a reserved address"),
        (f"http://[64:ff9b::a9fe:a9fe]{PATH}", "it is a link-local address"),  # NAT64 of metadata
    ],
)
def test_internal_addresses_are_refused_at_once_naming_the_host_only(
    url: str, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = deliver_once(url, allowed_targets=())
    [(_, reason)] = recorder.failures
    host = url.split("/")[2].split("]")[0].lstrip("[").removesuffix(":8080")
    assert reason == f"webhook host {host} refused: {refusal}; {ALLOW_HOW}"
    assert recorder.delays == []
    for text in (reason, caplog.text):
        assert TOKEN not in text and "meta-data" not in text


def lookup_of(*answers: list[str]) -> tuple[Any, list[str]]:
    """A stand-in for DNS: each call answers the next list of addresses (the last one again)."""
    asked: list[str] = []

    async def lookup(host: str, port: int) -> list[tuple[int, str]]:
        asked.append(host)
        answer = answers[min(len(asked), len(answers)) - 1]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in answer]

    return lookup, asked


def test_a_name_is_refused_when_any_of_its_addresses_is_internal() -> None:
    lookup, asked = lookup_of(["93.184.215.14", "169.254.169.254"])
    recorder = deliver_once(f"https://hooks.example.com{PATH}", allowed_targets=(), lookup=lookup)
    assert asked == ["hooks.example.com"]
    assert recorder.failures == [
        (
            "alice-nightly-29123456",
            f"webhook host hooks.example.com refused: it resolves to a link-local address; "
            f"{ALLOW_HOW}",
        )
    ]


def test_allowed_loopback_is_delivered() -> None:
    for allowed in (("127.0.0.0/8",), ("127.0.0.1",), ("localhost", "*.example.org")):

        async def scenario(allowed: tuple[str, ...] = allowed) -> tuple[Receiver, Recorder]:
            async with Receiver() as receiver:
                recorder = Recorder()
                sender = notifier(recorder, allowed_targets=allowed)
                await sender.start()
                host = "localhost" if "localhost" in allowed else "127.0.0.1"
                sender.submit(f"http://{host}:{receiver.port}/hook", "failure", outcome())
                await sender.stop()
            return receiver, recorder

        receiver, recorder = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
        assert recorder.failures == [], allowed
        assert [body["kind"] for _, body, _ in receiver.requests] == ["failure"], allowed


def test_allowing_one_address_allows_no_other() -> None:
    recorder = deliver_once(f"http://169.254.169.254{PATH}", allowed_targets=("127.0.0.1",))
    [(_, reason)] = recorder.failures
    assert reason.startswith("webhook host 169.254.169.254 refused: it is a link-local address")


def test_the_connection_goes_to_the_vetted_address_so_dns_rebinding_cannot_redirect_it() -> None:
    """The name first resolves to the allowed 127.0.0.1, then to the metadata address. The POST
    must go to the address that was checked, with the name kept as Host: the system resolver
    cannot resolve "hooks.rebind.test" at all, so a second resolution would fail the delivery."""
    lookup, asked = lookup_of(["127.0.0.1"], ["169.254.169.254"])

    async def scenario() -> tuple[Receiver, Recorder]:
        async with Receiver() as receiver:
            recorder = Recorder()
            sender = notifier(recorder, allowed_targets=LOCAL, lookup=lookup)
            await sender.start()
            sender.submit(f"http://hooks.rebind.test:{receiver.port}/hook", "failure", outcome())
            await sender.stop()
        return receiver, recorder

    receiver, recorder = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert recorder.failures == []
    assert asked == ["hooks.rebind.test"]  # resolved once, for the check, and never again
    [(path, _, headers)] = receiver.requests
    assert path == "/hook"
    assert headers["Host"] == f"hooks.rebind.test:{receiver.port}"


def test_every_attempt_vets_the_name_again() -> None:
    """A retry resolves again: an answer that turned internal meanwhile is refused."""
    lookup, asked = lookup_of(["127.0.0.1"], ["169.254.169.254"])

    async def scenario() -> tuple[Receiver, Recorder]:
        async with Receiver((503, {})) as receiver:
            recorder = Recorder()
            sender = notifier(recorder, allowed_targets=LOCAL, lookup=lookup)
            await sender.start()
            sender.submit(f"http://hooks.rebind.test:{receiver.port}/hook", "failure", outcome())
            await sender.stop()
        return receiver, recorder

    receiver, recorder = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert len(receiver.requests) == 1  # the first attempt, answered 503
    assert asked == ["hooks.rebind.test", "hooks.rebind.test"]
    assert recorder.failures == [
        (
            "alice-nightly-29123456",
            "webhook host hooks.rebind.test refused: it resolves to a link-local address; "
            f"{ALLOW_HOW}",
        )
    ]


def test_a_host_that_does_not_resolve_is_retried_without_naming_it() -> None:
    async def nowhere(host: str, port: int) -> list[tuple[int, str]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    recorder = deliver_once(f"https://hooks.invalid{PATH}", max_attempts=2, lookup=nowhere)
    assert recorder.delays == [1.0]
    assert recorder.failures == [
        ("alice-nightly-29123456", "webhook host does not resolve (gaierror) after 2 attempts")
    ]


def test_through_a_proxy_the_target_is_vetted_and_the_proxy_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP(S)_PROXY stays honoured: the proxy (on 127.0.0.1, not allowed) is the installation's
    and is used; the webhook's host is still vetted, by what it resolves to here."""
    lookup, _ = lookup_of(["93.184.215.14"])  # a public address: allowed
    internal, _ = lookup_of(["10.0.0.7"])

    async def scenario() -> tuple[Receiver, Recorder, Recorder]:
        async with Receiver() as proxy:
            monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
            monkeypatch.delenv("no_proxy", raising=False)
            monkeypatch.delenv("NO_PROXY", raising=False)
            public, refused = Recorder(), Recorder()
            for recorder, resolve in ((public, lookup), (refused, internal)):
                sender = notifier(recorder, allowed_targets=(), trust_env=True, lookup=resolve)
                await sender.start()
                sender.submit("http://hooks.example.com/hook", "failure", outcome())
                await sender.stop()
        return proxy, public, refused

    proxy, public, refused = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert public.failures == []
    [(_, body, headers)] = proxy.requests  # only the public one reached the proxy
    assert headers["Host"] == "hooks.example.com"
    assert body["kind"] == "failure"
    assert refused.failures == [
        (
            "alice-nightly-29123456",
            "webhook host hooks.example.com refused: it resolves to a private address; "
            f"{ALLOW_HOW}",
        )
    ]
