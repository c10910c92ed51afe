"""CalDAV to CalDAV against a real Radicale: correctness, idempotence, policies, faults."""

from __future__ import annotations

import socket

import pytest

from tests.fixtures.radicale import Collection, RadicaleServer

from .cutoff_proxy import cutoff_proxy
from .helpers import SAMPLES, Outcome, copies, event, run_cli, sample

MARCH = ["--start", "2024-03-01", "--end", "2024-03-31", "--time-zone", "Europe/London"]
EXPECTED_MARCH = {
    "plain-utc@example.org",
    "all-day@example.org",
    "floating@example.org",
    "new-york@example.org",
    "weekly-london@example.org-20240304T090000Z",
    "weekly-london@example.org-20240311T090000Z",
    "weekly-london@example.org-20240325T090000Z",  # moved to the 26th; 18th is an EXDATE
    *(f"daily@example.org-202403{day:02d}T093000Z" for day in range(1, 31)),
    "daily@example.org-20240331T083000Z",  # 09:30 BST
}


@pytest.fixture
def env(radicale: RadicaleServer) -> dict[str, str]:
    return {
        "ARCHIVE_SOURCE_USERNAME": radicale.username,
        "ARCHIVE_SOURCE_PASSWORD": radicale.password,
    }


@pytest.fixture
def source(radicale: RadicaleServer) -> Collection:
    collection = radicale.new_collection("work")
    for name in SAMPLES:
        collection.seed(name, sample(name))
    return collection


@pytest.fixture
def archive(radicale: RadicaleServer) -> Collection:
    return radicale.new_collection("archive")


def archive_run(
    source: Collection | str, archive: Collection | str, env: dict[str, str], *args: str
) -> Outcome:
    source_url = source if isinstance(source, str) else source.url
    archive_url = archive if isinstance(archive, str) else archive.url
    return run_cli(
        ["--user", "alice", "--source-url", source_url, "--destination-url", archive_url, *args],
        env,
    )


