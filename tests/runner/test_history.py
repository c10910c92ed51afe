"""Nothing archived is ever lost, with ``--on-change update`` too (issue 14, item 1).

A run may bring what it archives for its own window up to date, but it never removes or
alters what the archive shows for a day outside its window: an event moved to another day
is a new version, and a series edited after some of its days were archived keeps those days
as they were archived. Through the CLI: an .ics file source and a directory archive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from archive_runner import cli

from tests.fixtures.radicale import RadicaleServer

from .archive_view import directory_texts, occurrences
from .helpers import event, run_cli

FOREVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run happens at 23:00 UTC on the day it archives (the runner's injected clock)."""
    monkeypatch.setattr(cli, "clock", lambda: _now)


_now = datetime(2024, 3, 1, 23, tzinfo=UTC)


ARGS = ["--user", "alice", "--time-zone", "UTC", "--on-change", "update",
        "--destination-type", "directory", "--source-type", "ics", "--source-url"]  # fmt: skip


def run_day(source: Path, archive: Path, day: str, *args: str) -> dict[str, int]:
    global _now
    _now = datetime.fromisoformat(f"{day}T23:00:00+00:00")
    outcome = run_cli([*ARGS, str(source), "--destination-path", str(archive),
                       "--start", day, "--end", day, *args])  # fmt: skip
    assert outcome.exit_code == 0, (outcome.stderr, outcome.result)
    return outcome.counts


def test_an_event_moved_to_another_day_keeps_its_archived_day(tmp_path: Path) -> None:
    source, archive = tmp_path / "feed.ics", tmp_path / "archive"
    archive.mkdir()
    source.write_text(event("lunch@x", "20240301T120000Z", "20240301T130000Z", "Lunch"))
    assert run_day(source, archive, "2024-03-01")["created"] == 1

    source.write_text(event("lunch@x", "20240305T120000Z", "20240305T130000Z", "Lunch moved"))
    counts = run_day(source, archive, "2024-03-05")
    assert counts["created"] == 1 and counts["updated"] == 0

    assert occurrences(directory_texts(archive), *FOREVER) == {
        ("lunch@x", "", "20240301T120000Z"): "Lunch",  # as it was on its day
        ("lunch@x", "", "20240305T120000Z"): "Lunch moved",
    }
    # A re-run of either day is a no-op: each day's version is found again.
    assert run_day(source, archive, "2024-03-05")["unchanged"] == 1
    assert run_day(source, archive, "2024-03-01")["created"] == 0


def test_an_event_edited_on_its_own_day_is_updated_in_place(tmp_path: Path) -> None:
    source, archive = tmp_path / "feed.ics", tmp_path / "archive"
    archive.mkdir()
    source.write_text(event("call@x", "20240301T090000Z", "20240301T093000Z", "Call"))
    run_day(source, archive, "2024-03-01")
    source.write_text(event("call@x", "20240301T090000Z", "20240301T100000Z", "Call (longer)"))
    assert run_day(source, archive, "2024-03-01")["updated"] == 1
    assert occurrences(directory_texts(archive), *FOREVER) == {
        ("call@x", "", "20240301T090000Z"): "Call (longer)"
    }


WEEKLY = "RRULE:FREQ=WEEKLY;COUNT=4"


def weekly(summary: str, extra: str = "") -> str:
    rules = WEEKLY + (f"\r\n{extra}" if extra else "")
    return event("standup@x", "20240304T090000Z", "20240304T091500Z", summary, rules)


def test_a_series_edit_after_its_first_week_was_archived_keeps_that_week(
    tmp_path: Path,
) -> None:
    source, archive = tmp_path / "feed.ics", tmp_path / "archive"
    archive.mkdir()
    source.write_text(weekly("Standup"))
    assert run_day(source, archive, "2024-03-04", "--recurrence", "series")["created"] == 1

    # The organiser cancels the (past) first occurrence and renames the series.
    source.write_text(weekly("Daily sync", "EXDATE:20240304T090000Z"))
    counts = run_day(source, archive, "2024-03-11", "--recurrence", "series")
    assert counts["updated"] == 1

    shown = occurrences(directory_texts(archive), *FOREVER)
    assert shown == {
        ("standup@x", "20240304T090000Z", "20240304T090000Z"): "Standup",  # kept as archived
        ("standup@x", "20240311T090000Z", "20240311T090000Z"): "Daily sync",
        # Days no run has archived yet follow the source:
        ("standup@x", "20240318T090000Z", "20240318T090000Z"): "Daily sync",
        ("standup@x", "20240325T090000Z", "20240325T090000Z"): "Daily sync",
    }
    # Settled: a re-run writes nothing, and a further edit keeps both archived weeks.
    assert run_day(source, archive, "2024-03-11", "--recurrence", "series")["unchanged"] == 1
    source.write_text(weekly("Weekly sync", "EXDATE:20240304T090000Z"))
    run_day(source, archive, "2024-03-18", "--recurrence", "series")
    shown = occurrences(directory_texts(archive), *FOREVER)
    assert shown[("standup@x", "20240304T090000Z", "20240304T090000Z")] == "Standup"
    assert shown[("standup@x", "20240311T090000Z", "20240311T090000Z")] == "Daily sync"
    assert shown[("standup@x", "20240318T090000Z", "20240318T090000Z")] == "Weekly sync"


def test_a_series_edit_on_a_real_caldav_archive_keeps_the_archived_week(
    radicale: RadicaleServer,
) -> None:
    """The same on Radicale: the server accepts the kept occurrence (its own UID) next to the
    updated series, and the calendar it serves shows each archived day once, as archived."""
    env = {"ARCHIVE_SOURCE_USERNAME": radicale.username, "ARCHIVE_SOURCE_PASSWORD": "secret"}
    source, archive = radicale.new_collection("work"), radicale.new_collection("archive")

    def run(day: str) -> dict[str, int]:
        global _now
        _now = datetime.fromisoformat(f"{day}T23:00:00+00:00")
        args = ["--user", "alice", "--source-url", source.url, "--destination-url", archive.url,
                "--start", day, "--end", day, "--time-zone", "UTC", "--on-change", "update",
                "--recurrence", "series"]  # fmt: skip
        outcome = run_cli(args, env)
        assert outcome.exit_code == 0, (outcome.stderr, outcome.result)
        return outcome.counts

    source.seed("standup.ics", weekly("Standup"))
    assert run("2024-03-04")["created"] == 1
    source.seed("standup.ics", weekly("Daily sync", "EXDATE:20240304T090000Z"))
    counts = run("2024-03-11")
    assert (counts["created"], counts["updated"]) == (1, 1)  # the kept day, then the series
    shown = occurrences(list(archive.items().values()), *FOREVER)
    assert shown[("standup@x", "20240304T090000Z", "20240304T090000Z")] == "Standup"
    assert shown[("standup@x", "20240311T090000Z", "20240311T090000Z")] == "Daily sync"
    assert len(shown) == 4
    assert run("2024-03-11")["unchanged"] == 1
