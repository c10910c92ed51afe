"""The CPU cost of coverage per reconcile, in one process (no API server, no kopf).

    python -m bench.operator.coverage_cost [--repeats 7] [--seconds 1] [--profile]

Every figure is a ratio between two contenders timed side by side in the same repeat, reported as
median (min-max, n) over the repeats. In a repeat the two alternate 20 times, a batch of calls
each time; a sample is a contender's CPU time (``time.process_time``) over its batches divided by
its calls, about ``--seconds`` of CPU per contender and repeat.

The schedule: daily at 02:30 in Europe/London, window ``offsetDays: -1, days: 1`` (yesterday),
created 90 days before "now" (2026-03-10 12:00 local) and run by the real reconcile against the
in-memory API of the unit tests (tests/unit/fake_kube.py): every night the CronJob's Job is
added, recorded as an ArchiveRun, then finishes with the runner's result and the run succeeds;
the history limit keeps the last 10 runs. At "now" it is idle: status.coverage says
coveredThrough yesterday, nothing is missing, and a reconcile writes nothing (checked).

Contenders:

1. ``decide()`` against ``plan_lifecycle()``, both pure, on the inputs the reconcile gives them
   (the 10 kept runs and their Jobs; the runs already converted to ``coverage.RunSpan``):
   * typical: the idle schedule above;
   * upgrade: the same runs, the schedule created 365 days ago, and no status.coverage yet (an
     operator without coverage upgraded, or the status lost): every day of the year is scanned,
     all but the last 10 are gaps (a catch-up of 31 days is the decision);
   * never archived: created 365 days ago, no run at all, no status.coverage;
   * never archived, weekly with a 7-day window (each day has 7 candidate run days);
   * stuck gap: one day a year ago whose catch-up keeps failing (backing off), every day after
     it archived (status.coverage.covered): the scan starts at the gap every time.
2. A whole reconcile of the idle schedule, as the periodic resync does it
   (``Reconciler.reconcile_named(hinted=False)``: read the schedule, its CronJobs, runs, Jobs
   and pods from the in-memory API, decide, write nothing), with coverage against the same with
   coverage off (``coverage.decide`` answering ``CoverageDecision(None)``, as nocoverage.py
   does for the operator process). The in-memory API deep-copies what it returns, a stand-in for
   decoding the answers; there is no HTTP.

3. Status writes of idle reconciles (the periodic resync's: no run due, nothing missing), with
   coverage and with coverage off, for the operator benchmark's entries (daily, weekly on two
   days, workdays by cron) and a monthly one, each simulated as above: per week at 00:01 and
   12:01 local over 28 days, and every 300 s (the default resync) for half a day, counting which
   status fields each write changes. Not measured by the operator benchmark, whose schedules
   never run and which lasts minutes, not days.

``--profile``: afterwards, cProfile of ``decide()`` in the upgrade case (where its time goes).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from archive_operator import constants as c
from archive_operator import coverage
from archive_operator.api.run import ArchiveRun
from archive_operator.api.schedule import ArchiveSchedule, Coverage, DateRange
from archive_operator.jobs import job_view, pods_by_job
from archive_operator.lifecycle import plan_lifecycle
from archive_operator.reconciler import Reconciler
from archive_operator.schedule import parse_cron
from archive_operator.settings import Settings
from archive_runner.contract import scheduled_job_name

from tests.unit.fake_kube import FakeKube

from .stats import median

NS = "bench"
NAME = "alice"
ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 12:00 in London (GMT until 29 March)
DAYS_RUN = 90
YEAR = 365
Manifest = dict[str, Any]


class RecordingKube(FakeKube):
    """The in-memory API, noting which status fields each status write changes."""

    def __init__(self) -> None:
        super().__init__()
        self.status_patches: list[list[str]] = []

    def patch_schedule_status(
        self, namespace: str, name: str, patch: Manifest, resource_version: str | None = None
    ) -> None:
        self.status_patches.append(sorted(patch))
        super().patch_schedule_status(namespace, name, patch, resource_version)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


NIGHTLY: Manifest = {"name": "nightly", "daily": {"at": "02:30"}}
YESTERDAY: Manifest = {"offsetDays": -1, "days": 1}
# Day rollover (part 3): the entries of the operator benchmark (manifests.py) and a monthly one,
# each with the default window (offsetDays 0, days 1), and the nightly one archiving yesterday.
ROLLOVER: list[tuple[str, Manifest, Manifest | None]] = [
    ("daily, window yesterday", NIGHTLY, YESTERDAY),
    ("daily", NIGHTLY, None),
    ("weekly mon+thu", {"name": "weekly", "weekly": {"days": ["mon", "thu"], "at": "02:30"}}, None),
    ("workdays (cron 1-5)", {"name": "workdays", "cron": "30 2 * * 1-5"}, None),
    ("monthly (cron 1st)", {"name": "monthly", "cron": "30 2 1 * *"}, None),
]
ROLLOVER_WARMUP, ROLLOVER_DAYS = 7, 28


def schedule_body(
    created: datetime, entry: Manifest = NIGHTLY, window: Manifest | None = YESTERDAY
) -> Manifest:
    spec: Manifest = {
        "user": f"{NAME}@example.com",
        "timeZone": ZONE.key,
        "schedules": [entry],
        "source": {"caldav": {"url": f"https://cal.example.com/dav/{NAME}/calendar/"}},
        "destination": {"caldav": {"url": f"https://cal.example.com/dav/{NAME}/archive/"}},
        "credentialsSecretRef": {"name": f"{NAME}-calendar"},
    }
    if window is not None:
        spec["window"] = window
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.SCHEDULE_KIND,
        "metadata": {"name": NAME, "namespace": NS, "creationTimestamp": stamp(created)},
        "spec": spec,
    }


def _reconcile(reconciler: Reconciler) -> None:
    if reconciler.reconcile_named(NS, NAME, hinted=False) is None:
        raise RuntimeError("the schedule is gone")


def _nightly_job(kube: FakeKube, cronjob: Manifest, fire: datetime) -> Manifest:
    """The Job the CronJob controller starts at ``fire`` (its name, labels, annotation)."""
    name = scheduled_job_name(cronjob["metadata"]["name"], fire)
    cronjob.setdefault("status", {})["lastScheduleTime"] = stamp(fire)
    return kube.add_job(
        {
            "metadata": {
                "name": name,
                "namespace": NS,
                "creationTimestamp": stamp(fire),
                "labels": dict(cronjob["spec"]["jobTemplate"]["metadata"]["labels"]),
                "annotations": {c.ANNOTATION_CRONJOB_SCHEDULED: fire.isoformat()},
                "ownerReferences": [
                    {"kind": "CronJob", "uid": cronjob["metadata"]["uid"], "controller": True}
                ],
            },
            "spec": {},
            "status": {"startTime": stamp(fire)},
        }
    )


def _finish(kube: FakeKube, job: Manifest, done: datetime) -> None:
    """The Job completes; its pod's runner container ends with the runner's result."""
    job["status"]["conditions"] = [{"type": "Complete", "status": "True"}]
    job["status"]["completionTime"] = stamp(done)
    result = {
        "status": "succeeded",
        "exit_code": 0,
        "message": None,
        "counts": {"source_objects": 12, "created": 3, "updated": 0, "failed": 0},
        "errors": [],
    }
    terminated = {"exitCode": 0, "message": json.dumps(result), "finishedAt": stamp(done)}
    labels = {**job["metadata"]["labels"], c.LABEL_JOB_NAME: job["metadata"]["name"]}
    kube.add_pod(
        {
            "metadata": {
                "name": job["metadata"]["name"] + "-x1",
                "namespace": NS,
                "creationTimestamp": job["metadata"]["creationTimestamp"],
                "labels": labels,
            },
            "status": {
                "phase": "Succeeded",
                "containerStatuses": [
                    {"name": c.RUNNER_CONTAINER, "state": {"terminated": terminated}}
                ],
            },
        }
    )


@dataclass
class Life:
    """A schedule run by the real reconcile against the in-memory API."""

    kube: RecordingKube
    clock: Clock
    reconciler: Reconciler
    # Per idle reconcile counted: its time, and the status fields each status write changed.
    idle: list[tuple[datetime, list[list[str]]]]


def simulate(
    days: int = DAYS_RUN,
    entry: Manifest = NIGHTLY,
    window: Manifest | None = YESTERDAY,
    count_from: datetime | None = None,
    idle_step: timedelta = timedelta(hours=12),
) -> Life:
    """``days`` days of a schedule up to NOW, every run succeeding: the CronJob's Job added at
    each scheduled time (local 02:30 of each day its cron matches) and reconciled, finished 4
    minutes later and reconciled again. Besides, idle reconciles (the periodic resync's) from
    00:01 local every ``idle_step`` (before ``count_from``: every 12 hours); what those from
    ``count_from`` on wrote is kept."""
    created = NOW - timedelta(days=days)
    clock = Clock(created)
    kube = RecordingKube()
    kube.now = created
    kube.add_schedule(schedule_body(created, entry, window))
    if hasattr(kube, "add_credentials"):  # operators that check the Secret before Ready
        kube.add_credentials(NS, f"{NAME}-calendar", f"{NAME}@example.com")
    reconciler = Reconciler(kube, Settings(runner_image="archive-runner:bench"), clock)
    _reconcile(reconciler)
    (cronjob,) = kube.cronjobs.values()
    cron = parse_cron(cronjob["spec"]["schedule"])
    life = Life(kube, clock, reconciler, [])
    day = created.astimezone(ZONE).date() + timedelta(days=1)
    while day <= NOW.astimezone(ZONE).date():
        midnight = datetime(day.year, day.month, day.day, tzinfo=ZONE)
        fire = (midnight + timedelta(hours=2, minutes=30)).astimezone(UTC)
        runs = day.month in cron.months and cron.day_matches(midnight.replace(tzinfo=None))
        counted = count_from is not None and midnight >= count_from
        step = idle_step if counted else timedelta(hours=12)
        events = [(midnight + timedelta(minutes=1) + step * i, "idle") for i in range(1440)]
        events = [e for e in events if e[0] < midnight + timedelta(days=1)]
        if runs:
            events += [(fire + timedelta(seconds=5), "fire"), (fire + timedelta(minutes=4), "done")]
        job: Manifest | None = None
        for moment, what in sorted(events):
            if moment > NOW:
                break
            clock.now = kube.now = moment.astimezone(UTC)
            if what == "fire":
                job = _nightly_job(kube, cronjob, fire)
            elif what == "done":
                assert job is not None
                _finish(kube, job, clock.now)
            kube.status_patches.clear()
            _reconcile(reconciler)
            if what == "idle" and counted:
                life.idle.append((moment, list(kube.status_patches)))
        day += timedelta(days=1)
    # Garbage collection, which the in-memory API does not do: the pods of deleted Jobs.
    jobs = {name for _, name in kube.jobs}
    for key, pod in list(kube.pods.items()):
        if pod["metadata"]["labels"][c.LABEL_JOB_NAME] not in jobs:
            del kube.pods[key]
    clock.now = kube.now = NOW
    _reconcile(reconciler)
    kube.writes.clear()
    _reconcile(reconciler)
    if kube.writes:  # a second reconcile at the same time
        raise AssertionError(f"the simulated schedule is not idle at NOW: {kube.writes}")
    return life


# --- the pure inputs, built the way the reconcile builds them -----------------------------------


@dataclass
class Inputs:
    label: str
    schedule: ArchiveSchedule
    runs: list[ArchiveRun]
    jobs: list[Any]
    entries: list[coverage.EntryDays]
    created: datetime
    previous: Coverage | None

    def __post_init__(self) -> None:
        self.spans = [coverage.RunSpan.of(run, run.status) for run in self.runs]

    def decide(self) -> coverage.CoverageDecision:
        return coverage.decide(
            NAME, self.entries, ZONE, self.created, self.previous, self.spans, [], NOW
        )

    def plan(self) -> Any:
        return plan_lifecycle(self.schedule, self.runs, self.jobs, NOW, None)


def _entries(cron: str, first_offset: int, days: int) -> list[coverage.EntryDays]:
    return [coverage.EntryDays("nightly", parse_cron(cron), first_offset, days)]


def inputs(kube: FakeKube) -> list[Inputs]:
    body = kube.get_schedule(NS, NAME)
    schedule = ArchiveSchedule.from_body(body)
    runs = [ArchiveRun.from_body(r) for r in kube.list_runs(NS)]
    selector = c.schedule_selector(NAME)
    pods = pods_by_job(kube.list_pods(NS, selector))
    jobs = [job_view(j, pods.get(j["metadata"]["name"], [])) for j in kube.list_jobs(NS, selector)]
    previous = schedule.status.coverage
    assert previous is not None and previous.missing_days == 0, previous
    today = NOW.astimezone(ZONE).date()
    assert previous.covered_through == today - timedelta(days=1), previous
    created = schedule.metadata.creation_timestamp
    assert created is not None
    year_ago = NOW - timedelta(days=YEAR)
    nightly = _entries("30 2 * * *", -1, 1)
    weekly = _entries("30 2 * * 1", -6, 7)
    gap = today - timedelta(days=YEAR - 1)
    stuck = Coverage(
        since=today - timedelta(days=YEAR),
        covered_through=gap - timedelta(days=1),
        covered=[DateRange(start=gap + timedelta(days=1), end=today - timedelta(days=1))],
        missing_days=1,
        catch_up_failures=8,
        next_catch_up_time=NOW + timedelta(hours=3),
    )
    return [
        Inputs("typical", schedule, runs, jobs, nightly, created, previous),
        Inputs("upgrade", schedule, runs, jobs, nightly, year_ago, None),
        Inputs("never archived", schedule, [], [], nightly, year_ago, None),
        Inputs("never archived, weekly, 7-day window", schedule, [], [], weekly, year_ago, None),
        Inputs("stuck gap", schedule, runs, jobs, nightly, year_ago, stuck),
    ]


# --- timing ---------------------------------------------------------------------------------------


ROUNDS = 20  # alternations per repeat


def batch_size(action: Callable[[], object], seconds: float) -> int:
    """Calls that take about ``seconds`` of CPU."""
    calls, used = 1, 0.0
    while used < seconds / 2:
        began = time.process_time()
        for _ in range(calls):
            action()
        used = time.process_time() - began
        if used < seconds / 2:
            calls *= 4
    return max(1, round(calls * seconds / used))


def paired(
    contenders: dict[str, Callable[[], object]], repeats: int, seconds: float
) -> dict[str, list[float]]:
    """CPU seconds per call of each contender, one sample per repeat. In a repeat the
    contenders alternate ROUNDS times (the order reversed every other round), a batch of
    calls each time, so that a change of the machine's load hits them alike; a sample is
    a contender's CPU time over its batches, divided by its calls (about ``seconds`` each)."""
    sizes = {name: batch_size(action, seconds / ROUNDS) for name, action in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        used = dict.fromkeys(contenders, 0.0)
        for round_ in range(ROUNDS):
            order = list(contenders) if round_ % 2 == 0 else list(contenders)[::-1]
            for name in order:
                action, calls = contenders[name], sizes[name]
                began = time.process_time()
                for _ in range(calls):
                    action()
                used[name] += time.process_time() - began
        for name in contenders:
            samples[name].append(used[name] / (sizes[name] * ROUNDS))
    return samples


def _us(values: list[float]) -> str:
    return f"{median(values) * 1e6:,.0f} µs ({min(values) * 1e6:,.0f}-{max(values) * 1e6:,.0f})"


def _ratio(a: list[float], b: list[float]) -> str:
    pairs = [x / y for x, y in zip(a, b, strict=True)]
    return f"{median(pairs):.3f}x ({min(pairs):.3f}-{max(pairs):.3f}, n={len(pairs)})"


def report_pure(cases: list[Inputs], repeats: int, seconds: float) -> None:
    print("\n== decide() against plan_lifecycle(), CPU per call, median (range) ==")
    for case in cases:
        decision = case.decide()
        assert decision.coverage is not None
        catch_up = decision.catch_up
        scanned_from = (
            decision.coverage.since
            if case.previous is None or case.previous.covered_through is None
            else case.previous.covered_through + timedelta(days=1)
        )
        scanned = (NOW.astimezone(ZONE).date() - scanned_from).days + 1
        samples = paired({"decide": case.decide, "plan": case.plan}, repeats, seconds)
        print(f"-- {case.label}: {len(case.runs)} runs, {len(case.jobs)} Jobs --")
        print(
            f"  decision: {decision.coverage.missing_days} days missing, catch-up "
            + (f"{catch_up.start}..{catch_up.end}" if catch_up else "none")
            + f"; days scanned {scanned}"
        )
        print(f"  decide():         {_us(samples['decide'])}")
        print(f"  plan_lifecycle(): {_us(samples['plan'])}")
        print(f"  decide / plan_lifecycle: {_ratio(samples['decide'], samples['plan'])}")


def report_reconcile(kube: FakeKube, clock: Clock, repeats: int, seconds: float) -> None:
    """A whole idle reconcile with coverage against the same with coverage off."""
    settings = Settings(runner_image="archive-runner:bench")
    original = coverage.decide

    def off(*args: Any, **kwargs: Any) -> coverage.CoverageDecision:
        return coverage.CoverageDecision(None)

    on_kube, off_kube = kube, copy.deepcopy(kube)
    on_rec = Reconciler(on_kube, settings, clock)
    off_rec = Reconciler(off_kube, settings, clock)
    coverage.decide = off
    try:
        _reconcile(off_rec)  # drops status.coverage once: the "without" steady state
        off_kube.writes.clear()
    finally:
        coverage.decide = original

    def with_coverage() -> None:
        _reconcile(on_rec)

    def without() -> None:
        coverage.decide = off
        try:
            _reconcile(off_rec)
        finally:
            coverage.decide = original

    samples = paired({"on": with_coverage, "off": without}, repeats, seconds)
    for name, fake in (("with", on_kube), ("without", off_kube)):
        if fake.writes:
            raise AssertionError(f"an idle reconcile {name} coverage wrote: {fake.writes[:5]}")
    print("\n== A whole idle reconcile (resync path, in-memory API), CPU per reconcile ==")
    print(f"  with coverage:    {_us(samples['on'])}")
    print(f"  coverage off:     {_us(samples['off'])}")
    print(f"  with / without: {_ratio(samples['on'], samples['off'])} (0 writes either way)")
    extra = [a - b for a, b in zip(samples["on"], samples["off"], strict=True)]
    print(f"  difference: {median(extra) * 1e6:,.0f} µs per reconcile")


def _off(*args: Any, **kwargs: Any) -> coverage.CoverageDecision:
    return coverage.CoverageDecision(None)


def _both(days: int, entry: Manifest, window: Manifest | None, **kw: Any) -> dict[str, Life]:
    """The same life with coverage and with coverage off."""
    original, lives = coverage.decide, {}
    for variant in ("with", "without"):
        coverage.decide = original if variant == "with" else _off
        try:
            lives[variant] = simulate(days, entry, window, **kw)
        finally:
            coverage.decide = original
    return lives


def _idle_writes(life: Life, field: str | None = None) -> int:
    return sum(1 for _, patches in life.idle for p in patches if field is None or field in p)


def report_rollover() -> None:
    """Status writes of idle reconciles (no run due, nothing missing), with coverage and with
    coverage off: days passing alone should write nothing."""
    count_from = NOW - timedelta(days=ROLLOVER_DAYS)
    print(
        f"\n== Status writes of idle reconciles at 00:01 and 12:01 local, every run succeeding, "
        f"over {ROLLOVER_DAYS} days; per week ==",
    )
    week = 7 / ROLLOVER_DAYS
    for label, entry, window in ROLLOVER:
        lives = _both(ROLLOVER_WARMUP + ROLLOVER_DAYS, entry, window, count_from=count_from)
        on, off = lives["with"], lives["without"]
        print(
            f"  {label}: with coverage {_idle_writes(on) * week:.1f} "
            f"(of which change status.coverage {_idle_writes(on, 'coverage') * week:.1f}, "
            f"change the conditions {_idle_writes(on, 'conditions') * week:.1f}); "
            f"coverage off {_idle_writes(off) * week:.1f} "
            f"(conditions {_idle_writes(off, 'conditions') * week:.1f}); "
            f"{len(on.idle)} idle reconciles"
        )
    print("\n== The same, idle reconciles every 300 s (the default resync), 00:01-12:00 ==")
    for label, entry, window in ROLLOVER[:3]:
        lives = _both(
            ROLLOVER_WARMUP + 1,
            entry,
            window,
            count_from=NOW - timedelta(days=1),
            idle_step=timedelta(seconds=300),
        )
        on, off = lives["with"], lives["without"]
        print(
            f"  {label}: {_idle_writes(on)} status writes in {len(on.idle)} idle reconciles "
            f"with coverage ({_idle_writes(on, 'coverage')} change status.coverage), "
            f"{_idle_writes(off)} coverage off"
        )


def profile(case: Inputs) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        case.decide()
    profiler.disable()
    for order, label in (("cumulative", "time in and under"), ("tottime", "own time")):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(16)
        print(f"\n== cProfile of decide(), {case.label} (20 calls), by {label} ==")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per sample")
    parser.add_argument("--profile", action="store_true", help="cProfile decide(), upgrade case")
    args = parser.parse_args()
    began = time.monotonic()
    life = simulate()
    kube, clock = life.kube, life.clock
    print(
        f"simulated {DAYS_RUN} days in {time.monotonic() - began:.1f} s: "
        f"{len(kube.runs)} runs, {len(kube.jobs)} Jobs, {len(kube.pods)} pods kept; "
        f"status.coverage {json.dumps(kube.schedules[(NS, NAME)]['status'].get('coverage'))}"
    )
    cases = inputs(kube)
    report_pure(cases, args.repeats, args.seconds)
    report_reconcile(kube, clock, args.repeats, args.seconds)
    report_rollover()
    if args.profile:
        profile(cases[1])


if __name__ == "__main__":
    main()
