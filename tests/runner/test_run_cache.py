"""The run cache (issue 14, item 5): a re-run of a window reads and writes only what changed,
and a lost, stale or forged cache costs speed, never correctness. Against a real Radicale; the
requests are counted by a forwarding proxy (tests/runner/trouble_proxy.py) that notes which
answers carried calendar data.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from archive_runner import cache, cli
from archive_runner.ical import digest
from archive_runner.window import Window

from tests.fixtures.radicale import Collection, RadicaleServer

from .helpers import Outcome, copies, drop_run_cache, event, run_cli
from .trouble_proxy import TroubleProxy, every, trouble_proxy, without_ctag

ENV = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": "secret"}
EVENTS = 30  # one a day in March, at noon UTC
MARCH = Window(date(2024, 3, 1), date(2024, 3, 31), ZoneInfo("UTC"))


def seed_event(source: Collection, n: int, summary: str = "Event", day: int | None = None) -> None:
    day = day or n
    start, end = f"202403{day:02d}T120000Z", f"202403{day:02d}T130000Z"
    source.seed(f"e{n}.ics", event(f"e{n}@x", start, end, summary))


@pytest.fixture
def source(radicale: RadicaleServer) -> Collection:
    collection = radicale.new_collection("work")
    for n in range(1, EVENTS + 1):
        seed_event(collection, n)
    return collection


@pytest.fixture
def archive(radicale: RadicaleServer) -> Collection:
    return radicale.new_collection("archive")


@pytest.fixture
def proxy(radicale: RadicaleServer) -> Iterator[TroubleProxy]:
    with trouble_proxy(radicale.port) as started:
        yield started


def run(
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy,
    *args: str,
    env: dict[str, str] | None = None,
) -> Outcome:
    """A run of March through the proxy (both sides, so every request is seen)."""
    outcome = run_cli(
        ["--user", "alice",
         "--source-url", source.url.replace(radicale.base_url, proxy.url),
         "--destination-url", archive.url.replace(radicale.base_url, proxy.url),
         "--start", "2024-03-01", "--end", "2024-03-31", "--time-zone", "UTC",
         "--on-change", "update", *args],
        {**ENV, **(env or {})},
    )  # fmt: skip
    assert outcome.exit_code == 0, (outcome.stderr, outcome.result)
    return outcome


def requests(proxy: TroubleProxy) -> list[str]:
    return [seen.method for seen in proxy.seen]


def test_a_no_change_rerun_reads_no_calendar_data_and_writes_nothing(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    first = run(radicale, source, archive, proxy)
    assert first.counts["created"] == EVENTS
    assert first.result["run_cache"] == {"read": "not used: none yet", "written": "recorded"}
    proxy.forget()

    again = run(radicale, source, archive, proxy)

    # The archive's PROPFIND (cache and sync token), the source's PROPFIND (its CTag, the same
    # as the cache's): that is all, no sync-collection.
    assert [(seen.method, seen.path) for seen in proxy.seen] == [
        ("PROPFIND", urlsplit(archive.url).path),
        ("PROPFIND", urlsplit(source.url).path),
    ]
    assert not any(seen.calendar_data for seen in proxy.seen)
    assert again.result["run_cache"] == {"read": "used", "written": "unchanged"}
    assert again.counts["unchanged"] == again.counts["occurrences"] == EVENTS
    assert again.counts["created"] == again.counts["updated"] == 0


@pytest.mark.parametrize("changed", [1, 4])
def test_k_changes_cost_k_writes_and_a_fixed_number_of_other_requests(
    changed: int,
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy,
) -> None:
    run(radicale, source, archive, proxy)
    for n in range(1, changed + 1):
        seed_event(source, n, summary="Edited")
    (source.path / f"e{EVENTS}.ics").unlink()  # and one deleted at the source
    proxy.forget()

    outcome = run(radicale, source, archive, proxy)

    # PROPFIND (archive), PROPFIND (the source's CTag, changed), sync-collection (source),
    # multiget (source), multiget (archive), one PUT per change, sync-collection (archive: only
    # the run's writes), PROPPATCH.
    before_writes = ["PROPFIND", "PROPFIND", "REPORT", "REPORT", "REPORT"]
    assert requests(proxy) == before_writes + ["PUT"] * changed + ["REPORT", "PROPPATCH"]
    assert sum(seen.calendar_data for seen in proxy.seen) == 2  # the two multigets only
    assert outcome.counts["updated"] == changed
    assert outcome.counts["unchanged"] == EVENTS - 1 - changed
    assert outcome.result["source_missing"] == [f"e{EVENTS}@x"]  # kept, and reported
    archived = copies(archive.items())
    assert len(archived) == EVENTS
    assert all("SUMMARY:Edited" in archived[f"e{n}@x"] for n in range(1, changed + 1))
    # What the full path would do now: nothing.
    drop_run_cache(archive.path)
    full = run(radicale, source, archive, proxy)
    assert full.counts["created"] == full.counts["updated"] == 0
    assert full.counts["unchanged"] == EVENTS - 1


def test_a_copy_deleted_from_the_archive_since_is_restored(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    run(radicale, source, archive, proxy)
    victim = next(name for name, text in archive.items().items() if "UID:e7@x" in text)
    (archive.path / victim).unlink()  # by a calendar client, say: the cache is now stale

    outcome = run(radicale, source, archive, proxy)

    assert (
        outcome.result["run_cache"]["read"] == "not used: the archive changed since it was recorded"
    )
    assert outcome.counts["created"] == 1
    assert set(copies(archive.items())) == {f"e{n}@x" for n in range(1, EVENTS + 1)}


def read_tokens(radicale: RadicaleServer, *collections: Collection) -> list[str]:
    tokens = []
    for collection in collections:
        answer = httpx.request(
            "PROPFIND",
            collection.url,
            auth=("alice", "secret"),
            headers={"Depth": "0"},
            content=b'<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>',
        )
        found = re.search(r"<(?:\w+:)?sync-token>([^<]+)<", answer.text)
        assert found is not None, answer.text
        tokens.append(found.group(1))
    return tokens


def test_a_source_without_ctag_is_asked_for_its_changes_each_time(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    """A server that gives no CTag: the cache holds none, and a re-run asks for the changes
    since the token (and so still finds a change made since)."""
    proxy.rule = every("PROPFIND", without_ctag())
    run(radicale, source, archive, proxy)
    seed_event(source, 5, summary="Edited")
    proxy.forget()

    changed = run(radicale, source, archive, proxy)
    again = run(radicale, source, archive, proxy)

    assert changed.counts["updated"] == 1
    assert "SUMMARY:Edited" in copies(archive.items())["e5@x"]
    assert again.result["run_cache"] == {"read": "used", "written": "unchanged"}
    # Each re-run: the archive's PROPFIND, then the sync-collection (no CTag to ask for).
    assert requests(proxy)[:2] == ["PROPFIND", "REPORT"]
    assert requests(proxy)[-2:] == ["PROPFIND", "REPORT"]


def test_a_new_source_ctag_without_changed_objects_is_recorded_once(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    """The source calendar renamed (a property: its CTag changes, no object does): the next
    run finds no change and records the new CTag, so the run after it asks nothing more."""
    run(radicale, source, archive, proxy)
    props = json.loads((source.path / ".Radicale.props").read_text("utf-8"))
    props["D:displayname"] = "Work (renamed)"
    (source.path / ".Radicale.props").write_text(json.dumps(props), "utf-8")
    proxy.forget()

    renamed = run(radicale, source, archive, proxy)
    after = requests(proxy)
    proxy.forget()
    again = run(radicale, source, archive, proxy)

    assert after == ["PROPFIND", "PROPFIND", "REPORT", "PROPPATCH"]
    assert renamed.result["run_cache"] == {"read": "used", "written": "recorded"}
    assert requests(proxy) == ["PROPFIND", "PROPFIND"]
    assert again.result["run_cache"] == {"read": "used", "written": "unchanged"}
    assert again.counts["unchanged"] == EVENTS


def test_a_forged_cache_claiming_everything_is_archived_is_not_used(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    """Someone who can write the archive's properties but lacks the run's credentials (another
    client of a shared archive) writes a cache that says "nothing to do" for the current
    tokens, after an event the archive does not have was added at the source."""
    run(radicale, source, archive, proxy)
    source.seed("new.ics", event("new@x", "20240315T080000Z", "20240315T090000Z", "New"))
    source_token, archive_token = read_tokens(radicale, source, archive)
    source_id = digest(f"caldav:{source.url.replace(radicale.base_url, proxy.url)}", length=16)
    scope = cache.scope_of(source_id, MARCH, "occurrences", "update")  # nothing secret in it
    forged = cache.RunCache(scope, source_token, archive_token, copies={})
    _set_property(archive, cache.encode(forged, cache.key_of(["another password"], source_id)))

    outcome = run(radicale, source, archive, proxy)

    assert outcome.result["run_cache"]["read"] == (
        "not used: unreadable, or not written with this run's credentials"
    )
    assert outcome.counts["created"] == 1
    assert "new@x" in copies(archive.items())


def _props(archive: Collection) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((archive.path / ".Radicale.props").read_text("utf-8"))
    return loaded


def _set_property(archive: Collection, value: str) -> None:
    props = {k: (value if "run-cache" in k else v) for k, v in _props(archive).items()}
    (archive.path / ".Radicale.props").write_text(json.dumps(props), "utf-8")


def test_a_source_token_the_server_forgot_takes_the_full_path(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    run(radicale, source, archive, proxy)
    seed_event(source, 3, summary="Edited")
    shutil.rmtree(source.path / ".Radicale.cache" / "sync-token")  # the server forgot them

    outcome = run(radicale, source, archive, proxy)

    assert outcome.result["run_cache"]["read"] == (
        "not used: the source no longer knows the cache's sync token"
    )
    assert outcome.counts["updated"] == 1
    assert "SUMMARY:Edited" in copies(archive.items())["e3@x"]


def test_another_window_takes_the_full_path(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    run(radicale, source, archive, proxy)
    outcome = run(radicale, source, archive, proxy, "--end", "2024-03-15")
    assert outcome.result["run_cache"]["read"] == (
        "not used: made for another window, source, mode or policy"
    )
    assert outcome.counts["unchanged"] == 15


def test_a_change_made_during_a_run_is_in_the_next_runs_changes(
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The source's token is read before its objects: an edit made after the read (here,
    during the writes) is not archived by this run, and the next run sees it."""

    def edit_the_source(done: int, total: int) -> None:
        if done == 1:
            seed_event(source, 9, summary="Edited during the run")

    monkeypatch.setattr(cli, "tty_progress", lambda: edit_the_source)
    run(radicale, source, archive, proxy)
    monkeypatch.setattr(cli, "tty_progress", lambda: None)
    assert "SUMMARY:Edited during the run" not in copies(archive.items())["e9@x"]

    outcome = run(radicale, source, archive, proxy)

    assert outcome.result["run_cache"]["read"] == "used"
    assert outcome.counts["updated"] == 1
    assert "SUMMARY:Edited during the run" in copies(archive.items())["e9@x"]


