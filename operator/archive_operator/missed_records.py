"""Act on missed scheduled times: check each entry (missed.py), create the Skipped records,
announce what is not recorded, count them in the metrics.

Used by the run lifecycle (runs.py) under the schedule's lock, before the lifecycle plan: the
records it creates are then followed like every run (phase Skipped, RunSkipped Events,
history).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from . import constants as c
from . import missed
from .api.run import ArchiveRun
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus
from .errors import Conflict
from .jobs import JobView
from .kube import Kube
from .lifecycle import scheduled_record, scheduled_window
from .render import ResolvedEntry, involved_schedule

log = logging.getLogger(__name__)

Manifest = dict[str, Any]
EventPoster = Callable[[Manifest, str, str, str], None]  # involved, type, reason, message


class MissedObserver(Protocol):
    def missed(self, namespace: str, schedule: str, reason: str, count: int) -> None: ...


class MissedRecorder:
    def __init__(
        self, kube: Kube, post_event: EventPoster, observer: MissedObserver, since: datetime
    ) -> None:
        self.kube = kube
        self.post_event = post_event
        self.observer = observer
        self.since = since  # when this operator process started (missed.OPERATOR_DOWN)

    def check(
        self,
        schedule: ArchiveSchedule,
        previous: ArchiveScheduleStatus,
        status: ArchiveScheduleStatus,
        resolved: list[ResolvedEntry],
        cronjobs: dict[str, Manifest],
        runs: list[ArchiveRun],
        jobs: list[JobView],
        now: datetime,
    ) -> dict[str, missed.EntryCheck]:
        """Each entry's missed times (by entry name), from its CronJob as it is now."""
        watermarks = {e.name: e.last_checked_time for e in status.schedules}
        checks = {}
        for item in resolved:
            manifest = cronjobs.get(item.cronjob_name)
            if manifest is None:
                continue
            name = item.entry.name
            checks[name] = missed.check_entry(
                missed.cronjob_state(manifest),
                missed.entry_history(name, item.cronjob_name, runs, jobs),
                watermarks.get(name),
                now,
                operator_since=self.since,
                resumed=missed.was_suspended(previous, name),
                limit=schedule.spec.history.failed_runs,
            )
        return checks

    def record(
        self,
        schedule: ArchiveSchedule,
        resolved: list[ResolvedEntry],
        checks: dict[str, missed.EntryCheck],
    ) -> bool:
        """Create the Skipped record of each newly missed time; True if any was created."""
        created = False
        for item in resolved:
            check = checks.get(item.entry.name)
            if check is None:
                continue
            for time in check.to_record:
                start, end = scheduled_window(schedule, time.time, item.day_shift)
                message = (
                    f"{time.message}; days of {start.isoformat()}..{end.isoformat()} no other "
                    "run archives get a catch-up run (status.coverage)"
                )
                annotations = {
                    c.ANNOTATION_MISSED_REASON: time.reason,
                    c.ANNOTATION_MISSED_MESSAGE: message,
                }
                manifest = scheduled_record(
                    schedule, time.name, item.entry.name, time.time, item.day_shift, annotations
                )
                try:
                    self.kube.create_run(manifest)
                except Conflict:
                    continue  # recorded meanwhile, or its Job's record exists: never twice
                created = True
            if check.unrecorded:
                first, last = check.missed[0].time, check.missed[-1].time
                self.post_event(
                    involved_schedule(schedule),
                    "Warning",
                    "TooManyMissedTimes",
                    f"entry {item.entry.name}: {len(check.missed)} scheduled times from "
                    f"{_stamp(first)} to {_stamp(last)} were not started; the newest "
                    f"{len(check.to_record)} are recorded as Skipped ArchiveRuns (at most "
                    f"{missed.MAX_RECORDS_PER_ENTRY} per entry and reconcile, and no more than "
                    "spec.history.failedRuns); status.missedRuns counts them all",
                )
        return created

    def observe(self, schedule: ArchiveSchedule, checks: dict[str, missed.EntryCheck]) -> None:
        by_reason: dict[str, int] = {}
        for check in checks.values():
            for time in check.missed:
                if not time.recorded:
                    by_reason[time.reason] = by_reason.get(time.reason, 0) + 1
        meta = schedule.metadata
        try:
            for reason, count in sorted(by_reason.items()):
                self.observer.missed(meta.namespace, meta.name, reason, count)
        except Exception:  # metrics never fail a reconcile
            log.exception("counting the missed runs of %s/%s failed", meta.namespace, meta.name)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
