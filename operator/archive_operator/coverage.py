"""Pure: which local days a schedule owes, which it has archived, what is missing and why, and
the catch-up run that closes the oldest gap (docs/operator.md, "Coverage").

A schedule owes a local day (in spec.timeZone) when one of its entries has a *run day* whose
window contains it: a local date the entry's cron matches (month, day of month, day of week),
whose first time that day — the *nominal time* — falls after the schedule was created and is
past. So the first days owed may precede the creation day (a weekly window's first days).
Run days are dates, not firings: on a spring-forward day whose 02:30 does not exist, the
CronJob does not fire, but the day still owes its window, and its nominal time is read as the
clock would have shown it without the change (02:30 NZST = 03:30 NZDT).

A day is archived when a successful run (any trigger, not a dry run) covered it. The status
keeps what is archived as ``coveredThrough`` (every owed day up to it is archived) and the
archived ranges after it, so runs pruned by the history limits still count. That memory is a
cache of the truth: losing it costs a catch-up run that re-archives idempotently, never a day.

An owed day that is not archived is a *gap* once no run day of its window is still to come:
the schedule's own runs have had every chance (``dueTime``: the last nominal time plus a start
grace). The operator then starts a catch-up run (trigger ``catchup``) for the oldest gap days,
at most :data:`MAX_CATCH_UP_DAYS` at a time and one at a time per schedule, through the usual
run lifecycle (so concurrencyPolicy applies). A catch-up that fails backs off exponentially
(:func:`backoff`), never a hot loop. While a run covering a gap is in progress, or the schedule
is suspended or not Ready, the gap waits and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .api.run import TERMINAL_PHASES, ArchiveRun, ArchiveRunStatus
from .api.schedule import Coverage, CoverageGap, DateRange
from .lifecycle import CATCH_UP as CATCH_UP_TRIGGER
from .schedule import CronSchedule

START_GRACE = timedelta(minutes=5)  # a CronJob's Job starts within seconds; this is generous
MAX_CATCH_UP_DAYS = 31  # days per catch-up run
MAX_SHOWN_GAPS = 10  # gap ranges listed in status (status.coverage.missingDays counts all)
MAX_COVERED_RANGES = 50  # archived ranges remembered after coveredThrough
BACKOFF_FIRST = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
ONE_DAY = timedelta(days=1)

# Gap reasons.
RUN_IN_PROGRESS = "RunInProgress"
NO_SCHEDULED_TIME = "NoScheduledTime"  # the nominal time did not exist (DST)
NOT_RUN = "NotRun"


@dataclass(frozen=True)
class EntryDays:
    """One schedule entry as coverage sees it (resolved once, by the caller)."""

    name: str
    cron: CronSchedule
    first_offset: int  # the window's first day relative to the run day (jitter's day shift in)
    days: int

    def runs_on(self, day: date) -> bool:
        return day.month in self.cron.months and self.cron.day_matches(
            datetime.combine(day, time())
        )

    def candidate_run_days(self, day: date) -> Iterator[date]:
        """The run days whose window would contain ``day`` (all on or after it)."""
        last = day - timedelta(days=self.first_offset)
        for back in range(self.days):
            candidate = last - timedelta(days=back)
            if self.runs_on(candidate):
                yield candidate

    def nominal_time(self, day: date, zone: ZoneInfo) -> datetime:
        """The entry's first time on local ``day`` (UTC); a wall time a DST change skipped is
        read with the offset before the change (fold=0), i.e. as the clock would have shown
        it."""
        wall = datetime.combine(day, time(min(self.cron.hours), min(self.cron.minutes)))
        return wall.replace(tzinfo=zone).astimezone(UTC)

    def skipped_by_dst(self, day: date, zone: ZoneInfo) -> bool:
        """Whether the first time on ``day`` does not exist there (spring forward)."""
        nominal = self.nominal_time(day, zone).astimezone(zone)
        return (nominal.hour, nominal.minute) != (min(self.cron.hours), min(self.cron.minutes))


@dataclass(frozen=True)
class RunSpan:
    """What coverage reads of one run of the schedule (its status as this reconcile leaves it)."""

    name: str
    trigger: str
    start: date
    end: date
    phase: str | None
    completion_time: datetime | None = None
    reason: str | None = None
    message: str | None = None
    dry_run: bool = False

    @classmethod
    def of(cls, run: ArchiveRun, status: ArchiveRunStatus) -> RunSpan:
        """``run`` with ``status`` (its status as the reconcile leaves it)."""
        return cls(
            name=run.metadata.name,
            trigger=run.spec.trigger,
            start=run.spec.start,
            end=run.spec.end,
            phase=status.phase,
            completion_time=status.completion_time,
            reason=status.reason,
            message=status.message,
            dry_run=run.spec.dry_run,
        )

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end and not self.dry_run

    @property
    def in_progress(self) -> bool:
        return self.phase not in TERMINAL_PHASES


@dataclass(frozen=True)
class CatchUp:
    name: str
    start: date
    end: date
    reason: str  # of the first gap day
    message: str


@dataclass
class CoverageDecision:
    coverage: Coverage | None
    catch_up: CatchUp | None = None
    recheck_at: datetime | None = None  # when a day becomes due or a backoff ends
    gaps: list[CoverageGap] = field(default_factory=list)  # all of them, oldest first


def backoff(failures: int) -> timedelta:
    """The wait before the next catch-up after ``failures`` failed ones in a row: 5 min,
    doubling, at most 6 h."""
    if failures <= 0:
        return timedelta(0)
    doubled: timedelta = BACKOFF_FIRST * 2 ** min(failures - 1, 16)
    return min(doubled, BACKOFF_MAX)


def catch_up_name(schedule: str, first: date, attempt: int) -> str:
    """Deterministic: a retried reconcile finds the run it made instead of making another."""
    suffix = f"-catchup-{first:%Y%m%d}" + (f"-{attempt}" if attempt > 1 else "")
    return schedule[: 253 - len(suffix)] + suffix


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


@dataclass(frozen=True)
class _Owed:
    owed: bool  # a past run day's window contains it
    settled: bool  # no run day of its window is still to come
    last_chance: datetime | None  # the latest past nominal time that owed it
    last_run_day: date | None
    settles_at: datetime | None  # the latest nominal time of its run days (past or future)


def _assess(
    day: date, entries: Sequence[EntryDays], zone: ZoneInfo, created: datetime, now: datetime
) -> _Owed:
    owed, settled = False, True
    last_chance: datetime | None = None
    last_run_day: date | None = None
    settles_at: datetime | None = None
    for entry in entries:
        for run_day in entry.candidate_run_days(day):
            nominal = entry.nominal_time(run_day, zone)
            if nominal < created:
                continue  # before the schedule existed: owes nothing
            settles_at = nominal if settles_at is None else max(settles_at, nominal)
            if nominal > now:
                settled = False
                continue
            owed = True
            if last_chance is None or nominal > last_chance:
                last_chance, last_run_day = nominal, run_day
    return _Owed(owed, settled, last_chance, last_run_day, settles_at)


def _remembered(
    previous: Coverage | None, runs: Iterable[RunSpan], lo: date, hi: date
) -> set[date]:
    """Archived days in [lo, hi]: the status's memory and every successful run present."""
    days: set[date] = set()
    ranges = [(r.start, r.end) for r in previous.covered] if previous else []
    ranges += [(r.start, r.end) for r in runs if r.phase == "Succeeded" and not r.dry_run]
    for start, end in ranges:
        days.update(_days(max(start, lo), min(end, hi)))
    return days


