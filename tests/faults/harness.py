"""The fault tests' world: a sandbox of their own, the operator as a real kopf subprocess under
its own identity (so faults can target it alone), seeded schedules and runs, convergence checks.

The test side reads and writes through the sandbox's in-process store, never over HTTP, so it
never meets an injected fault; everything the operator does goes over HTTP.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from archive_sandbox.app import Sandbox
from archive_sandbox.auth import Users
from archive_sandbox.controllers.workloads import RUNNER_RULE
from archive_sandbox.kubeconfig import write_kubeconfig
from archive_sandbox.kubelet_spec import ImageRule

from tests.fixtures.processes import ChildProcess
from tests.fixtures.sandbox import SandboxHandle

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = str(Path(sys.executable).parent / "archive-operator")
OPERATOR_USER = "fault-operator"
OPERATOR_TOKEN = "fault-operator-token"
GROUP, VERSION = "archive.auriora.io", "v1alpha1"
RUNNER_IMAGE = "fault-runner:test"
# The sandbox clock is real time, like the operator's (a skew would make the operator see
# missed runs); schedule times are kept two hours or more away from now, so none fires.
ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- the sandbox ------------------------------------------------------------------------------


def ledger_path(workdir: Path) -> Path:
    """Where the fake runner records each execution (fake_runner.py)."""
    return workdir / "runner-executions.jsonl"


def runner_executions(handle: SandboxHandle) -> Counter[str]:
    """Runner executions per run id, as the fake runner recorded them. Run names are unique
    within one fault sandbox (each test names its own runs)."""
    path = ledger_path(handle.workdir)
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(json.loads(line)["run_id"] for line in lines)


@contextmanager
def fault_sandbox(workdir: Path) -> Iterator[SandboxHandle]:
    """A sandbox with the CRDs, the operator's user and the fake runner image."""
    users = Users()
    users.add(OPERATOR_TOKEN, OPERATOR_USER)
    sandbox = Sandbox(users=users, bookmark_interval=1.0)
    fake = ImageRule(
        image="fault-runner",
        entrypoint=(sys.executable, str(Path(__file__).parent / "fake_runner.py")),
        working_dir="/tmp",
        env={"FAKE_RUNNER_SECONDS": "0.3", "FAKE_RUNNER_LEDGER": str(ledger_path(workdir))},
    )
    sandbox.workloads.images = [fake, RUNNER_RULE]
    sandbox.start_in_thread()
    try:
        handle = SandboxHandle(sandbox, workdir)
        handle.apply_crds(*sorted((ROOT / "crds").glob("*.yaml")))
        yield handle
    finally:
        sandbox.stop_thread()


def operator_kubeconfig(handle: SandboxHandle, namespace: str) -> Path:
    return write_kubeconfig(
        handle.workdir / f"operator-{namespace}.kubeconfig",
        handle.url,
        token=OPERATOR_TOKEN,
        namespace=namespace,
    )


