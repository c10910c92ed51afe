"""A misbehaving CalDAV server (issue 14 items 2, 3, 4): the real Radicale behind a proxy that
answers 429/503/507, cuts a multistatus short, fails one object's propstat or hides ETags.

Server trouble that asks to come back later is waited out within the run's deadline and
otherwise makes the run retryable (exit 5); a read the server left incomplete is an error
(exit 3), never a success; an update is never sent without If-Match.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.fixtures.radicale import Collection, RadicaleServer

from .helpers import SAMPLES, Outcome, copies, drop_run_cache, event, run_cli, sample
from .test_caldav import EXPECTED_MARCH
from .trouble_proxy import (
    FORWARD,
    Action,
    Answer,
    TroubleProxy,
    every,
    failed_propstat,
    forward_all,
    nth,
    trouble_proxy,
    truncated,
    without_etags,
)

ENV = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": "secret"}
# Four single events, one a day; the run archives them under their own UIDs.
SMALL = {name: f"{name}@x" for name in ("a", "b", "c", "d")}
ALL_SMALL = set(SMALL.values())


@pytest.fixture
def proxy(radicale: RadicaleServer) -> Iterator[TroubleProxy]:
    with trouble_proxy(radicale.port) as started:
        yield started


@pytest.fixture
def small(radicale: RadicaleServer) -> Collection:
    collection = radicale.new_collection("work")
    for day, (name, uid) in enumerate(SMALL.items(), start=5):
        collection.seed(
            f"{name}.ics", event(uid, f"202403{day:02d}T120000Z", f"202403{day:02d}T130000Z")
        )
    return collection


@pytest.fixture
def archive(radicale: RadicaleServer) -> Collection:
    return radicale.new_collection("archive")


def path_of(collection: Collection) -> str:
    return urlsplit(collection.url).path


def run(
    radicale: RadicaleServer,
    source: Collection,
    archive: Collection,
    proxy: TroubleProxy | None,
    *args: str,
    env: dict[str, str] | None = None,
) -> Outcome:
    """A run with both sides through ``proxy`` (one origin: the archive gets the source's
    credentials), or straight to Radicale. The source's URL is part of every copy's name, so
    runs meant to find each other's copies all go through the proxy."""

    def url(collection: Collection) -> str:
        return collection.url.replace(radicale.base_url, proxy.url) if proxy else collection.url

    return run_cli(
        ["--user", "alice", "--source-url", url(source), "--destination-url", url(archive),
         "--start", "2024-03-01", "--end", "2024-03-31", *args],
        {**ENV, **(env or {})},
    )  # fmt: skip


def not_written(outcome: Outcome) -> list[dict[str, object]]:
    return [e for e in outcome.result["errors"] if str(e["message"]).startswith("not written: ")]


# --- item 2: retryable answers are waited out, or make the run retryable ---------------------


@pytest.mark.parametrize("retry_after", [{"Retry-After": "1"}, {}], ids=["retry-after", "backoff"])
def test_a_503_on_the_third_put_is_waited_out_and_every_copy_is_written_once(
    retry_after: dict[str, str],
    radicale: RadicaleServer,
    archive: Collection,
    proxy: TroubleProxy,
) -> None:
    source = radicale.new_collection("work")
    for name in SAMPLES:
        source.seed(name, sample(name))
    proxy.rule = nth("PUT", {3}, Answer(503, retry_after))

    outcome = run(radicale, source, archive, proxy, "--time-zone", "Europe/London")

    assert outcome.exit_code == 0, outcome.result
    assert outcome.counts["created"] == len(EXPECTED_MARCH) and outcome.counts["failed"] == 0
    puts = proxy.of("PUT")
    assert [p.status for p in puts] == [201, 201, 503] + [201] * (len(EXPECTED_MARCH) - 2)
    # The refused PUT is sent again, once, after the second Retry-After asked for (or the
    # first backoff step, 1 s, without one).
    assert puts[3].path == puts[2].path
    assert puts[3].at - puts[2].at >= 1.0
    archived = archive.items()
    assert len(archived) == len(EXPECTED_MARCH)
    assert set(copies(archived)) == EXPECTED_MARCH


