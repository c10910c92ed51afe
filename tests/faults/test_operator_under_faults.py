"""The operator (real kopf subprocess) converges while the API server misbehaves."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from archive_sandbox.faults import parse_spec

from tests.fixtures.sandbox import SandboxHandle

from .conftest import SEED
from .harness import (
    GROUP,
    OPERATOR_USER,
    Operator,
    World,
    converge,
    duplicate_jobs,
    manual_run,
    planned_schedule,
    run_problems,
    schedule_problems,
)

pytestmark = pytest.mark.slow

SCHEDULES = 100
RUNS = 12  # two per schedule on six schedules: the second of each waits (Forbid), then runs
RESYNC = 2.0
FAULTS = (
    f"seed={SEED},500=0.04,429=0.03,409=0.03,slow=0.04,timeout=0.02,drop=0.3,"
    f"slow-seconds=0.1,timeout-seconds=0.1,drop-after=3,retry-after=1,users={OPERATOR_USER}"
)


def test_schedules_and_runs_converge_under_faults(
    fault_handle: SandboxHandle, fault_namespace: str, tmp_path: Path
) -> None:
    world = World(fault_handle, fault_namespace)
    faults = fault_handle.sandbox.faults
    faults.configure(parse_spec(FAULTS))
    operator = Operator.of(fault_handle, fault_namespace, tmp_path, RESYNC)
    operator.start()
    try:
        rng = random.Random(SEED)
        planned = {f"s{i:03d}": planned_schedule(f"s{i:03d}", rng) for i in range(SCHEDULES)}
        for plan in planned.values():
            world.create(GROUP, "archiveschedules", plan.body)
        schedules_took = converge(
            lambda: schedule_problems(world, planned), f"{SCHEDULES} schedules", timeout=120
        )
        runs = [f"run-{k:02d}" for k in range(RUNS)]
        for k, name in enumerate(runs):
            world.create(GROUP, "archiveruns", manual_run(name, f"s{k % 6:03d}", k + 1))
        runs_took = converge(lambda: run_problems(world, runs), f"{RUNS} runs", timeout=90)
        missing_counts = [
            r["metadata"]["name"]
            for r in world.runs()
            if (r.get("status") or {}).get("archived") != 1
        ]
        assert operator.alive, operator.logs()[-3000:]
        assert duplicate_jobs(world) == []
        stats = faults.stats()
        faults.disable()
        # Every kind asked for was injected and survived.
        assert all(stats["injected"][kind] > 0 for kind in parse_spec(FAULTS).rules[0].rates)
        # Nothing half-done is left behind: with faults off the state stays right.
        assert schedule_problems(world, planned) == []
        report = {
            "seed": SEED,
            "schedules": SCHEDULES,
            "cronjobs": sum(len(p.cronjobs) for p in planned.values()),
            "runs": RUNS,
            "schedules_converged_seconds": round(schedules_took, 1),
            "runs_converged_seconds": round(runs_took, 1),
            "operator_requests": stats["requests"],
            "injected": stats["injected"],
            "runs_without_counts": missing_counts,
        }
        print("FAULT REPORT", json.dumps(report))
    finally:
        operator.stop()


def test_run_counts_survive_a_slow_job_list(
    fault_handle: SandboxHandle, fault_namespace: str, tmp_path: Path
) -> None:
    """Every Job list answers 1.25-2.5 s late (a slow API server): the run ends meanwhile."""
    world = World(fault_handle, fault_namespace)
    fault_handle.sandbox.faults.configure(
        parse_spec(f"slow=1,verbs=list,resources=jobs,slow-seconds=2.5,users={OPERATOR_USER}")
    )
    operator = Operator.of(fault_handle, fault_namespace, tmp_path, RESYNC)
    operator.start()
    try:
        plan = planned_schedule("slow", random.Random(SEED))
        world.create(GROUP, "archiveschedules", plan.body)
        converge(lambda: schedule_problems(world, {"slow": plan}), "schedule", timeout=30)
        world.create(GROUP, "archiveruns", manual_run("slow-run", "slow", 1))
        converge(lambda: run_problems(world, ["slow-run"]), "run", timeout=40)
    finally:
        operator.stop()


# Requests held past the operator's timeout (with and without the write done), answers cut
# mid-body, and watches that lag or never start. A held request is cut by the server only
# after 300 s, longer than the test: only the operator's own timeouts (settings.py,
# API_TIMEOUT_SECONDS, WATCH_TIMEOUT_SECONDS) get it going again; with kopf's defaults (a
# request may take 5 minutes, a watch has no bound) it does not converge in time.
API_TIMEOUT = float(os.environ.get("FAULT_API_TIMEOUT", "1.5"))
WATCH_TIMEOUT = 8.0
HANG_FAULTS = (  # the first rule a request matches decides: watches first
    f"seed={SEED},hang=0.1,lag=0.3,verbs=watch,hang-seconds=300,lag-seconds=0.5,"
    f"users={OPERATOR_USER};hang=0.03,hang-applied=0.03,reset=0.04,users={OPERATOR_USER}"
)


def test_converges_through_hangs_resets_and_lagging_watches(
    fault_handle: SandboxHandle, fault_namespace: str, tmp_path: Path
) -> None:
    world = World(fault_handle, fault_namespace)
    faults = fault_handle.sandbox.faults
    faults.configure(parse_spec(HANG_FAULTS))
    operator = Operator.of(
        fault_handle,
        fault_namespace,
        tmp_path,
        RESYNC,
        env={
            "ARCHIVE_OPERATOR_API_TIMEOUT_SECONDS": str(API_TIMEOUT),
            "ARCHIVE_OPERATOR_WATCH_TIMEOUT_SECONDS": str(WATCH_TIMEOUT),
        },
    )
    operator.start()
    try:
        rng = random.Random(SEED)
        planned = {f"h{i:02d}": planned_schedule(f"h{i:02d}", rng) for i in range(20)}
        for plan in planned.values():
            world.create(GROUP, "archiveschedules", plan.body)
        schedules_took = converge(
            lambda: schedule_problems(world, planned), "20 schedules", timeout=150
        )
        runs = [f"hung-{k}" for k in range(6)]
        for k, name in enumerate(runs):
            world.create(GROUP, "archiveruns", manual_run(name, f"h{k % 3:02d}", k + 1))
        runs_took = converge(lambda: run_problems(world, runs), "6 runs", timeout=150)
        assert operator.alive, operator.logs()[-3000:]
        stats = faults.stats()
        faults.disable()
        for kind in ("hang", "hang-applied", "reset", "lag"):
            assert stats["injected"][kind] > 0, stats
        assert schedule_problems(world, planned) == []
        print(
            "HANG REPORT",
            json.dumps(
                {
                    "seed": SEED,
                    "schedules_converged_seconds": round(schedules_took, 1),
                    "runs_converged_seconds": round(runs_took, 1),
                    "operator_requests": stats["requests"],
                    "injected": stats["injected"],
                }
            ),
        )
    finally:
        operator.stop()
