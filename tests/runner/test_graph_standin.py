"""Microsoft Graph to a directory and to Graph, against the local Graph stand-in over https, with
the real msal and httpx: the sample calendar's March truth, idempotence, history, paging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.graph_standin import GraphStandIn
from tests.graph_standin.app_certificate import rsa_certificate

from .graph_helpers import (
    ALICE,
    ARCHIVER,
    CLIENT,
    MARCH,
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
    yield from standin(tls)


def to_directory(graph: GraphStandIn, tls: Tls, path: Path, *args: str) -> Outcome:
    argv = [*source_args(), "--destination-type", "directory", "--destination-path", str(path)]
    return run_cli([*argv, *MARCH, *args], graph_env(graph, tls))


def to_graph(graph: GraphStandIn, tls: Tls, *args: str) -> Outcome:
    return run_cli([*source_args(), *graph_archive_args(), *MARCH, *args], graph_env(graph, tls))


def test_graph_to_directory_archives_the_march_truth_and_a_rerun_writes_nothing(
    graph: GraphStandIn, tls: Tls, tmp_path: Path
) -> None:
    seeded = seed_samples(graph)
    first = to_directory(graph, tls, tmp_path)
    assert first.exit_code == 0, first.stderr
    archived = copies(directory_items(tmp_path))
    assert set(archived) == seeded.expected(EXPECTED_MARCH)
    assert first.counts["created"] == len(EXPECTED_MARCH)
    weekly = archived[seeded.uids["weekly-london@example.org"] + "-20240304T090000Z"]
    assert "SCHEDULE-AGENT=NONE" in weekly and "mailto:bob@example.org" in weekly
    assert "BEGIN:VTIMEZONE\nTZID:Europe/London" in weekly
    moved = archived[seeded.uids["weekly-london@example.org"] + "-20240325T090000Z"]
    assert "DTSTART;TZID=Europe/London:20240326T140000" in moved
    ny = archived[seeded.uids["new-york@example.org"]]
    assert "DTSTART;TZID=America/New_York:20240308T090000" in ny
    assert "DTSTART;VALUE=DATE:20240306" in archived[seeded.uids["all-day@example.org"]]

    again = to_directory(graph, tls, tmp_path)
    assert again.exit_code == 0, again.stderr
    assert again.counts["unchanged"] == len(EXPECTED_MARCH)
    assert again.counts["created"] == again.counts["updated"] == 0
    assert copies(directory_items(tmp_path)) == archived


def test_graph_to_graph_archives_the_march_truth_and_a_rerun_writes_nothing(
    graph: GraphStandIn, tls: Tls
) -> None:
    seeded = seed_samples(graph)
    archive = graph.add_calendar(TENANT, ARCHIVER, "Archive")
    first = to_graph(graph, tls)
    assert first.exit_code == 0, first.stderr
    archived = archive_uids(graph, archive)
    assert set(archived) == seeded.expected(EXPECTED_MARCH)
    assert first.counts["created"] == len(EXPECTED_MARCH)
    writes = [r for r in graph.requests if r.method in ("POST", "PATCH", "DELETE", "PUT")]
    # One POST per copy to the archive calendar (and the token requests), nothing else.
    assert [r.method for r in writes if "/v1.0/" in r.path] == ["POST"] * len(EXPECTED_MARCH)

    before = len(graph.requests)
    again = to_graph(graph, tls)
    assert again.exit_code == 0, again.stderr
    assert again.counts["unchanged"] == len(EXPECTED_MARCH)
    assert again.counts["created"] == again.counts["updated"] == 0
    assert not [r for r in graph.requests[before:] if r.method in ("POST", "PATCH", "DELETE")
                and "/v1.0/" in r.path]  # fmt: skip
    assert archive_uids(graph, archive) == archived


def test_paging_follows_every_next_link(
    graph: GraphStandIn, tls: Tls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive_runner.backends import graph as backend

    monkeypatch.setattr(backend, "PAGE_SIZE", 2)
    seeded = seed_samples(graph)
    outcome = to_directory(graph, tls, tmp_path)
    assert outcome.exit_code == 0, outcome.stderr
    assert set(copies(directory_items(tmp_path))) == seeded.expected(EXPECTED_MARCH)
    views = [r for r in graph.requests if r.path.endswith("/calendarView")]
    # 30 daily + 3 weekly + 4 single instances in the queried range (+ 04-01's two), 2 a page.
    assert len(views) >= 18
    assert all("odata.maxpagesize=2" in r.headers.get("prefer", "") for r in views)


def test_an_event_moved_after_archiving_gets_a_version_and_the_first_copy_stays(
    graph: GraphStandIn, tls: Tls
) -> None:
    seeded = seed_samples(graph)
    archive = graph.add_calendar(TENANT, ARCHIVER, "Archive")
    assert to_graph(graph, tls, "--on-change", "update").exit_code == 0
    plain = seeded.ids["plain-utc@example.org"]
    graph.edit_event(TENANT, ALICE, plain, {
        "start": {"dateTime": "2024-03-07T12:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2024-03-07T13:00:00", "timeZone": "UTC"},
    })  # fmt: skip
    graph.edit_event(TENANT, ALICE, seeded.ids["new-york@example.org"], {"subject": "Renamed"})

    outcome = to_graph(graph, tls, "--on-change", "update")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.counts["created"] == 1 and outcome.counts["updated"] == 1
    archived = archive_uids(graph, archive)
    uid = seeded.uids["plain-utc@example.org"]
    assert "DTSTART:20240305T120000Z" in archived[uid]  # the first copy, on its day
    assert "DTSTART:20240307T120000Z" in archived[f"{uid}-moved-20240307T120000Z"]
    assert "SUMMARY:Renamed" in archived[seeded.uids["new-york@example.org"]]
    assert len(archived) == len(EXPECTED_MARCH) + 1


def test_no_request_can_send_an_invitation(graph: GraphStandIn, tls: Tls) -> None:
    seed_samples(graph)
    archive = graph.add_calendar(TENANT, ARCHIVER, "Archive")
    assert to_graph(graph, tls).exit_code == 0
    writes = [r for r in graph.requests if r.method in ("POST", "PATCH") and "/v1.0/" in r.path]
    assert writes and all(r.had_attendees is False for r in writes)
    # Nothing but event creation: no send, forward, accept, decline or cancel actions.
    assert all(r.path.endswith("/events") for r in writes)
    archived = graph.events(TENANT, ARCHIVER, archive)
    assert not any(e.get("attendees") for e in archived)
    # The people are kept, in the copy and as text in the body.
    weekly = [e for e in archived if "bob@example.org" in e["body"]["content"]]
    assert weekly and all(e["isReminderOn"] is False for e in archived)


def test_an_app_signing_in_with_its_certificate(tls: Tls, tmp_path: Path) -> None:
    """The credentials Secret's client-certificate (PEM: certificate and private key): msal
    signs a client assertion with it, the stand-in checks it against the app's registered
    certificate. Another key is refused before any calendar is read (exit 4). The key never
    shows in the output."""
    cert_pem, key_pem, _ = rsa_certificate()
    other_cert, other_key, _ = rsa_certificate()
    with GraphStandIn(tls=(tls.cert, tls.key)) as graph:
        graph.add_app(TENANT, CLIENT, certificate_pem=cert_pem, roles=("Calendars.Read",))
        graph.add_mailbox(TENANT, ALICE)
        seeded = seed_samples(graph)
        by_certificate = {k: v for k, v in graph_env(graph, tls).items() if "SECRET" not in k}

        def run(pem: str, path: Path) -> Outcome:
            path.mkdir()
            env = {**by_certificate, "ARCHIVE_SOURCE_GRAPH_CLIENT_CERTIFICATE": pem}
            argv = [*source_args(), "--destination-type", "directory"]
            return run_cli([*argv, "--destination-path", str(path), *MARCH], env)

        signed = run(cert_pem + key_pem, tmp_path / "signed")
        refused = run(other_cert + other_key, tmp_path / "refused")

    assert signed.exit_code == 0, signed.result.get("message")
    assert set(copies(directory_items(tmp_path / "signed"))) == seeded.expected(EXPECTED_MARCH)
    assert refused.exit_code == 4
    assert "700027" in refused.result["message"]  # the platform: key not registered
    assert list((tmp_path / "refused").iterdir()) == []
    key_body = "".join(key_pem.splitlines()[1:-1])
    for outcome in (signed, refused):
        shown = str(outcome.result) + outcome.stderr
        assert key_body[:40] not in shown and key_body[-40:] not in shown
