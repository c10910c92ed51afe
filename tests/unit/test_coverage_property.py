"""Property: whatever goes wrong, once the trouble ends every owed local day gets archived.

A seeded simulation drives coverage.decide() the way the operator does: CronJobs fire at
their real (robfig) times — not during cluster outages, not on DST-skipped times — and their
runs fail at random; the operator is down at random; catch-up runs fail at random too. After
the trouble ends, the set of archived days must equal the set of owed days, computed here
independently from the entries' plain definitions (every day / these weekdays at HH:MM, the
window's offset and length), without the operator's cron code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from archive_operator.coverage import EntryDays, RunSpan, decide
from archive_operator.schedule import next_run, parse_cron

ZONES = ["Pacific/Auckland", "Europe/London", "America/New_York", "Australia/Lord_Howe"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
STEP = timedelta(minutes=30)  # how often the operator (when up) reconciles on its own


@dataclass(frozen=True)
class Entry:
    hour: int
    minute: int
    weekdays: frozenset[int]  # date.weekday(): 0 = Monday
    offset: int
    days: int

    @property
    def cron(self) -> str:
        dow = ",".join(str((d + 1) % 7) for d in sorted(self.weekdays))
        return f"{self.minute} {self.hour} * * {dow if len(self.weekdays) < 7 else '*'}"


def owed_days(entries: list[Entry], zone: ZoneInfo, created: datetime, end: datetime) -> set[date]:
    """By hand: each date an entry names whose HH:MM (as the clock would show without a DST
    change: the offset in force just before it) lies in [created, end] owes its window."""
    owed: set[date] = set()
    day = created.astimezone(zone).date() - timedelta(days=2)
    while day <= end.astimezone(zone).date():
        for entry in entries:
            if day.weekday() not in entry.weekdays:
                continue
            # fold=0: a wall time a DST change skipped keeps the offset in force before it.
            wall = datetime.combine(day, time(entry.hour, entry.minute), tzinfo=zone)
            if created <= wall.astimezone(UTC) <= end:
                first = day + timedelta(days=entry.offset)
                owed.update(first + timedelta(days=i) for i in range(entry.days))
        day += timedelta(days=1)
    return owed


def random_entry(rng: random.Random) -> Entry:
    days = rng.choice([1, 1, 2, 7])
    offset = rng.randint(-days - 2, 1 - days)  # the window ends on the run's day or before
    weekdays = frozenset(range(7)) if rng.random() < 0.6 else frozenset(rng.sample(range(7), 2))
    hour = rng.choice([0, 1, 2, 2, 3, 12, 23])  # 02:xx falls in many DST gaps
    return Entry(hour, rng.choice([0, 15, 30, 59]), weekdays, offset, days)


def intervals(
    rng: random.Random, start: datetime, end: datetime, count: int
) -> list[tuple[datetime, datetime]]:
    out = []
    for _ in range(count):
        begin = start + (end - start) * rng.random()
        out.append((begin, begin + timedelta(hours=rng.choice([1, 6, 30, 80]))))
    return out


def inside(moment: datetime, spans: list[tuple[datetime, datetime]]) -> bool:
    return any(a <= moment < b for a, b in spans)


@pytest.mark.parametrize("seed", range(24))
def test_every_owed_day_is_archived_once_the_trouble_ends(seed: int) -> None:
    rng = random.Random(seed)
    zone = ZoneInfo(ZONES[seed % len(ZONES)])
    # Spans of weeks around both DST changes of each zone (March/April and Sept/Oct/Nov).
    start = datetime(
        2026, rng.choice([3, 9, 10]), rng.randint(1, 20), rng.randint(0, 23), tzinfo=UTC
    )
    trouble_ends = start + timedelta(days=rng.randint(10, 40))
    end = trouble_ends + timedelta(days=12)  # > the longest window's reach (7 + 2 days)
    entries = [random_entry(rng) for _ in range(rng.choice([1, 1, 2]))]
    resolved = [
        EntryDays(f"e{i}", parse_cron(e.cron), e.offset, e.days) for i, e in enumerate(entries)
    ]
    cluster_down = intervals(rng, start, trouble_ends, rng.randint(0, 3))
    operator_down = intervals(rng, start, trouble_ends, rng.randint(0, 3))
    fail_rate = rng.choice([0.0, 0.2, 0.5])

    runs: list[RunSpan] = []
    finishing: list[tuple[datetime, int, bool]] = []  # (when, index in runs, succeeds)
    coverage = None
    catch_ups = 0
    fires = sorted(
        (when, index)
        for index, entry in enumerate(resolved)
        for when in _fires(entry.cron.expression, zone, start, end)
    )
    now = start
    while now <= end:
        troubled = now < trouble_ends
        for when, index in [f for f in fires if now - STEP < f[0] <= now]:
            if troubled and inside(when, cluster_down):
                continue  # the CronJob controller was down: this time is never started
            spec = entries[index]
            first = when.astimezone(zone).date() + timedelta(days=spec.offset)
            last = first + timedelta(days=spec.days - 1)
            runs.append(RunSpan(f"s{len(runs)}", "scheduled", first, last, "Running"))
            ok = not (troubled and rng.random() < fail_rate)
            finishing.append((when + timedelta(minutes=2), len(runs) - 1, ok))
        finished = []
        for item in [f for f in finishing if f[0] <= now]:
            finishing.remove(item)
            done, index, ok = item
            old = runs[index]
            phase = "Succeeded" if ok else "Failed"
            runs[index] = RunSpan(old.name, old.trigger, old.start, old.end, phase, done)
            finished.append(runs[index])
        if not (troubled and inside(now, operator_down)):
            decision = decide("s", resolved, zone, start, coverage, runs, finished, now)
            coverage = decision.coverage
            if decision.catch_up is not None:
                catch_ups += 1
                up = decision.catch_up
                runs.append(RunSpan(up.name, "catchup", up.start, up.end, "Running"))
                succeeds = not (troubled and rng.random() < fail_rate)
                finishing.append((now + timedelta(minutes=3), len(runs) - 1, succeeds))
        now += STEP

    owed = owed_days(entries, zone, start, end)
    archived = {
        day
        for run in runs
        if run.phase == "Succeeded"
        for day in (run.start + timedelta(days=i) for i in range((run.end - run.start).days + 1))
    }
    # Days owed only by the last hours' run days may still be waiting for a later run; every
    # day owed by a run day before the last week is settled and must be archived.
    settled = {d for d in owed if d <= (trouble_ends.astimezone(zone).date())}
    assert settled - archived == set(), (zone, entries)
    assert coverage is not None
    assert not [g for g in coverage.gaps if g.start <= trouble_ends.astimezone(zone).date()]
    # Bounded: never a hot loop (one catch-up at a time, backoff after failures).
    assert catch_ups <= 60


def _fires(cron: str, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """The CronJob controller's times (robfig/cron, DST included) in (after, until]."""
    schedule = parse_cron(cron)
    out, current = [], after
    while True:
        found = next_run(schedule, current, zone)
        if found is None or found > until:
            return out
        out.append(found.astimezone(UTC))
        current = found
