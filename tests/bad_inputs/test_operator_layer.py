"""What only the operator can know: accepted by the API, refused by the operator with a
condition (or run phase) naming the field and one Warning Event; and then it stays quiet — no
crash, no hot loop (its requests counted over a settle period)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    GROUP,
    Operator,
    World,
    operator_kubeconfig,
    planned_schedule,
    wait_until,
)
from tests.fixtures.sandbox import SandboxHandle

from .corpus import FileCase, operator_cases

pytestmark = pytest.mark.slow

CASES = operator_cases()
RESYNC = 1.0


@pytest.fixture(scope="module")
def running_operator(
    bad_handle: SandboxHandle, bad_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    import random

    world = World(bad_handle, bad_namespace)
    alice = planned_schedule("alice", random.Random(1))
    world.create(GROUP, "archiveschedules", alice.body)  # the schedule the run cases name
    operator = Operator(
        operator_kubeconfig(bad_handle, bad_namespace),
        bad_namespace,
        tmp_path_factory.mktemp("operator") / "operator.log",
        RESYNC,
    )
    operator.start()
    yield operator
    operator.stop()


def _verdict(world: World, case: FileCase) -> tuple[str, str, str] | None:
    """(reason, message, phase or Ready status) once the operator has judged the object."""
    name = case.doc["metadata"]["name"]
    objects = world.runs() if case.kind == "ArchiveRun" else world.schedules()
    obj = next((o for o in objects if o["metadata"]["name"] == name), None)
    status: dict[str, Any] = (obj or {}).get("status") or {}
    if case.kind == "ArchiveRun":
        if status.get("reason"):
            return status["reason"], status.get("message", ""), status.get("phase", "")
        return None
    ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
    return (ready["reason"], ready["message"], ready["status"]) if ready else None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_operator_refuses_with_condition_and_event(
    case: FileCase, running_operator: Operator, bad_handle: SandboxHandle, bad_namespace: str
) -> None:
    world = World(bad_handle, bad_namespace)
    bad_handle.kubectl("apply", "-f", str(case.path), namespace=bad_namespace)  # API accepts
    found: list[tuple[str, str, str]] = []
    wait_until(lambda: bool(v := _verdict(world, case)) and not found.append(v), case.name, 20)
    reason, message, state = found[0]
    assert reason == case.header["reason"]
    assert message.startswith(case.header["field"] + ":"), message
    assert case.header["message"] in message
    assert state == case.header.get("phase", "False")
    name = case.doc["metadata"]["name"]
    event = case.header.get("event", reason)  # a failed run's Event is RunFailed
    wait_until(
        lambda: any(
            e["involvedObject"]["name"] == name
            and e["reason"] == event
            and e["type"] == "Warning"
            and case.header["field"] in e["message"]
            for e in world.list("", "events")
        ),
        f"a Warning Event {event} on {name}",
        10,
    )
    assert running_operator.alive


def test_no_crash_and_no_hot_loop_after_the_corpus(
    running_operator: Operator, bad_handle: SandboxHandle, bad_namespace: str
) -> None:
    """Over a settle period the operator writes nothing and only reads at the resync pace."""
    world = World(bad_handle, bad_namespace)
    schedules = len(world.schedules())
    deadline = time.monotonic() + 30
    while True:  # let the last judgements and their events land
        mark = bad_handle.requests.mark()
        wait_until(lambda m=mark: _resyncs(world, m) >= 2, "two resyncs", 15)  # type: ignore[misc]
        writes = [r for r in world.operator_requests(mark) if r.is_write]
        if not writes or time.monotonic() > deadline:
            break
    assert writes == [], [(r.verb, r.resource, r.name) for r in writes]
    mark = bad_handle.requests.mark()
    started = time.monotonic()
    wait_until(lambda: _resyncs(world, mark) >= 3, "three resyncs", 20)
    reads = len(world.operator_requests(mark))
    elapsed = time.monotonic() - started
    # A resync reads each schedule, its runs, Jobs, pods and CronJobs: 5 per schedule, plus the
    # list; a hot loop would be far above. Allow one more resync started in the window.
    assert reads <= 4 * (5 * schedules + 1), (reads, schedules)
    assert running_operator.alive
    print(f"SETTLE {reads} reads in {elapsed:.1f}s for {schedules} schedules, 0 writes")
    Path(bad_handle.workdir / "settle.txt").write_text(f"{reads} {elapsed:.1f} {schedules}\n")


def _resyncs(world: World, mark: int) -> int:
    return sum(
        1
        for r in world.operator_requests(mark)
        if r.verb == "list"
        and r.resource == "archiveschedules"
        and not r.user_agent.startswith("kopf")
    )