def test_first_run_archives_every_kind_of_event_and_a_rerun_writes_nothing(
    source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    first = archive_run(source, archive, env, *MARCH)
    assert first.exit_code == 0, first.stderr
    assert first.counts["created"] == len(EXPECTED_MARCH)
    assert first.counts["source_objects"] == len(SAMPLES)
    # The run cache's PROPFIND of each side (sync token; the archive's cache property), one
    # REPORT per side, exactly one conditional PUT per new object, then the archive's changes
    # since its token (only the run's own writes) and the PROPPATCH recording the cache.
    assert first.result["http_requests"] == 2 + 2 + len(EXPECTED_MARCH) + 2
    assert first.result["run_cache"] == {"read": "not used: none yet", "written": "recorded"}
    archived = copies(archive.items())
    assert set(archived) == EXPECTED_MARCH
    assert "BEGIN:VTIMEZONE\nTZID:America/New_York" in archived["new-york@example.org"]
    weekly = archived["weekly-london@example.org-20240304T090000Z"]
    assert "SCHEDULE-AGENT=NONE" in weekly and "SEQUENCE:2" in weekly
    assert "\nRRULE" not in weekly.split("BEGIN:VEVENT")[1]

    again = archive_run(source, archive, env, *MARCH)
    assert again.exit_code == 0
    assert again.counts["unchanged"] == len(EXPECTED_MARCH)
    assert again.counts["created"] == again.counts["updated"] == 0
    # The archive's PROPFIND (its token has not moved) and the source's sync-collection
    # (nothing changed): no calendar data read, nothing written.
    assert again.result["http_requests"] == 2
    assert again.result["run_cache"] == {"read": "used", "written": "unchanged"}
    assert copies(archive.items()) == archived


def test_series_mode_copies_masters_and_overrides_verbatim(
    source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    outcome = archive_run(source, archive, env, *MARCH, "--recurrence", "series")
    assert outcome.exit_code == 0, outcome.stderr
    archived = copies(archive.items())
    assert set(archived) == {
        "plain-utc@example.org", "all-day@example.org", "floating@example.org",
        "new-york@example.org", "weekly-london@example.org", "daily@example.org",
    }  # fmt: skip
    weekly = archived["weekly-london@example.org"]
    assert weekly.count("BEGIN:VEVENT") == 2
    assert "RRULE:FREQ=WEEKLY;COUNT=10" in weekly
    assert "RECURRENCE-ID;TZID=Europe/London:20240325T090000" in weekly
    assert (
        archive_run(source, archive, env, *MARCH, "--recurrence", "series").counts["unchanged"] == 6
    )


@pytest.mark.parametrize("policy", ["keep", "update"])
def test_edited_and_deleted_source_events(
    policy: str, source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    assert archive_run(source, archive, env, *MARCH).exit_code == 0
    source.seed("plain-utc.ics", sample("plain-utc.ics").replace("SUMMARY:Plain", "SUMMARY:Moved"))
    (source.path / "new-york.ics").unlink()

    outcome = archive_run(source, archive, env, *MARCH, "--on-change", policy)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.counts["source_missing"] == 1
    assert outcome.result["source_missing"] == ["new-york@example.org"]
    archived = copies(archive.items())
    assert set(archived) == EXPECTED_MARCH  # nothing deleted
    if policy == "keep":
        assert outcome.counts["changed_kept"] == 1 and outcome.counts["updated"] == 0
        assert "SUMMARY:Plain UTC" in archived["plain-utc@example.org"]
    else:
        assert outcome.counts["updated"] == 1 and outcome.counts["changed_kept"] == 0
        assert "SUMMARY:Moved UTC" in archived["plain-utc@example.org"]
        assert (
            archive_run(source, archive, env, *MARCH, "--on-change", policy).result["http_requests"]
            == 2
        )


def test_a_window_moving_forward_keeps_earlier_copies(
    source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    week1 = archive_run(source, archive, env, "--start", "2024-03-04", "--end", "2024-03-10")
    after_week1 = set(copies(archive.items()))
    week2 = archive_run(source, archive, env, "--start", "2024-03-11", "--end", "2024-03-17")
    assert week1.exit_code == week2.exit_code == 0
    after_week2 = set(copies(archive.items()))
    assert after_week1 < after_week2
    assert week2.counts["source_missing"] == 0
    assert "weekly-london@example.org-20240304T090000Z" in after_week2


def test_dst_days_in_two_zones(
    radicale: RadicaleServer, archive: Collection, env: dict[str, str]
) -> None:
    source = radicale.new_collection("dst")
    edges = {
        # Europe/London, Sunday 31 March 2024 (23 hours: 00:00Z .. 23:00Z)
        "london-in": ("20240331T223000Z", "20240331T224500Z"),  # 23:30 BST
        "london-out": ("20240331T233000Z", "20240331T234500Z"),  # 00:30 BST on 1 April
        # America/New_York, Sunday 10 March 2024 (23 hours: 05:00Z .. 04:00Z)
        "ny-in": ("20240311T033000Z", "20240311T034500Z"),  # 23:30 EDT
        "ny-out": ("20240311T043000Z", "20240311T044500Z"),  # 00:30 EDT on 11 March
        "ny-early-out": ("20240310T043000Z", "20240310T044500Z"),  # 23:30 EST on 9 March
    }
    for uid, (start, end) in edges.items():
        source.seed(f"{uid}.ics", event(uid, start, end))
    source.seed("daily.ics", sample("daily-open-ended.ics"))

    london = archive_run(
        source, archive, env, "--start", "2024-03-31", "--end", "2024-03-31",
        "--time-zone", "Europe/London",
    )  # fmt: skip
    assert london.exit_code == 0, london.stderr
    assert london.result["window"]["utc_end"] == "2024-03-31T23:00:00Z"
    assert set(copies(archive.items())) == {"london-in", "daily@example.org-20240331T083000Z"}

    ny_archive = radicale.new_collection("archive")
    new_york = archive_run(
        source, ny_archive, env, "--start", "2024-03-10", "--end", "2024-03-10",
        "--time-zone", "America/New_York",
    )  # fmt: skip
    assert new_york.exit_code == 0, new_york.stderr
    assert set(copies(ny_archive.items())) == {"ny-in", "daily@example.org-20240310T093000Z"}


def test_dry_run_reads_and_plans_but_writes_nothing(
    source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    outcome = archive_run(source, archive, env, *MARCH, "--dry-run")
    assert outcome.exit_code == 0
    assert outcome.result["dry_run"] is True
    assert outcome.counts["created"] == len(EXPECTED_MARCH)
    # each side's PROPFIND (the run cache: none yet) and REPORT; no write, no cache recorded
    assert outcome.result["http_requests"] == 4
    assert outcome.result["run_cache"]["written"] == "not recorded: the run did not complete"
    assert archive.items() == {}


def test_rejected_credentials_exit_4_without_leaking_them(
    source: Collection, archive: Collection
) -> None:
    env = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": "not-the-Pa55word"}
    outcome = archive_run(source, archive, env, *MARCH)
    assert outcome.exit_code == 4
    assert outcome.result["status"] == "failed"
    assert "rejected the credentials (HTTP 401)" in outcome.result["message"]
    assert "not-the-Pa55word" not in outcome.stderr + str(outcome.result)
    assert archive.items() == {}


def test_a_missing_archive_calendar_names_the_schedule_field(
    radicale: RadicaleServer, source: Collection, env: dict[str, str]
) -> None:
    """Under the operator the user never sees the runner's flags: the message names the
    ArchiveSchedule field the URL comes from too."""
    missing = source.url.rstrip("/").rsplit("/", 1)[0] + "/no-such-archive/"
    outcome = archive_run(source, missing, env, *MARCH)
    assert outcome.exit_code == 4, outcome.stderr
    message = outcome.result["message"]
    assert "archive calendar" in message and "not found (HTTP 404)" in message, message
    assert message.endswith(
        "check --destination-url / ARCHIVE_DESTINATION_URL (spec.destination.caldav.url)"
    ), message


def test_unreachable_server_exits_5(
    radicale: RadicaleServer, archive: Collection, env: dict[str, str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    # The archive (another origin than the source) has its own credentials: the only fault
    # is the unreachable source.
    own = {
        "ARCHIVE_DESTINATION_USERNAME": radicale.username,
        "ARCHIVE_DESTINATION_PASSWORD": "secret",
    }
    source = f"http://127.0.0.1:{closed_port}/alice/x/"
    outcome = archive_run(source, archive, {**env, **own}, *MARCH)
    assert outcome.exit_code == 5
    assert outcome.result["status"] == "failed"
    assert "unreachable" in outcome.result["message"]


def test_server_gone_mid_run_gives_a_partial_result_and_a_rerun_completes(
    radicale: RadicaleServer, source: Collection, archive: Collection, env: dict[str, str]
) -> None:
    written_before_cut = 5
    # only the archive goes through the proxy: its PROPFIND (the run cache) and REPORT, then
    # the PUTs. The proxy's port is another origin, which gets the source's credentials only
    # when given as its own.
    archive_env = {
        **env,
        "ARCHIVE_DESTINATION_USERNAME": radicale.username,
        "ARCHIVE_DESTINATION_PASSWORD": radicale.password,
    }
    with cutoff_proxy(radicale.port, allow=2 + written_before_cut) as proxy:
        archive_through_proxy = archive.url.replace(radicale.base_url, proxy)
        cut = archive_run(source, archive_through_proxy, archive_env, *MARCH)
    assert cut.exit_code == 5, cut.stderr
    assert cut.result["status"] == "partial"
    assert cut.counts["created"] == written_before_cut
    assert cut.counts["failed"] == len(EXPECTED_MARCH) - written_before_cut
    assert len(archive.items()) == written_before_cut

    rerun = archive_run(source, archive, env, *MARCH)
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.counts["unchanged"] == written_before_cut
    assert rerun.counts["created"] == len(EXPECTED_MARCH) - written_before_cut
    archived = archive.items()
    assert len(archived) == len(EXPECTED_MARCH)  # no duplicates
    assert set(copies(archived)) == EXPECTED_MARCH  # nothing lost


@pytest.mark.parametrize("policy", ["keep", "update"])
def test_an_event_moved_into_the_window_keeps_its_archived_day_and_gets_a_version(
    policy: str, radicale: RadicaleServer, archive: Collection, env: dict[str, str]
) -> None:
    """The first copy lies outside the archive query's range, so its create meets 412; the
    runner reads it, sees another start, and writes the June version under its own name and
    UID (a collection holds one object per UID). January stays as archived, whatever the
    policy: no run alters a day outside its window (issue 14)."""
    source = radicale.new_collection("work")
    source.seed("a.ics", event("a@x", "20240105T120000Z", "20240105T130000Z", "January"))
    january = ["--start", "2024-01-01", "--end", "2024-01-31"]
    assert archive_run(source, archive, env, *january).counts["created"] == 1
    source.seed("a.ics", event("a@x", "20240605T120000Z", "20240605T130000Z", "June"))

    june_window = ["--start", "2024-06-01", "--end", "2024-06-30", "--on-change", policy]
    june = archive_run(source, archive, env, *june_window)
    assert june.exit_code == 0, june.stderr
    assert june.counts["created"] == 1
    assert june.counts["updated"] == june.counts["changed_kept"] == 0
    archived = copies(archive.items())
    assert set(archived) == {"a@x", "a@x-moved-20240605T120000Z"}
    assert "SUMMARY:January" in archived["a@x"]
    assert "SUMMARY:June" in archived["a@x-moved-20240605T120000Z"]
    again = archive_run(source, archive, env, *june_window)
    assert again.counts["unchanged"] == 1 and again.result["http_requests"] == 2


def test_two_resources_with_one_uid_make_the_run_partial_and_name_both(
    radicale: RadicaleServer, archive: Collection, env: dict[str, str]
) -> None:
    source = radicale.new_collection("work")
    source.seed("a.ics", event("dup@x", "20240305T120000Z", "20240305T130000Z", "First"))
    source.seed("b.ics", event("dup@x", "20240306T120000Z", "20240306T130000Z", "Second"))
    outcome = archive_run(source, archive, env, *MARCH)
    assert outcome.exit_code == 3, outcome.result
    assert outcome.counts["created"] == 1 and outcome.counts["failed"] == 1
    (error,) = outcome.result["errors"]
    assert error["href"].endswith("/b.ics") and "/a.ics" in error["message"]
    assert "SUMMARY:First" in copies(archive.items())["dup@x"]
