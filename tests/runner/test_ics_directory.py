"""iCalendar file and URL sources, directory destination, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.radicale import RadicaleServer

from .helpers import SAMPLES, copies, directory_items, event, feed, run_cli, sample

MALFORMED = (
    "BEGIN:VEVENT\nUID:broken@example.org\nDTSTAMP:20240101T000000Z\nDTSTART:31/03/2024\nEND:VEVENT"
)
MARCH = ["--start", "2024-03-01", "--end", "2024-03-31", "--time-zone", "Europe/London"]
# plain, all-day, floating, New York, weekly (3 in March), daily (31 in March)
MARCH_OCCURRENCES = 4 + 3 + 31


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    path = tmp_path / "feed.ics"
    path.write_text(feed((sample(n) for n in SAMPLES), [MALFORMED]), "utf-8")
    return path


def directory_args(source: Path | str, archive: Path) -> list[str]:
    return [
        "--user", "alice", "--source-type", "ics", "--source-url", str(source),
        "--destination-type", "directory", "--destination-path", str(archive),
    ]  # fmt: skip


def test_ics_file_to_directory_archives_all_but_the_malformed_event(
    feed_file: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    termination = tmp_path / "termination-log"
    first = run_cli(
        [*directory_args(feed_file, archive), *MARCH, "--termination-log", str(termination)]
    )
    assert first.exit_code == 3, first.stderr
    assert first.result["status"] == "partial"
    assert first.counts["created"] == MARCH_OCCURRENCES
    assert first.counts["failed"] == 1
    assert [e["uid"] for e in first.result["errors"]] == ["broken@example.org"]
    archived = copies(directory_items(archive))
    assert len(archived) == MARCH_OCCURRENCES
    assert "METHOD:" not in "".join(archived.values())
    assert not list(archive.glob(".tmp-*"))  # no temporary files left behind
    compact = json.loads(termination.read_text())
    assert compact["counts"]["created"] == MARCH_OCCURRENCES
    assert compact["run_id"] == first.result["run_id"]

    again = run_cli([*directory_args(feed_file, archive), *MARCH])
    assert again.counts["unchanged"] == MARCH_OCCURRENCES
    assert again.counts["created"] == again.counts["updated"] == 0
    assert copies(directory_items(archive)) == archived  # nothing rewritten


def test_edited_and_deleted_events_in_a_directory_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    source = tmp_path / "feed.ics"
    a = event("a@x", "20240305T120000Z", "20240305T130000Z", "Original")
    b = event("b@x", "20240306T120000Z", "20240306T130000Z", "Soon deleted")
    source.write_text(feed([a, b]))
    assert run_cli([*directory_args(source, archive), *MARCH]).exit_code == 0
    source.write_text(feed([a.replace("Original", "Edited")]))

    kept = run_cli([*directory_args(source, archive), *MARCH])
    assert (kept.counts["changed_kept"], kept.counts["source_missing"]) == (1, 1)
    assert kept.result["source_missing"] == ["b@x"]
    assert "SUMMARY:Original" in copies(directory_items(archive))["a@x"]

    updated = run_cli([*directory_args(source, archive), *MARCH, "--on-change", "update"])
    assert (updated.counts["updated"], updated.counts["source_missing"]) == (1, 1)
    archived = copies(directory_items(archive))
    assert "SUMMARY:Edited" in archived["a@x"]
    assert set(archived) == {"a@x", "b@x"}  # the deleted event's copy is never removed


def test_missing_source_file_is_a_configuration_error(tmp_path: Path) -> None:
    outcome = run_cli([*directory_args(tmp_path / "nope.ics", tmp_path), *MARCH])
    assert outcome.exit_code == 4
    assert outcome.result["status"] == "failed"
    assert "not found" in outcome.result["message"]
    assert "termination message skipped" in outcome.stderr  # its directory does not exist


def test_ics_url_source_with_basic_auth(radicale: RadicaleServer, tmp_path: Path) -> None:
    """Radicale serves a whole collection as one iCalendar file on GET: a real feed URL."""
    collection = radicale.new_collection()
    for name in SAMPLES:
        collection.seed(name, sample(name))
    archive = tmp_path / "archive"
    archive.mkdir()
    env = {
        "ARCHIVE_SOURCE_USERNAME": radicale.username,
        "ARCHIVE_SOURCE_PASSWORD": radicale.password,
    }
    outcome = run_cli([*directory_args(collection.url, archive), *MARCH], env)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.counts["created"] == MARCH_OCCURRENCES
    assert outcome.result["http_requests"] == 1
    assert len(directory_items(archive)) == MARCH_OCCURRENCES