def test_an_archive_changed_by_someone_else_during_a_run_records_no_cache(
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def delete_a_copy(done: int, total: int) -> None:
        if done == 2:
            (first,) = [n for n, text in archive.items().items() if "UID:e1@x" in text]
            (archive.path / first).unlink()

    monkeypatch.setattr(cli, "tty_progress", lambda: delete_a_copy)
    first = run(radicale, source, archive, proxy)
    monkeypatch.setattr(cli, "tty_progress", lambda: None)
    assert (
        first.result["run_cache"]["written"] == "not recorded: the archive changed during the run"
    )

    again = run(radicale, source, archive, proxy)
    assert again.result["run_cache"]["read"] == "not used: none yet"
    assert again.counts["created"] == 1  # the deleted copy, restored
    assert set(copies(archive.items())) == {f"e{n}@x" for n in range(1, EVENTS + 1)}


COUNTED = ("created", "updated", "unchanged", "changed_kept")


@pytest.mark.parametrize(("seed", "policy"), [(0, "update"), (1, "update"), (2, "keep")])
def test_the_cache_never_changes_what_a_run_archives(
    seed: int, policy: str, radicale: RadicaleServer, source: Collection, proxy: TroubleProxy
) -> None:
    """Differential: the same random edits, each followed by a run into two archives, one
    using its cache and one whose cache is dropped before every run (the full path). The two
    archives and the runs' counts must be the same throughout."""
    rng = random.Random(seed)
    cached, full = (radicale.new_collection(name) for name in ("cached", "full"))
    for step in range(8):
        for _ in range(rng.randint(0, 3)):
            n = rng.randint(1, EVENTS + 5)
            if rng.random() < 0.2 and (source.path / f"e{n}.ics").exists():
                (source.path / f"e{n}.ics").unlink()
            else:
                seed_event(source, n, f"Step {step}", day=rng.randint(1, 31))
        if step:
            drop_run_cache(full.path)
        with_cache = run(radicale, source, cached, proxy, "--on-change", policy)
        without = run(radicale, source, full, proxy, "--on-change", policy)
        assert without.result["run_cache"]["read"] == "not used: none yet"
        counts = {k: with_cache.counts[k] for k in COUNTED}
        assert counts == {k: without.counts[k] for k in COUNTED}, (seed, step)
        assert _content(cached) == _content(full), (seed, step)


def _content(archive: Collection) -> dict[str, str]:
    """Copies by name, without the run id (each run writes its own)."""
    return {
        name: re.sub(r"X-ARCHIVE-RUN-ID:[^\r\n]*\r?\n", "", text)
        for name, text in archive.items().items()
    }


def test_a_change_kept_under_policy_keep_is_not_read_again(
    radicale: RadicaleServer, source: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    """Under keep nothing is written for an edited event; the cache still moves on to the
    source's new token, or every later re-run would read the same edit again."""
    run(radicale, source, archive, proxy, "--on-change", "keep")
    seed_event(source, 3, summary="Edited")
    kept = run(radicale, source, archive, proxy, "--on-change", "keep")
    assert kept.counts["changed_kept"] == 1
    assert kept.result["run_cache"] == {"read": "used", "written": "recorded"}
    proxy.forget()

    again = run(radicale, source, archive, proxy, "--on-change", "keep")

    assert requests(proxy) == ["PROPFIND", "PROPFIND"]  # the source's CTag is the cache's
    # Counted as the full path counts them: the edited event's copy differs and is kept.
    assert again.counts["unchanged"] == EVENTS - 1 and again.counts["changed_kept"] == 1


def test_a_copy_edited_by_someone_else_after_the_run_wrote_it_records_no_cache(
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The edited copy is among the archive's changes under the run's own name, so only its
    ETag (not the one the run's PUT got) tells the edit from the run's write."""

    def edit_a_copy(done: int, total: int) -> None:
        if done == 2:
            (name,) = [n for n, text in archive.items().items() if "UID:e1@x" in text]
            archive.seed(name, archive.items()[name].replace("SUMMARY:Event", "SUMMARY:By hand"))

    monkeypatch.setattr(cli, "tty_progress", lambda: edit_a_copy)
    first = run(radicale, source, archive, proxy)
    monkeypatch.setattr(cli, "tty_progress", lambda: None)
    assert (
        first.result["run_cache"]["written"] == "not recorded: the archive changed during the run"
    )

    again = run(radicale, source, archive, proxy)  # the full path
    assert again.result["run_cache"]["read"] == "not used: none yet"
    # Like every run, it trusts a copy's X-ARCHIVE-SOURCE-HASH: the hand edit stays.
    assert again.counts["unchanged"] == EVENTS and again.counts["updated"] == 0
    assert "SUMMARY:By hand" in copies(archive.items())["e1@x"]
