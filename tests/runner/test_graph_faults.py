"""Microsoft Graph under trouble, against the local stand-in: throttling within the deadline,
an expired token, missing permissions, unknown mailboxes and calendars, and secrets that must
never be shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.graph_standin import GraphStandIn

from .graph_helpers import (
    ARCHIVER,
    MARCH,
    SECRET,
    TENANT,
    Tls,
    archive_uids,
    graph_archive_args,
    graph_env,
    seed_samples,
    source_args,
    standin,
)
from .helpers import Outcome, copies, directory_items, run_cli
from .test_caldav import EXPECTED_MARCH


@pytest.fixture
def graph(tls: Tls) -> Iterator[GraphStandIn]:
    for ready in standin(tls):
        seed_samples(ready)
        yield ready


def to_directory(graph: GraphStandIn, tls: Tls, path: Path, *args: str, **env: str) -> Outcome:
    argv = [*source_args(), "--destination-type", "directory", "--destination-path", str(path)]
    return run_cli([*argv, *MARCH, *args], graph_env(graph, tls, **env))


def to_graph(graph: GraphStandIn, tls: Tls, *args: str, **env: str) -> Outcome:
    argv = [*source_args(), *graph_archive_args(), *MARCH, *args]
    return run_cli(argv, graph_env(graph, tls, **env))


def test_429_with_retry_after_and_503_are_waited_out(graph: GraphStandIn, tls: Tls) -> None:
    archive = graph.add_calendar(TENANT, ARCHIVER, "Archive")
    graph.fail_next("GET", r"/calendarView$", 429, headers={"Retry-After": "1"})
    graph.fail_next("POST", r"/events$", 503, count=2)
    outcome = to_graph(graph, tls)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stderr.count("server asked to retry") == 3
    assert len(archive_uids(graph, archive)) == len(EXPECTED_MARCH)  # no duplicate POST


def test_a_read_still_throttled_at_the_deadline_exits_5(
    graph: GraphStandIn, tls: Tls, tmp_path: Path
) -> None:
    graph.fail_next("GET", r"/calendarView$", 429, headers={"Retry-After": "3600"})
    outcome = to_directory(graph, tls, tmp_path, "--deadline", "60")
    assert outcome.exit_code == 5, outcome.stderr
    assert "HTTP 429 (Retry-After: 3600)" in outcome.result["message"]
    assert not directory_items(tmp_path)


def test_a_write_still_throttled_at_the_deadline_stops_the_run_with_exit_5(
    graph: GraphStandIn, tls: Tls
) -> None:
    graph.add_calendar(TENANT, ARCHIVER, "Archive")
    graph.fail_next("POST", r"/events$", 429, headers={"Retry-After": "3600"}, count=100)
    outcome = to_graph(graph, tls, "--deadline", "60")
    assert outcome.exit_code == 5, outcome.stderr
    assert "no wait for it could end before the run's deadline" in outcome.result["message"]
    assert outcome.counts["failed"] == len(EXPECTED_MARCH)


def test_an_expired_token_is_refreshed_once(graph: GraphStandIn, tls: Tls, tmp_path: Path) -> None:
    graph.fail_next("GET", r"/calendarView$", 401)
    outcome = to_directory(graph, tls, tmp_path)
    assert outcome.exit_code == 0, outcome.stderr
    assert graph.tokens_issued == 2
    assert len(copies(directory_items(tmp_path))) == len(EXPECTED_MARCH)


def test_a_token_still_rejected_after_one_refresh_is_exit_4(
    graph: GraphStandIn, tls: Tls, tmp_path: Path
) -> None:
    graph.fail_next("GET", r"/calendarView$", 401, count=10)
    outcome = to_directory(graph, tls, tmp_path)
    assert outcome.exit_code == 4, outcome.stderr
    assert graph.tokens_issued == 2
    assert "rejected the app's token" in outcome.result["message"]


def test_an_archive_without_calendars_readwrite_is_exit_4_naming_what_to_grant(
    graph: GraphStandIn, tls: Tls
) -> None:
    reader = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70"
    graph.add_app(TENANT, reader, secret=SECRET, roles=("Calendars.Read",))
    graph.add_calendar(TENANT, ARCHIVER, "Archive")
    outcome = to_graph(
        graph, tls, "--source-graph-client-id", reader, "--destination-graph-client-id", reader
    )
    assert outcome.exit_code == 4, outcome.stderr
    message = outcome.result["message"]
    assert "mailbox archive@contoso.com" in message and "calendar 'Archive'" in message
    assert "Calendars.ReadWrite" in message and reader in message


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--source-graph-mailbox", "nobody@contoso.com"], "nobody@contoso.com"),
        (["--source-graph-calendar", "Holidays"], "'Holidays'"),
        (["--destination-graph-calendar", "Attic"], "'Attic'"),
        (["--destination-graph-mailbox", "ghost@contoso.com"], "ghost@contoso.com"),
    ],
)
def test_an_unknown_mailbox_or_calendar_is_exit_4(
    graph: GraphStandIn, tls: Tls, args: list[str], named: str
) -> None:
    graph.add_calendar(TENANT, ARCHIVER, "Archive")
    outcome = to_graph(graph, tls, *args)
    assert outcome.exit_code == 4, outcome.stderr
    assert named in outcome.result["message"]
    assert "spec." in outcome.result["message"]  # names the schedule's field to fix


def test_the_client_secret_and_the_access_token_are_never_shown(
    graph: GraphStandIn, tls: Tls
) -> None:
    graph.add_calendar(TENANT, ARCHIVER, "Archive")
    graph.fail_next("GET", r"/calendarView$", 401)  # a refresh: two tokens
    graph.fail_next("POST", r"/events$", 503)  # a retry logged
    good = to_graph(graph, tls)
    graph.add_calendar(TENANT, ARCHIVER, "Second")
    graph.fail_next("POST", r"/events$", 403, count=100)
    bad = to_graph(graph, tls, "--destination-graph-calendar", "Second")
    tokens = list(graph._store.tokens)  # every token the stand-in issued
    assert len(tokens) == 3
    for outcome in (good, bad):
        output = outcome.stderr + str(outcome.result)
        assert outcome.result, outcome.stderr
        assert SECRET not in output
        assert not any(token in output for token in tokens)
    assert good.exit_code == 0 and bad.exit_code == 4
