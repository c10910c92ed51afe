"""One measured run of each kind, on a fresh `archive-sandbox serve` each (see scale.py)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import manifests
from .harness import (
    BENCH_USER_AGENT,
    OperatorProcess,
    ProcStats,
    Profiler,
    SandboxProcess,
    Watcher,
    api_client,
    create_namespace,
    post,
    wait_for_watches,
    wait_until,
)

NAMESPACE = "bench"
SANDBOX_ARGS: tuple[str, ...] = ()
KOPF_AGENT = "kopf/"
KUBE_AGENT = "OpenAPI-Generator/"  # the operator's own calls (kube.py, the `kubernetes` client)
SCHEDULES_PATH = f"/apis/archive.auriora.io/v1alpha1/namespaces/{NAMESPACE}/archiveschedules"
CRONJOBS_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs"
TIMEOUT = 1800.0
QUIET_SECONDS = 3.0


@dataclass
class BaselineRun:
    seconds: float
    sandbox_cpu: float
    requests: int


@dataclass
class OperatorRun:
    seconds: float
    settled_seconds: float  # until the operator made no request for QUIET_SECONDS
    apply_seconds: float
    sandbox_cpu: float  # CPU seconds until done (not until quiet)
    operator_cpu: float
    peak_rss_kib: int
    requests_by_agent: Counter[str]
    verbs: Counter[str]
    writes: Counter[str]
    resync: dict[str, Any] = field(default_factory=dict)


def _agent(user_agent: str) -> str:
    for prefix, label in (
        (KOPF_AGENT, "kopf"),
        (KUBE_AGENT, "operator"),
        (BENCH_USER_AGENT, "bench"),
    ):
        if user_agent.startswith(prefix):
            return label
    return user_agent or "?"


def _is_operator(record: dict[str, Any]) -> bool:
    return _agent(record["user_agent"]) in ("kopf", "operator")


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def count_at_least(count: int, ready: bool = False) -> Any:
    def complete(objects: dict[str, dict[str, Any]]) -> bool:
        if ready:
            return sum(1 for o in objects.values() if _ready(o)) >= count
        return len(objects) >= count

    return complete


def start_sandbox(workdir: Path, env: dict[str, str] | None = None) -> tuple[SandboxProcess, Any]:
    sandbox = SandboxProcess(workdir, SANDBOX_ARGS, env)
    sandbox.start()
    try:
        client = api_client(sandbox.kubeconfig)
        create_namespace(client, NAMESPACE)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, client


def run_baseline(count: int, workdir: Path, sandbox_env: dict[str, str]) -> BaselineRun:
    """The N CronJobs POSTed one after another; until a watch has seen them all."""
    bodies = manifests.cronjobs(manifests.schedules(count, NAMESPACE), manifests.bench_settings())
    return _post_all(bodies, CRONJOBS_PATH, workdir, sandbox_env)


def run_floor(count: int, workdir: Path, sandbox_env: dict[str, str]) -> BaselineRun:
    """The N ArchiveSchedules POSTed with no operator running (what the operator scenario's
    own client costs: the CRD's schema and CEL rules); until a watch has seen them all."""
    return _post_all(manifests.schedules(count, NAMESPACE), SCHEDULES_PATH, workdir, sandbox_env)


def _post_all(
    bodies: list[dict[str, Any]], path: str, workdir: Path, sandbox_env: dict[str, str]
) -> BaselineRun:
    sandbox, client = start_sandbox(workdir, sandbox_env)
    try:
        watcher = Watcher(sandbox.kubeconfig, path, count_at_least(len(bodies)))
        watcher.start()
        time.sleep(0.5)  # the watch is open before the clock starts
        cpu = ProcStats(sandbox.pid)
        cpu_before, mark = cpu.cpu_seconds(), sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, path, body)
        seconds = watcher.wait(TIMEOUT) - started
        return BaselineRun(
            seconds=seconds,
            sandbox_cpu=cpu.cpu_seconds() - cpu_before,
            requests=len(sandbox.requests_since(mark)),
        )
    finally:
        sandbox.stop()


