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
6. False, ``Overdue``: the last success (or, before the first one, the creation of the schedule)
   is older than the longest interval between the schedule's runs plus a grace;
7. True, ``RunsSucceeding`` (a success is on record), ``NoSuccessYet`` (only failures so far,
   fewer than the threshold) or ``NoRunsYet``.

The interval is the longest gap between consecutive runs of all entries together, measured as
a UTC duration: a daily entry is 24 h, a weekly one the longest gap between its days, a cron
entry the longest gap between its runs (sampled with archive_operator.schedule, in UTC). DST
therefore never changes the interval; the grace absorbs the hour a DST change adds to one day,
the run's own duration and its start-up time. A schedule without entries (manual runs only) is
never Overdue: its health depends on failures and on Ready only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from .api.base import Condition
from .api.schedule import ArchiveSchedule
from .errors import SpecError
from .render import resolve_entry
from .schedule import CronError, next_run, parse_cron
from .status import READY, ReadyState, set_condition

HEALTHY = "Healthy"
FAILURE_THRESHOLD = 3

# Cron entries are sampled from a fixed instant, so the result is cacheable and the same on
# every call. Schedules that repeat every week (any day of month, any month) need two weeks of
# samples; others (day-of-month or month restrictions) a little over a year, capped in runs so
# that a cron firing every minute stays cheap.
_SAMPLE_FROM = datetime(2001, 1, 1, tzinfo=UTC)  # a Monday
_WEEKLY_SPAN = timedelta(days=15)
_YEARLY_SPAN = timedelta(days=400)
_MAX_SAMPLES = 1500
_UTC_ZONE = ZoneInfo("UTC")


@lru_cache(maxsize=2048)
def cron_runs(expression: str) -> tuple[datetime, ...]:
    """Runs of ``expression`` in UTC from a fixed instant, enough to see its longest gap.

    Empty for an expression Kubernetes rejects or one that never fires.
    """
    try:
        schedule = parse_cron(expression)
    except CronError:
        return ()
    repeats_weekly = len(schedule.months) == 12 and len(schedule.days_of_month) == 31
    horizon = _SAMPLE_FROM + (_WEEKLY_SPAN if repeats_weekly else _YEARLY_SPAN)
    runs: list[datetime] = []
    current = _SAMPLE_FROM
    while len(runs) < _MAX_SAMPLES:
        found = next_run(schedule, current, _UTC_ZONE)
        if found is None or (found > horizon and len(runs) >= 2):
            break
        runs.append(found)
        current = found
    return tuple(runs)


def longest_interval(crons: Iterable[str]) -> timedelta | None:
    """The longest gap between consecutive runs of all the crons together (None: no repeats).

    Gaps are taken only up to where every cron's samples still reach, so a cron sampled over a
    short span (a frequent one) is not mistaken for having stopped.
    """
    samples = [runs for runs in (cron_runs(c) for c in crons) if len(runs) >= 2]
    if not samples:
        return None
    end = min(runs[-1] for runs in samples)
    merged = sorted({t for runs in samples for t in runs if t <= end})
    return max(later - earlier for earlier, later in pairwise(merged))


def schedule_interval(schedule: ArchiveSchedule) -> timedelta | None:
    """The longest interval between the schedule's runs (jitter included), or None.

    Entries the operator cannot render (an invalid cron) are left out: Ready reports them.
    """
    crons = []
    for index, entry in enumerate(schedule.spec.schedules):
        try:
            crons.append(resolve_entry(schedule, index, entry).cron)
        except (SpecError, ValueError):
            continue
    return longest_interval(crons)


def healthy_condition(
    schedule: ArchiveSchedule,
    now: datetime,
    *,
    grace: timedelta,
    created: datetime | None = None,
    failure_threshold: int = FAILURE_THRESHOLD,
    blocked: Sequence[tuple[str, str]] = (),
) -> Condition:
    """The Healthy condition as of ``now`` (see the module doc for the rules).

    ``created`` is the schedule's creationTimestamp: a schedule that has never succeeded is
    Overdue once it has existed longer than one interval plus ``grace``. Without it (and
    without a success), a schedule is not judged Overdue. ``blocked``: (run name, its status
    message) of each Blocked run. lastTransitionTime is kept when the status (True/False) does
    not change.
    """
    now = _as_utc(now)
    state = health_state(
        schedule,
        now,
        grace=grace,
        created=_aware(created or _creation_timestamp(schedule)),
        failure_threshold=failure_threshold,
        blocked=blocked,
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
    created: datetime | None,
    failure_threshold: int,
    blocked: Sequence[tuple[str, str]] = (),
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

    interval = schedule_interval(schedule)
    overdue = _overdue_message(interval, grace, last_success, created, now)
    if overdue is not None:
        return ReadyState("False", "Overdue", overdue)

    failed = f"; {failures} recent run{'s' if failures != 1 else ''} failed" if failures else ""
    if missed:
        failed += f"; {missed} scheduled run{'s' if missed != 1 else ''} not started"
    if last_success is not None:
        age = _span(now - last_success)
        return ReadyState("True", "RunsSucceeding", f"{since_success} ({age} ago){failed}")
    if failures:
        return ReadyState("True", "NoSuccessYet", f"{since_success}{failed}")
    return ReadyState("True", "NoRunsYet", "No run has finished yet")


def _overdue_message(
    interval: timedelta | None,
    grace: timedelta,
    last_success: datetime | None,
    created: datetime | None,
    now: datetime,
) -> str | None:
    if interval is None:
        return None
    expected = f"expected at most {_span(interval)} + {_span(grace)}"
    if last_success is not None:
        age = now - last_success
        if age > interval + grace:
            return f"last success {_stamp(last_success)} is {_span(age)} old; {expected}"
        return None
    if created is not None and now - created > interval + grace:
        return (
            f"no successful run since the schedule was created {_stamp(created)}, "
            f"{_span(now - created)} ago; {expected}"
        )
    return None


def _creation_timestamp(schedule: ArchiveSchedule) -> datetime | None:
    # ObjectMeta may gain creation_timestamp; until then callers pass ``created``.
    value = getattr(schedule.metadata, "creation_timestamp", None)
    return value if isinstance(value, datetime) else None


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
