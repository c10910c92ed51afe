"""The operator SIGKILLed at seeded, exact points during reconciliation and during runs, ten
times in a row: after each restart it converges, with no duplicate Job, no second runner
execution and no lost run.

The kill points are exact request boundaries (the sandbox's gate, sandbox/archive_sandbox/
gate.py): the k-th write of the round held before it is carried out ("sent, not answered"),
carried out with its answer held ("applied, not answered"), or answered with the operator's next
request held ("answered, not yet recorded"); the operator is killed while it waits, and the held
request's connection is then cut."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest
from archive_sandbox.gate import GatePoint

from tests.fixtures.sandbox import SandboxHandle

from .conftest import SEED
from .harness import (
    GROUP,
    OPERATOR_USER,
    Operator,
    PlannedSchedule,
    World,
    converge,
    duplicate_jobs,
    manual_run,
    planned_schedule,
    run_problems,
    schedule_problems,
)

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("FAULT_ROUNDS", "10"))
RESYNC = 2.0
# What the kill waits for: the k-th write of the operator to these resources in the round.
RECONCILE_WRITES = frozenset({"cronjobs", "archiveschedules", "events"})
RUN_WRITES = frozenset({"jobs", "archiveruns"})
KILL_POINTS = ("before", "applied", "after")


def test_killed_ten_times_it_converges_each_time(
    fault_handle: SandboxHandle, fault_namespace: str, tmp_path: Path
) -> None:
    world = World(fault_handle, fault_namespace)
    operator = Operator.of(fault_handle, fault_namespace, tmp_path, RESYNC)
    gate = fault_handle.sandbox.gate
    rng = random.Random(SEED)
    planned: dict[str, PlannedSchedule] = {}
    runs: list[str] = []
    kills = []
    operator.start()
    try:
        for round_ in range(ROUNDS):
            during_runs = round_ % 2 == 1
            # Kill at the k-th write to the chosen kind of resource, at one of the three points.
            target = rng.randint(1, 4 if during_runs else 8)
            where = KILL_POINTS[round_ % 3]
            watched = RUN_WRITES if during_runs else RECONCILE_WRITES
            gate.arm(GatePoint(OPERATOR_USER, watched, target, where))
            # The round's changes: new schedules, one edited, two manual runs.
            for i in range(2):
                name = f"k{round_}-{i}"
                planned[name] = planned_schedule(name, rng)
                world.create(GROUP, "archiveschedules", planned[name].body)
            if round_ > 0:
                edited = rng.choice(sorted(planned))
                planned[edited] = planned_schedule(edited, rng)
                world.patch(
                    GROUP, "archiveschedules", edited, {"spec": planned[edited].body["spec"]}
                )
            for i in range(2):
                name = f"r{round_}-{i}"
                schedule = rng.choice(sorted(planned))
                world.create(GROUP, "archiveruns", manual_run(name, schedule, round_ + i + 1))
                runs.append(name)
            assert gate.wait_held(timeout=30), f"round {round_}: write #{target} never came"
            operator.kill()
            gate.release("drop")  # the held request dies with its client
            kills.append(
                {
                    "round": round_,
                    "during": "runs" if during_runs else "reconciliation",
                    "write": target,
                    "point": where,
                    "held": gate.held_request,
                }
            )
            assert duplicate_jobs(world) == []
            operator.start()
            started = time.monotonic()
            converge(lambda: schedule_problems(world, planned), f"round {round_}", timeout=40)
            converge(lambda: run_problems(world, runs), f"round {round_} runs", timeout=40)
            kills[-1]["converged_seconds"] = round(time.monotonic() - started, 1)
            assert operator.alive
        print("KILL REPORT", json.dumps({"seed": SEED, "kills": kills, "runs": len(runs)}))
    finally:
        operator.stop()