def run_operator(
    count: int,
    workdir: Path,
    operator_env: dict[str, str],
    sandbox_env: dict[str, str],
    resync_seconds: float | None = None,
    profile: Path | None = None,
) -> OperatorRun:
    """The operator already watching; N schedules POSTed; until all CronJobs exist and all
    schedules are Ready, then until the operator goes quiet."""
    bodies = manifests.schedules(count, NAMESPACE)
    sandbox, client = start_sandbox(workdir, sandbox_env)
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator.log", operator_env)
    try:
        mark = sandbox.mark()
        operator.start()
        wait_for_watches(sandbox, mark, {"archiveschedules", "cronjobs"}, KOPF_AGENT, 120)
        schedules = Watcher(sandbox.kubeconfig, SCHEDULES_PATH, count_at_least(count, ready=True))
        cronjobs = Watcher(sandbox.kubeconfig, CRONJOBS_PATH, count_at_least(count))
        schedules.start()
        cronjobs.start()
        time.sleep(0.5)
        sandbox_cpu, operator_cpu = ProcStats(sandbox.pid), ProcStats(operator.pid)
        cpu_before = (sandbox_cpu.cpu_seconds(), operator_cpu.cpu_seconds())
        profilers = _profilers(profile, sandbox.pid, operator.pid)
        mark = sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, SCHEDULES_PATH, body)
        applied = time.monotonic()
        done = max(schedules.wait(TIMEOUT), cronjobs.wait(TIMEOUT))
        cpu_done = (sandbox_cpu.cpu_seconds(), operator_cpu.cpu_seconds())
        for profiler in profilers:
            profiler.stop()
        if not operator.alive():
            raise RuntimeError(f"the operator exited; see {operator.log_path}")
        settled = wait_quiet(sandbox) - started
        records = sandbox.requests_since(mark)
        operator_records = [r for r in records if _is_operator(r)]
        run = OperatorRun(
            seconds=done - started,
            settled_seconds=settled,
            apply_seconds=applied - started,
            sandbox_cpu=cpu_done[0] - cpu_before[0],
            operator_cpu=cpu_done[1] - cpu_before[1],
            peak_rss_kib=operator_cpu.memory_kib("VmHWM"),
            requests_by_agent=Counter(_agent(r["user_agent"]) for r in records),
            verbs=Counter(
                f"{r['verb']} {r['resource']}{'/' + r['subresource'] if r['subresource'] else ''}"
                for r in operator_records
            ),
            writes=Counter(r["verb"] for r in operator_records if r["is_write"]),
        )
        _check_same_cronjobs(cronjobs.objects, bodies)
        if resync_seconds is not None:
            operator.stop()
            run.resync = measure_noop_resync(sandbox, count, workdir, resync_seconds, operator_env)
        return run
    finally:
        operator.stop()
        sandbox.stop()


def _profilers(directory: Path | None, sandbox_pid: int, operator_pid: int) -> list[Profiler]:
    if directory is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    return [
        Profiler(sandbox_pid, directory / "sandbox.txt"),
        Profiler(operator_pid, directory / "operator.txt"),
    ]


def wait_quiet(sandbox: SandboxProcess) -> float:
    """When the last API request was seen, once there has been none for `QUIET_SECONDS` (the
    work the operator queued, e.g. events about its own writes, is done). Only the operator
    makes requests by then; the request log's mark counts them without fetching the log."""
    last_count, last_change = -1, time.monotonic()
    while True:
        count = sandbox.mark()
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        elif now - last_change >= QUIET_SECONDS:
            return last_change
        if now - last_change > TIMEOUT:
            raise TimeoutError("the operator never went quiet")
        time.sleep(0.25)


def _check_same_cronjobs(actual: dict[str, dict[str, Any]], bodies: list[dict[str, Any]]) -> None:
    """The baseline must create what the operator creates: compare the specs once."""
    expected = manifests.cronjobs(bodies, manifests.bench_settings())
    for manifest in expected:
        got = actual[manifest["metadata"]["name"]]["spec"]
        want = manifest["spec"]
        if any(got.get(key) != value for key, value in want.items() if key != "jobTemplate"):
            raise AssertionError(f"{manifest['metadata']['name']}: operator {got} != {want}")


def measure_noop_resync(
    sandbox: SandboxProcess,
    count: int,
    workdir: Path,
    resync_seconds: float,
    operator_env: dict[str, str],
) -> dict[str, Any]:
    """Restart the operator (a no-op resume of every schedule), then wait for one full resync
    round (a cluster-wide LIST, then one reconcile per schedule); count what each wrote."""
    env = {**operator_env, "ARCHIVE_OPERATOR_RESYNC_SECONDS": str(resync_seconds)}
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator-restart.log", env)
    mark = sandbox.mark()
    operator.start()
    try:

        def resync_round() -> tuple[int, list[dict[str, Any]]] | None:
            records = sandbox.requests_since(mark)
            starts = [
                i
                for i, r in enumerate(records)
                if _agent(r["user_agent"]) == "operator"
                and r["verb"] == "list"
                and r["resource"] == "archiveschedules"
                and not r["namespace"]
            ]
            if not starts:
                return None
            after = records[starts[0] :]
            gets = [
                r
                for r in after
                if _agent(r["user_agent"]) == "operator"
                and r["verb"] == "get"
                and r["resource"] == "archiveschedules"
            ]
            return (starts[0], records) if len(gets) >= count else None

        started = time.monotonic()
        start_index, records = wait_until(resync_round, "one full resync round", TIMEOUT, 0.5)
        resync_records = [r for r in records[start_index:] if _is_operator(r)]
        resume_records = [r for r in records[:start_index] if _is_operator(r)]
        return {
            "resume_requests": len(resume_records),
            "resume_writes": sum(1 for r in resume_records if r["is_write"]),
            "resync_requests": len(resync_records),
            "resync_writes": sum(1 for r in resync_records if r["is_write"]),
            "resync_verbs": Counter(f"{r['verb']} {r['resource']}" for r in resync_records),
            "seconds_to_round_end": time.monotonic() - started,
            "peak_rss_kib": ProcStats(operator.pid).memory_kib("VmHWM"),
        }
    finally:
        operator.stop()
