"""Fault injection: the calendar server really stops in the middle of a run's writes.

The run is stopped at a deterministic point: the runner's progress callback (called after
each completed write) stops the Radicale process after the N-th write, and waits until it is
gone. Then: a partial result with exit code 5 (docs/runner.md), a re-run against the
restarted server completes, and the archive's UID set is exactly the expected set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_runner import cli

from .helpers import SAMPLES, copies, sample
from .stoppable_radicale import StoppableRadicale
from .test_caldav import EXPECTED_MARCH, MARCH, archive_run

WRITES_BEFORE_STOP = 7
ENV = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": "secret"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StoppableRadicale]:
    radicale = StoppableRadicale(tmp_path / "radicale")
    radicale.start()
    try:
        yield radicale
    finally:
        radicale.stop("kill")


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_server_stopped_mid_run_then_a_rerun_completes_with_the_expected_uids(
    how: str, server: StoppableRadicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = server.new_collection("work")
    for name in SAMPLES:
        source.seed(name, sample(name))
    archive = server.new_collection("archive")

    def stop_the_server(done: int, total: int) -> None:
        if done == WRITES_BEFORE_STOP:
            server.stop(how)

    monkeypatch.setattr(cli, "tty_progress", lambda: stop_the_server)
    cut = archive_run(source, archive, ENV, *MARCH)
    monkeypatch.setattr(cli, "tty_progress", lambda: None)

    assert cut.exit_code == 5, cut.stderr  # unreachable: worth retrying
    assert cut.result["status"] == "partial"
    assert "unreachable" in cut.result["message"]
    assert cut.counts["created"] == WRITES_BEFORE_STOP
    assert cut.counts["failed"] == len(EXPECTED_MARCH) - WRITES_BEFORE_STOP
    assert cut.result["errors_total"] == len(EXPECTED_MARCH) - WRITES_BEFORE_STOP
    assert all(e["message"].startswith("not written") for e in cut.result["errors"])
    written = copies(archive.items())
    assert len(written) == WRITES_BEFORE_STOP and set(written) < EXPECTED_MARCH

    server.start()
    rerun = archive_run(source, archive, ENV, *MARCH)
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.counts["unchanged"] == WRITES_BEFORE_STOP
    assert rerun.counts["created"] == len(EXPECTED_MARCH) - WRITES_BEFORE_STOP
    archived = archive.items()
    assert len(archived) == len(EXPECTED_MARCH)  # nothing duplicated
    assert set(copies(archived)) == EXPECTED_MARCH  # nothing lost, nothing extra
    assert {k: v for k, v in copies(archived).items() if k in written} == written  # untouched

    settled = archive_run(source, archive, ENV, *MARCH)
    assert settled.exit_code == 0
    assert settled.counts["unchanged"] == len(EXPECTED_MARCH)
    assert settled.result["http_requests"] == 2