def test_a_put_answered_429_past_the_deadline_exits_5_and_a_rerun_doubles_nothing(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    # From the third PUT on, 429 with a Retry-After far past the run's deadline (600 s by
    # default): no wait can end in time, so the run stops at once and asks to be retried.
    proxy.rule = nth("PUT", range(3, 100), Answer(429, {"Retry-After": "3600"}))

    limited = run(radicale, small, archive, proxy)

    assert limited.exit_code == 5, limited.result
    assert limited.result["status"] == "partial"
    message = limited.result["message"]
    assert "HTTP 429" in message and "Retry-After: 3600" in message, message
    assert limited.counts["created"] == 2 and limited.counts["failed"] == 2
    assert len(not_written(limited)) == 2
    assert [p.status for p in proxy.of("PUT")] == [201, 201, 429]  # not waited, not resent
    assert limited.result["duration_seconds"] < 30
    assert len(archive.items()) == 2

    proxy.rule = forward_all  # the server recovers: the Job's retry
    rerun = run(radicale, small, archive, proxy)
    assert rerun.exit_code == 0, rerun.result
    assert (rerun.counts["unchanged"], rerun.counts["created"]) == (2, 2)
    archived = archive.items()
    assert len(archived) == 4 and set(copies(archived)) == ALL_SMALL


def test_a_put_answered_507_until_the_deadline_exits_5_and_a_rerun_completes(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    # No Retry-After: the first backoff step (1 s) would end after a 1 s deadline counted
    # from the run's start, so the first 507 is final.
    proxy.rule = every("PUT", Answer(507))

    full = run(radicale, small, archive, proxy, env={"ARCHIVE_DEADLINE_SECONDS": "1"})

    assert full.exit_code == 5, full.result
    assert full.result["status"] == "failed"  # nothing written
    assert "HTTP 507" in full.result["message"], full.result["message"]
    assert full.counts["failed"] == 4 and len(not_written(full)) == 4
    assert [p.status for p in proxy.of("PUT")] == [507]
    assert archive.items() == {}

    proxy.rule = forward_all
    rerun = run(radicale, small, archive, proxy)
    assert rerun.exit_code == 0, rerun.result
    assert rerun.counts["created"] == 4
    assert set(copies(archive.items())) == ALL_SMALL


def test_a_read_answered_503_is_retried_before_the_run_gives_up(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    proxy.rule = nth("REPORT", {1}, Answer(503, {"Retry-After": "0"}), path=path_of(small))
    outcome = run(radicale, small, archive, proxy)
    assert outcome.exit_code == 0, outcome.result
    assert [r.status for r in proxy.of("REPORT") if r.path == path_of(small)] == [503, 207]
    assert set(copies(archive.items())) == ALL_SMALL


def test_a_read_still_answered_429_at_the_deadline_names_the_status_and_retry_after(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    proxy.rule = every("REPORT", Answer(429, {"Retry-After": "3600"}), path=path_of(small))
    outcome = run(radicale, small, archive, proxy)
    assert outcome.exit_code == 5, outcome.result
    assert outcome.result["status"] == "failed"
    message = outcome.result["message"]
    assert message.startswith(f"source calendar {proxy.url}{path_of(small)} answered HTTP 429")
    assert "Retry-After: 3600" in message, message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, b'<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
              b"<C:no-uid-conflict/></D:error>"),
        (400, b"bad request"),
        (415, b"unsupported calendar data"),
        (500, b"internal error"),  # usually the server failing on that object: not retried
    ],
)  # fmt: skip
def test_a_genuine_refusal_of_one_object_stays_partial(
    status: int,
    body: bytes,
    radicale: RadicaleServer,
    small: Collection,
    archive: Collection,
    proxy: TroubleProxy,
) -> None:
    proxy.rule = nth("PUT", {2}, Answer(status, {"Content-Type": "text/plain"}, body))
    outcome = run(radicale, small, archive, proxy)
    assert outcome.exit_code == 3, outcome.result
    assert outcome.result["status"] == "partial"
    assert (outcome.counts["created"], outcome.counts["failed"]) == (3, 1)
    (error,) = outcome.result["errors"]
    assert error["http_status"] == status
    assert len(proxy.of("PUT")) == 4  # refused once, not retried
    assert len(copies(archive.items())) == 3


def test_a_uid_conflict_on_the_real_server_stays_partial(
    radicale: RadicaleServer, small: Collection, archive: Collection
) -> None:
    """Radicale itself refuses a second object with a UID it holds (409 no-uid-conflict)."""
    archive.seed("foreign.ics", event("c@x", "20240101T120000Z", "20240101T130000Z"))
    outcome = run(radicale, small, archive, None)
    assert outcome.exit_code == 3, outcome.result
    (error,) = outcome.result["errors"]
    assert (error["uid"], error["http_status"]) == ("c@x", 409)
    assert outcome.counts["created"] == 3


# --- item 3: a read the server left incomplete is an error -----------------------------------


def test_a_source_multistatus_cut_short_with_507_is_partial_and_names_the_collection(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    proxy.rule = nth("REPORT", {1}, truncated(keep=2), path=path_of(small))
    outcome = run(radicale, small, archive, proxy)
    assert outcome.exit_code == 3, outcome.result
    assert outcome.result["status"] == "partial"
    assert outcome.counts["source_objects"] == 2
    assert (outcome.counts["created"], outcome.counts["failed"]) == (2, 1)
    (error,) = outcome.result["errors"]
    assert (error["href"], error["http_status"]) == (path_of(small), 507)
    assert "HTTP 507" in error["message"] and "incomplete" in error["message"], error
    archived = set(copies(archive.items()))
    assert len(archived) == 2 and archived < ALL_SMALL


@pytest.mark.parametrize(("code", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_a_failed_propstat_for_one_source_object_names_its_href(
    code: int,
    reason: str,
    radicale: RadicaleServer,
    small: Collection,
    archive: Collection,
    proxy: TroubleProxy,
) -> None:
    proxy.rule = nth("REPORT", {1}, failed_propstat("/b.ics", code, reason), path=path_of(small))
    outcome = run(radicale, small, archive, proxy)
    assert outcome.exit_code == 3, outcome.result
    assert outcome.result["status"] == "partial"
    (error,) = outcome.result["errors"]
    assert (error["href"], error["http_status"]) == (f"{path_of(small)}b.ics", code)
    assert f"HTTP {code}" in error["message"], error
    assert set(copies(archive.items())) == ALL_SMALL - {"b@x"}


def test_an_archive_multistatus_cut_short_is_partial_and_duplicates_nothing(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    assert run(radicale, small, archive, proxy).counts["created"] == 4
    drop_run_cache(archive.path)  # a re-run that reads the archive's copies (the full path)
    proxy.forget()
    proxy.rule = nth("REPORT", {1}, truncated(keep=1), path=path_of(archive))

    outcome = run(radicale, small, archive, proxy)

    assert outcome.exit_code == 3, outcome.result
    (error,) = outcome.result["errors"]
    assert (error["href"], error["http_status"]) == (path_of(archive), 507)
    # The three copies the read left out are found by their conditional creates (412).
    assert outcome.counts["unchanged"] == 4 and outcome.counts["created"] == 0
    assert [p.status for p in proxy.of("PUT")] == [412, 412, 412]
    archived = archive.items()
    assert len(archived) == 4 and set(copies(archived)) == ALL_SMALL


# --- item 4: never an unconditional update ---------------------------------------------------


def changed_source(small: Collection) -> None:
    small.seed("b.ics", event("b@x", "20240306T120000Z", "20240306T130000Z", "Moved"))


def test_an_update_without_any_etag_is_refused_and_not_sent(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    assert run(radicale, small, archive, proxy).exit_code == 0
    proxy.forget()
    changed_source(small)
    proxy.rule = lambda method, path, index: without_etags()  # REPORT, GET and PUT

    outcome = run(radicale, small, archive, proxy, "--on-change", "update")

    assert outcome.exit_code == 3, outcome.result
    assert (outcome.counts["updated"], outcome.counts["failed"]) == (0, 1)
    (error,) = outcome.result["errors"]
    assert error["uid"] == "b@x" and "no ETag" in error["message"], error
    assert proxy.of("PUT") == []  # nothing sent without If-Match
    assert [g.status for g in proxy.of("GET")] == [200]  # asked once for the ETag
    assert "SUMMARY:Event" in copies(archive.items())["b@x"]


def test_an_update_of_a_copy_read_without_etag_gets_it_first_and_sends_if_match(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    assert run(radicale, small, archive, proxy).exit_code == 0
    proxy.forget()
    changed_source(small)
    proxy.rule = every("REPORT", without_etags())  # the GET and the PUT see real ETags

    outcome = run(radicale, small, archive, proxy, "--on-change", "update")

    assert outcome.exit_code == 0, outcome.result
    assert outcome.counts["updated"] == 1
    (get,) = proxy.of("GET")
    (put,) = proxy.of("PUT")
    assert get.path == put.path and get.at < put.at
    assert put.headers.get("if-match", "").startswith('"'), put.headers
    assert "SUMMARY:Moved" in copies(archive.items())["b@x"]


def test_an_update_of_a_copy_changed_since_it_was_read_is_not_sent(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    """The read gave no ETag; someone edits the copy before the GET that fetches one: the
    ETag then belongs to a version the run never compared, so it is not overwritten."""
    assert run(radicale, small, archive, proxy).exit_code == 0
    proxy.forget()
    changed_source(small)
    (name,) = (n for n, text in archive.items().items() if "UID:b@x" in text)
    edited = archive.items()[name].replace("SUMMARY:Event", "SUMMARY:Edited by hand")

    def rule(method: str, path: str, index: int) -> Action:
        if method == "REPORT":
            return without_etags()
        if method == "GET":
            archive.seed(name, edited)  # the concurrent change
        return FORWARD

    proxy.rule = rule
    outcome = run(radicale, small, archive, proxy, "--on-change", "update")

    assert outcome.exit_code == 3, outcome.result
    (error,) = outcome.result["errors"]
    assert error["uid"] == "b@x" and "changed" in error["message"], error
    assert proxy.of("PUT") == []
    assert "SUMMARY:Edited by hand" in copies(archive.items())["b@x"]


def test_an_update_of_a_copy_deleted_since_it_was_read_puts_it_back_only_if_absent(
    radicale: RadicaleServer, small: Collection, archive: Collection, proxy: TroubleProxy
) -> None:
    assert run(radicale, small, archive, proxy).exit_code == 0
    proxy.forget()
    changed_source(small)
    (name,) = (n for n, text in archive.items().items() if "UID:b@x" in text)

    def rule(method: str, path: str, index: int) -> Action:
        if method == "REPORT":
            return without_etags()
        if method == "GET":
            (archive.path / name).unlink()  # deleted by someone else meanwhile
        return FORWARD

    proxy.rule = rule
    outcome = run(radicale, small, archive, proxy, "--on-change", "update")

    assert outcome.exit_code == 0, outcome.result
    assert [g.status for g in proxy.of("GET")] == [404]
    (put,) = proxy.of("PUT")
    assert put.headers.get("if-none-match") == "*" and "if-match" not in put.headers
    assert "SUMMARY:Moved" in copies(archive.items())["b@x"]