def _ranges(days: Iterable[date]) -> list[DateRange]:
    out: list[DateRange] = []
    for day in sorted(days):
        if out and out[-1].end + ONE_DAY == day:
            out[-1] = DateRange(start=out[-1].start, end=day)
        else:
            out.append(DateRange(start=day, end=day))
    return out


def _why(
    day: date,
    owed: _Owed,
    entries: Sequence[EntryDays],
    zone: ZoneInfo,
    runs: Sequence[RunSpan],
    hold: str | None,
) -> tuple[str, str]:
    """(reason, message) of a gap day: the run in progress, the last run that failed, or why
    no run was made."""
    active = [r for r in runs if r.covers(day) and r.in_progress]
    if active:
        return RUN_IN_PROGRESS, f"run {active[0].name} ({active[0].phase or 'new'}) archives it"
    if hold is not None:
        return hold, "the schedule's runs are held; a catch-up run starts once they may"
    done = [r for r in runs if r.covers(day) and r.phase in TERMINAL_PHASES]
    if done:
        last = max(
            done, key=lambda r: (r.completion_time or datetime.min.replace(tzinfo=UTC), r.name)
        )
        detail = last.message or last.reason or ""
        return f"Run{last.phase}", f"run {last.name} {last.phase}" + (
            f": {detail}" if detail else ""
        )
    if owed.last_run_day is not None:
        for entry in entries:
            run_day = owed.last_run_day
            if entry.runs_on(run_day) and entry.skipped_by_dst(run_day, zone):
                wall = f"{min(entry.cron.hours):02d}:{min(entry.cron.minutes):02d}"
                return (
                    NO_SCHEDULED_TIME,
                    f"{wall} did not exist on {run_day.isoformat()} in {zone.key} (a daylight-"
                    f"saving change), so entry {entry.name} had no run that day",
                )
    return (
        NOT_RUN,
        "no run archived it: the CronJob did not start one (the operator, the controller or "
        "the cluster was down, or the time was skipped) or its result was lost",
    )


