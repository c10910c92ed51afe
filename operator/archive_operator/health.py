"""The Healthy condition of an ArchiveSchedule: are its runs succeeding, and on time?

Pure: no I/O and no clock reads; the caller (a periodic check in the operator) passes ``now``.

In order of precedence, Healthy is

1. False, ``NotReady``: the Ready condition is False (the CronJobs cannot match the spec);
2. False, ``RunsBlocked``: a run is Blocked, its pod cannot start (a missing credentials
   Secret, an image that cannot be pulled, no node for it: blocked_runs.py); the message names
   the run and the pod's reason (with the Secret, where the kubelet or the pod names one). It
   clears once the pod starts, and it applies to suspended schedules too (their manual runs
   still run);
3. True, ``Suspended``: ``spec.suspend`` is set, so nothing is expected to run;
4. False, ``FailingRepeatedly``: ``consecutiveFailures`` reached the threshold (3);
5. False, ``MissingRuns``: ``consecutiveMissed`` reached the same threshold: that many
   scheduled times in a row were not started by the CronJobs (missed.py). Skipped runs are not
   failures, so they never count in ``consecutiveFailures``, but runs that keep being skipped
   are an alarm even when the runs that do start succeed;
6. False, ``DaysNotArchived``: a local day the schedule owes is still not archived
   ``grace`` after its due time — when the schedule's own runs had their last chance at it and
   a catch-up run should have closed it (coverage.py). A day in progress (a run archiving it)
   does not count, and a DST day is never a false alarm: its gap is due at the time the clock
   would have shown, and the catch-up closes it;
7. True, ``RunsSucceeding`` (a success is on record), ``NoSuccessYet`` (only failures so far,
   fewer than the threshold) or ``NoRunsYet``.

Health used to compare the age of the last success with the schedule's longest interval
("Overdue"); a day is the unit users are promised, so health now reads coverage instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from .api.base import Condition
from .api.schedule import ArchiveSchedule, CoverageGap
from .coverage import RUN_IN_PROGRESS
from .status import READY, ReadyState, set_condition

HEALTHY = "Healthy"
FAILURE_THRESHOLD = 3


def healthy_condition(
    schedule: ArchiveSchedule,
    now: datetime,
    *,
    grace: timedelta,
    failure_threshold: int = FAILURE_THRESHOLD,
    blocked: Sequence[tuple[str, str]] = (),
    gaps: Sequence[CoverageGap] = (),
) -> Condition:
    """The Healthy condition as of ``now`` (see the module doc for the rules).

    ``grace``: how long a gap may stay open after its due time. ``blocked``: (run name, its
    status message) of each Blocked run. ``gaps``: the schedule's coverage gaps, oldest first.
    lastTransitionTime is kept when the status (True/False) does not change.
    """
    now = _as_utc(now)
    state = health_state(
        schedule,
        now,
        grace=grace,
        failure_threshold=failure_threshold,
        blocked=blocked,
        gaps=gaps,
    )
    conditions = set_condition(
        schedule.status.conditions, HEALTHY, state, schedule.metadata.generation, now
    )
    return next(c for c in conditions if c.type == HEALTHY)


def health_state(
    schedule: ArchiveSchedule,
    now: datetime,
    *,
    grace: timedelta,
    failure_threshold: int,
    blocked: Sequence[tuple[str, str]] = (),
    gaps: Sequence[CoverageGap] = (),
) -> ReadyState:
    status = schedule.status
    ready = status.condition(READY)
    if ready is not None and ready.status == "False":
        return ReadyState("False", "NotReady", f"Ready is False ({ready.reason}): {ready.message}")
    if blocked:
        first, message = sorted(blocked)[0]
        others = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        return ReadyState("False", "RunsBlocked", f"run {first}{others} is Blocked: {message}")
    if schedule.spec.suspend:
        return ReadyState("True", "Suspended", "Suspended: no scheduled runs are expected")

    last_success = _aware(status.last_successful_time)
    failures = status.consecutive_failures or 0
    since_success = (
        f"last success {_stamp(last_success)}" if last_success else "no successful run yet"
    )
    if failures >= failure_threshold:
        last_failure = _aware(status.last_failure_time)
        when = f", the last at {_stamp(last_failure)}" if last_failure else ""
        return ReadyState(
            "False",
            "FailingRepeatedly",
            f"{failures} runs in a row failed{when} (alarm at {failure_threshold}); "
            f"{since_success}",
        )

    missed = status.consecutive_missed or 0
    if missed >= failure_threshold:
        last_missed = _aware(status.last_missed_time)
        when = f", the last at {_stamp(last_missed)}" if last_missed else ""
        return ReadyState(
            "False",
            "MissingRuns",
            f"{missed} scheduled runs in a row were not started{when} (alarm at "
            f"{failure_threshold}); their Skipped ArchiveRuns give the reasons; {since_success}",
        )

    late = [
        g
        for g in gaps
        if g.reason != RUN_IN_PROGRESS and g.due_time is not None and g.due_time + grace < now
    ]
    if late:
        missing = sum((g.end - g.start).days + 1 for g in late)
        oldest = late[0]
        days = oldest.start.isoformat() + (
            f"..{oldest.end.isoformat()}" if oldest.end != oldest.start else ""
        )
        return ReadyState(
            "False",
            "DaysNotArchived",
            f"{missing} local day{'s' if missing != 1 else ''} not archived more than "
            f"{_span(grace)} after their last scheduled chance, the oldest {days} "
            f"({oldest.reason}: {oldest.message}); catch-up runs retry with backoff",
        )

    failed = f"; {failures} recent run{'s' if failures != 1 else ''} failed" if failures else ""
    if missed:
        failed += f"; {missed} scheduled run{'s' if missed != 1 else ''} not started"
    if last_success is not None:
        # No "(3h ago)": a message that changes with time alone would make every resync write
        # the status of every schedule (the time is absolute; clients show the age).
        return ReadyState("True", "RunsSucceeding", f"{since_success}{failed}")
    if failures:
        return ReadyState("True", "NoSuccessYet", f"{since_success}{failed}")
    return ReadyState("True", "NoRunsYet", "No run has finished yet")


def _as_utc(moment: datetime) -> datetime:
    """Times without a zone are UTC (Kubernetes times always are)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else _as_utc(moment)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _span(duration: timedelta) -> str:
    """Human duration with at most two units: "3 days", "1 day 2h", "5h 30min", "45min"."""
    minutes = max(int(duration.total_seconds()) // 60, 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        text = f"{days} day{'s' if days != 1 else ''}"
        return f"{text} {hours}h" if hours else text
    if hours:
        return f"{hours}h {minutes}min" if minutes else f"{hours}h"
    return f"{minutes}min"
