"""status.archived of a finished run: the events of its days the archive holds as the source has
them (created + updated + unchanged), so a re-run of a day already archived does not read as
"ARCHIVED 0" (issue 15 item 6)."""

from __future__ import annotations

from archive_operator.lifecycle import plan_lifecycle

from .test_lifecycle import NOW, job, run, schedule


def _finished_with(counts: dict[str, int]) -> int | None:
    started = run("r1", status={"phase": "Running", "jobName": "r1"})
    message = {"status": "succeeded", "exit_code": 0, "message": None, "counts": counts}
    finished = job("r1", finished="Complete", message=message)
    status = plan_lifecycle(schedule(), [started], [finished], NOW).statuses["r1"]
    assert status.phase == "Succeeded"
    return status.archived


def test_an_idempotent_rerun_counts_the_unchanged_events_as_archived() -> None:
    counts = {"source_objects": 3, "created": 0, "updated": 0, "unchanged": 3}
    assert _finished_with(counts) == 3


def test_archived_adds_created_updated_and_unchanged_but_not_kept_or_failed() -> None:
    counts = {
        "source_objects": 9,
        "created": 2,
        "updated": 1,
        "unchanged": 4,
        "changed_kept": 5,  # the source changed, the archive keeps the older copy
        "failed": 7,
    }
    assert _finished_with(counts) == 7  # 2 + 1 + 4