class World:
    """One namespace of a fault sandbox: objects in and out through the in-process store."""

    def __init__(self, handle: SandboxHandle, namespace: str) -> None:
        self.handle = handle
        self.namespace = namespace
        self.store = handle.store

    def _rt(self, group: str, plural: str) -> Any:
        return self.store.resource(group, plural)

    def list(self, group: str, plural: str) -> list[dict[str, Any]]:
        result = self.handle.call(self.store.list(self._rt(group, plural), self.namespace))
        return list(result["items"])

    def create(self, group: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        created = self.handle.call(self.store.create(self._rt(group, plural), self.namespace, body))
        return dict(created)

    def patch(self, group: str, plural: str, name: str, patch: dict[str, Any]) -> None:
        rt = self._rt(group, plural)
        self.handle.call(self.store.patch(rt, self.namespace, name, "merge", patch))

    def schedules(self) -> list[dict[str, Any]]:
        return self.list(GROUP, "archiveschedules")

    def runs(self) -> list[dict[str, Any]]:
        return self.list(GROUP, "archiveruns")

    def cronjobs(self) -> list[dict[str, Any]]:
        return self.list("batch", "cronjobs")

    def jobs(self) -> list[dict[str, Any]]:
        return self.list("batch", "jobs")

    def operator_requests(self, mark: int) -> list[Any]:
        return [
            r
            for r in self.handle.requests.since(mark)
            if r.user == OPERATOR_USER and r.namespace in ("", self.namespace)
        ]


# --- the operator -----------------------------------------------------------------------------


class Operator(ChildProcess):
    """`archive-operator run --standalone --namespace NS` as the operator's user."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        log_path: Path,
        resync: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self.extra_env = env or {}  # more ARCHIVE_OPERATOR_* settings
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.resync = resync
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @classmethod
    def of(
        cls,
        handle: SandboxHandle,
        namespace: str,
        workdir: Path,
        resync: float,
        env: dict[str, str] | None = None,
    ) -> Operator:
        """The operator of ``namespace`` as its user (not started), logging to workdir."""
        kubeconfig = operator_kubeconfig(handle, namespace)
        return cls(kubeconfig, namespace, workdir / "operator.log", resync, env)

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": RUNNER_IMAGE,
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": str(self.resync),
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [OPERATOR, "run", "--standalone", "--namespace", self.namespace],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


# --- seeded inputs and expectations -----------------------------------------------------------


@dataclass(frozen=True)
class PlannedSchedule:
    name: str
    body: dict[str, Any]
    cronjobs: dict[str, str]  # CronJob name -> cron
    time_zone: str


def planned_schedule(name: str, rng: random.Random) -> PlannedSchedule:
    """1-3 entries (daily, weekly, cron) at times two hours or more from now, in a random zone."""
    zone = rng.choice(ZONES)
    now_hour = datetime.now(UTC).astimezone(ZoneInfo(zone)).hour
    hours = [h for h in range(24) if min((h - now_hour) % 24, (now_hour - h) % 24) >= 2]
    entries: list[dict[str, Any]] = []
    cronjobs: dict[str, str] = {}
    for index in range(rng.randint(1, 3)):
        hour, minute = rng.choice(hours), rng.randint(0, 59)
        kind = rng.choice(("daily", "weekly", "cron"))
        entry_name = f"e{index}-{kind}"
        if kind == "daily":
            entries.append({"name": entry_name, "daily": {"at": f"{hour:02d}:{minute:02d}"}})
            cron = f"{minute} {hour} * * *"
        elif kind == "weekly":
            days = sorted(rng.sample(range(7), rng.randint(1, 3)))
            entries.append(
                {
                    "name": entry_name,
                    "weekly": {
                        "days": [WEEKDAYS[d] for d in days],
                        "at": f"{hour:02d}:{minute:02d}",
                    },
                }
            )
            numbers = sorted((d + 1) % 7 for d in days)  # cron: sun=0, mon=1, ...
            cron = f"{minute} {hour} * * {','.join(map(str, numbers))}"
        else:
            cron = f"{minute} {hour} * * 1-5"
            entries.append({"name": entry_name, "cron": cron})
        cronjobs[f"{name}-{entry_name}"] = cron
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ArchiveSchedule",
        "metadata": {"name": name},
        "spec": {
            "user": f"{name}@example.com",
            "timeZone": zone,
            "schedules": entries,
            "source": {"caldav": {"url": f"https://cal.example.com/dav/{name}/calendar/"}},
            "destination": {"caldav": {"url": f"https://cal.example.com/dav/{name}/archive/"}},
        },
    }
    return PlannedSchedule(name, body, cronjobs, zone)


def manual_run(name: str, schedule: str, day: int) -> dict[str, Any]:
    start = f"2024-03-{day:02d}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ArchiveRun",
        "metadata": {"name": name},
        "spec": {"scheduleRef": {"name": schedule}, "start": start, "end": start},
    }


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def _controller_uid(obj: dict[str, Any]) -> str | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r["uid"] for r in refs if r.get("controller")), None)


def schedule_problems(world: World, planned: dict[str, PlannedSchedule]) -> list[str]:
    """What is not yet right about the schedules and their CronJobs (empty: converged)."""
    problems: list[str] = []
    by_name = {s["metadata"]["name"]: s for s in world.schedules()}
    cronjobs: dict[str, list[dict[str, Any]]] = {}
    for cj in world.cronjobs():
        cronjobs.setdefault(cj["metadata"]["name"], []).append(cj)
    for name, plan in planned.items():
        obj = by_name.get(name)
        if obj is None:
            problems.append(f"{name}: missing")
            continue
        ready = _condition(obj, "Ready")
        if ready is None or ready["status"] != "True":
            problems.append(f"{name}: Ready={ready and ready['status']}")
        observed = (obj.get("status") or {}).get("observedGeneration")
        if observed != obj["metadata"]["generation"]:
            problems.append(f"{name}: observedGeneration {observed}")
        owned = {
            cj["metadata"]["name"]
            for items in cronjobs.values()
            for cj in items
            if _controller_uid(cj) == obj["metadata"]["uid"]
        }
        if owned != set(plan.cronjobs):
            problems.append(f"{name}: CronJobs {sorted(owned)} != {sorted(plan.cronjobs)}")
        for cj_name, cron in plan.cronjobs.items():
            for cj in cronjobs.get(cj_name, []):
                spec = cj["spec"]
                if (spec["schedule"], spec.get("timeZone")) != (cron, plan.time_zone):
                    problems.append(f"{cj_name}: {spec['schedule']} {spec.get('timeZone')}")
    return problems


def run_problems(world: World, runs: list[str]) -> list[str]:
    """What is not yet right about the runs: Succeeded, one Job each, its counts recorded,
    and the runner executed exactly once for each (a second execution is never right: the
    fake runner always succeeds, so no retry is due)."""
    problems: list[str] = []
    executed = runner_executions(world.handle)
    by_name = {r["metadata"]["name"]: r for r in world.runs()}
    jobs_of: dict[str, list[str]] = {}
    for job in world.jobs():
        uid = _controller_uid(job)
        if uid:
            jobs_of.setdefault(uid, []).append(job["metadata"]["name"])
    for name in runs:
        run = by_name.get(name)
        if run is None:
            problems.append(f"run {name}: lost")
            continue
        status = run.get("status") or {}
        jobs = jobs_of.get(run["metadata"]["uid"], [])
        if len(jobs) > 1:
            problems.append(f"run {name}: DUPLICATE Jobs {jobs}")
        if executed[name] > 1:
            problems.append(f"run {name}: DUPLICATE runner executions: {executed[name]}")
        if status.get("phase") == "Succeeded" and executed[name] == 0:
            problems.append(f"run {name}: Succeeded, but the runner never executed for it")
        if status.get("phase") != "Succeeded":
            problems.append(f"run {name}: phase {status.get('phase')} ({status.get('reason')})")
        elif jobs != [status.get("jobName")] or status.get("archived") != 1:
            problems.append(f"run {name}: jobs {jobs}, status {status}")
    return problems


def duplicate_jobs(world: World) -> list[str]:
    """Runs with more than one Job (checked on its own so a test can assert it at any moment)."""
    seen: dict[str, list[str]] = {}
    for job in world.jobs():
        uid = _controller_uid(job)
        if uid:
            seen.setdefault(uid, []).append(job["metadata"]["name"])
    return [f"{uid}: {names}" for uid, names in seen.items() if len(names) > 1]


def converge(check: Callable[[], list[str]], what: str, timeout: float) -> float:
    """Poll ``check`` until it finds no problem; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    problems = check()
    while problems:
        if time.monotonic() > deadline:
            shown = "\n  ".join(problems[:8])
            raise AssertionError(
                f"{what}: not converged after {timeout:.0f}s; {len(problems)} problems:\n  {shown}"
            )
        time.sleep(0.2)
        problems = check()
        if os.environ.get("FAULT_DEBUG"):
            print(f"{time.monotonic() - started:5.1f}s {what}: {problems[:3]}")
    return time.monotonic() - started


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