def decide(
    schedule: str,
    entries: Sequence[EntryDays],
    zone: ZoneInfo,
    created: datetime,
    previous: Coverage | None,
    runs: Sequence[RunSpan],
    finished: Sequence[RunSpan],
    now: datetime,
    *,
    hold: str | None = None,
    start_grace: timedelta = START_GRACE,
) -> CoverageDecision:
    """The schedule's coverage as of ``now`` and the catch-up run to start, if any.

    ``runs``: every run of the schedule with its status after this reconcile. ``finished``: the
    runs this reconcile counts as finished for the first time (catch-up failures back off).
    ``hold``: why runs may not start now (suspended, not Ready): gaps wait.
    """
    if not entries:
        return CoverageDecision(None)
    today = now.astimezone(zone).date()
    # The first day a window can reach: the first run day comes on or after the creation day,
    # and its window may start before it (the days of a weekly window before a Wednesday).
    since = created.astimezone(zone).date() + timedelta(
        days=min(0, *(entry.first_offset for entry in entries))
    )
    if previous is not None and previous.since > since:
        since = previous.since  # tracking began later (the caller seeded it: run_wing.py)
    through = previous.covered_through if previous is not None else None
    lo = since if through is None or through < since else through + ONE_DAY
    archived = _remembered(previous, runs, lo, today)

    failures, next_try = 0, None
    if previous is not None:
        failures, next_try = previous.catch_up_failures or 0, previous.next_catch_up_time
    for run in sorted(finished, key=lambda r: (r.completion_time or now, r.name)):
        if run.trigger != CATCH_UP_TRIGGER or run.dry_run:
            continue
        if run.phase == "Succeeded":
            failures, next_try = 0, None
        elif run.phase in ("Failed", "PartiallySucceeded"):
            failures += 1
            next_try = (run.completion_time or now) + backoff(failures)

    advancing = True
    gap_days: list[tuple[date, str, str, datetime]] = []
    recheck: datetime | None = None
    for day in _days(lo, today):
        if day in archived:
            if advancing:
                through = day
            continue
        owed = _assess(day, entries, zone, created, now)
        if not owed.settled:
            advancing = False
            if owed.settles_at is not None:
                recheck = _earliest(recheck, owed.settles_at + start_grace)
            continue
        if not owed.owed:
            # Not owed: passed over, but coveredThrough stays on the last archived day, so a
            # day that owes nothing never changes the status (no write on idle days).
            continue
        advancing = False
        assert owed.last_chance is not None
        due = owed.last_chance + start_grace
        if due > now:
            recheck = _earliest(recheck, due)
            continue
        reason, message = _why(day, owed, entries, zone, runs, hold)
        gap_days.append((day, reason, message, due))

    gaps = _gap_ranges(gap_days)
    catch_up = None
    if hold is None and not any(r.trigger == CATCH_UP_TRIGGER and r.in_progress for r in runs):
        if next_try is not None and next_try > now:
            recheck = _earliest(recheck, next_try)
        else:
            catch_up = _catch_up(schedule, gap_days, runs, failures)
    after = [d for d in archived if through is None or d > through]
    coverage = Coverage(
        since=since,
        covered_through=through,
        covered=_ranges(after)[:MAX_COVERED_RANGES],
        gaps=gaps[:MAX_SHOWN_GAPS],
        missing_days=len(gap_days),
        catch_up_failures=failures or None,
        next_catch_up_time=next_try if failures else None,
    )
    return CoverageDecision(coverage, catch_up, recheck, gaps)


def _gap_ranges(gap_days: Sequence[tuple[date, str, str, datetime]]) -> list[CoverageGap]:
    gaps: list[CoverageGap] = []
    for day, reason, message, due in gap_days:
        last = gaps[-1] if gaps else None
        if (
            last is not None
            and last.end + ONE_DAY == day
            and (last.reason, last.message) == (reason, message)
        ):
            gaps[-1] = last.model_copy(update={"end": day})
        else:
            gaps.append(
                CoverageGap(start=day, end=day, reason=reason, message=message, due_time=due)
            )
    return gaps


def _catch_up(
    schedule: str,
    gap_days: Sequence[tuple[date, str, str, datetime]],
    runs: Sequence[RunSpan],
    failures: int,
) -> CatchUp | None:
    """The oldest consecutive gap days no run is archiving, at most MAX_CATCH_UP_DAYS."""
    todo = [(d, reason, message) for d, reason, message, _ in gap_days if reason != RUN_IN_PROGRESS]
    if not todo:
        return None
    first, reason, message = todo[0]
    last = first
    for day, _, _ in todo[1:]:
        if day != last + ONE_DAY or (day - first).days >= MAX_CATCH_UP_DAYS:
            break
        last = day
    taken = {r.name for r in runs}
    attempt = failures + 1
    while catch_up_name(schedule, first, attempt) in taken:
        attempt += 1
    return CatchUp(catch_up_name(schedule, first, attempt), first, last, reason, message)


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a
